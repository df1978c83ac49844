#include "cluster/share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

#define KEY_RDS "cluster:rds"

typedef struct Share {
    char self[64];
    ShareDone cb;
    void *ud;
} Share;

static const json_t *server_of(const json_t *local, const DatabaseConfig *db)
{
    char id[300];
    snprintf(id, sizeof id, "%s:%lld", db->host, db->port);
    size_t i;
    const json_t *s;
    json_array_foreach(local, i, s) if (jsonutil_str(s, "id") &&
                                        strcmp(jsonutil_str(s, "id"), id) == 0) return s;
    return NULL;
}

/* the part of the shard of a database, made on first use (borrowed) */
static json_t *part_of(json_t *parts, const char *database_id)
{
    char key[16];
    snprintf(key, sizeof key, "%u", cluster_shard_of(database_id));
    json_t *part = json_object_get(parts, key);
    if (!part)
        json_object_set_new(parts, key, part = json_pack("{s:[], s:{}}", "servers", "health"));
    return part;
}

/* shard -> {"servers": [...], "health": {...}} of what this instance polls */
static json_t *parts_of(const Registry *reg, const json_t *local)
{
    json_t *parts = json_object();
    size_t cap = registry_count(reg) + 1;
    PgTarget **t = xcalloc(cap, sizeof *t);
    size_t n = registry_servers(reg, t, cap);
    for (size_t i = 0; i < n; i++) {
        const DatabaseConfig *db = pgtarget_config(t[i]);
        const json_t *snap = server_of(local, db);
        if (snap)
            json_array_append(json_object_get(part_of(parts, db->id), "servers"),
                              jsonutil_unconst(snap));
    }
    n = registry_targets(reg, t, cap);
    for (size_t i = 0; i < n; i++) {
        const DatabaseConfig *db = pgtarget_config(t[i]);
        if (pgtarget_polling(t[i]))
            json_object_set_new(json_object_get(part_of(parts, db->id), "health"), db->id,
                                pgtarget_health_json(t[i]));
    }
    free(t);
    return parts;
}

static void read_back(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Share *s = ud;
    if (err != PGF_OK || json_array_size(reply) != CLUSTER_SHARDS + 1) {
        s->cb(s->ud, NULL, NULL, NULL);
        free(s);
        return;
    }
    json_t *servers = json_array(), *health = json_object(), *rds = NULL;
    for (size_t i = 0; i < CLUSTER_SHARDS; i++) {
        const char *text = json_string_value(json_array_get(reply, i));
        json_t *part = text ? json_loads(text, 0, NULL) : NULL;
        const char *who = jsonutil_str(part, "instance");
        if (who && strcmp(who, s->self) != 0) {
            size_t k;
            json_t *x;
            json_array_foreach(json_object_get(part, "servers"), k, x) if (json_is_object(x))
                json_array_append(servers, x);
            const char *id;
            json_object_foreach(json_object_get(part, "health"), id, x)
            {
                if (!json_is_object(x))
                    continue;
                json_object_set_new(x, "polled_by", json_string(who));
                json_object_set(health, id, x);
            }
        }
        json_decref(part);
    }
    const char *text = json_string_value(json_array_get(reply, CLUSTER_SHARDS));
    if (text)
        rds = json_loads(text, 0, NULL);
    s->cb(s->ud, servers, health, json_is_object(rds) ? rds : NULL);
    json_decref(rds);
    free(s);
}

void share_cycle(Cluster *c, const Registry *reg, Store *st, long ttl_ms, const json_t *local,
                 json_t *rds, ShareDone cb, void *ud)
{
    char at[32], key[48];
    jsonutil_now_rfc3339(at, sizeof at);
    json_t *parts = parts_of(reg, local);
    const char *shard;
    json_t *part;
    json_object_foreach(parts, shard, part)
    {
        int n = atoi(shard);
        if (!cluster_holds(c, (unsigned)n, NULL))
            continue;
        json_object_set_new(part, "instance", json_string(cluster_id(c)));
        json_object_set_new(part, "at", json_string(at));
        char *text = json_dumps(part, JSON_COMPACT);
        snprintf(key, sizeof key, "cluster:snapshot:%d", n);
        cluster_fenced_set(c, n, key, text, ttl_ms, NULL, NULL);
        free(text);
    }
    json_decref(parts);
    if (rds) {
        char *text = json_dumps(rds, JSON_COMPACT);
        cluster_fenced_set(c, CLUSTER_LEADER, KEY_RDS, text, ttl_ms * 4, NULL, NULL);
        free(text);
        json_decref(rds);
    }
    Share *s = xcalloc(1, sizeof *s);
    snprintf(s->self, sizeof s->self, "%s", cluster_id(c));
    s->cb = cb;
    s->ud = ud;
    const char *argv[CLUSTER_SHARDS + 2];
    char *keys[CLUSTER_SHARDS + 1];
    argv[0] = "MGET";
    for (int i = 0; i <= CLUSTER_SHARDS; i++) {
        if (i < CLUSTER_SHARDS)
            snprintf(key, sizeof key, "cluster:snapshot:%d", i);
        keys[i] = store_key(st, i < CLUSTER_SHARDS ? key : KEY_RDS);
        argv[i + 1] = keys[i];
    }
    store_call(st, read_back, s, CLUSTER_SHARDS + 2, argv);
    for (int i = 0; i <= CLUSTER_SHARDS; i++)
        free(keys[i]);
}
