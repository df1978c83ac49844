#include "registry/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "model/database.h"
#include "store/keys.h"

typedef struct Entry {
    PgTarget *t;
    /* entry_json as text, and what it was made from (the list answers reuse it) */
    char *text;
    size_t text_len;
    const PgTarget *text_t;
    uint64_t text_gen;
    bool text_polled;
    LogSource *file_logs; /* logs.file */
    LogSource *rds_logs;  /* logs.rds */
} Entry;

struct Registry {
    RegistryDeps deps;
    CredPolicy *policy;
    Entry **v; /* registration order */
    size_t n, cap;
    json_t *remote; /* id -> health as the instance that polls it saw it */
    uint64_t remote_gen;
    bool loaded, loading, closing;
    bool batch;     /* many records applied at once: new ones get probe routes after */
    long spread_ms; /* first probes of targets made now: spread over this long */
    int refs;       /* the owner, and each operation waiting on Redis or AWS */
};

static void unref(Registry *r)
{
    if (--r->refs > 0)
        return;
    credpolicy_free(r->policy);
    json_decref(r->remote);
    free(r->v);
    free(r);
}

/* ---- the live set ---- */

static Entry *find(const Registry *r, const char *id, size_t *at)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(pgtarget_config(r->v[i]->t)->id, id) == 0) {
            if (at)
                *at = i;
            return r->v[i];
        }
    return NULL;
}

static void on_health(void *ud, PgTarget *t, PgHealth old_state, PgHealth new_state)
{
    Registry *r = ud;
    const DatabaseConfig *db = pgtarget_config(t);
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "component", "database",
                             "database_id", db->id, "name", db->name, "from",
                             pg_health_name(old_state), "state", pg_health_name(new_state), "port",
                             (json_int_t)db->port, "health", pgtarget_health_json(t));
    publish(&r->deps.events, "health", json_incref(data));
    char topic[128];
    snprintf(topic, sizeof topic, "database:%s", db->id);
    publish(&r->deps.events, topic, data);
}

static bool owns(const Registry *r, const char *id)
{
    return !r->deps.owns || r->deps.owns(r->deps.owns_ud, id);
}

static PgTarget *start_target(Registry *r, const DatabaseConfig *db, bool polled)
{
    const Config *cfg = r->deps.cfg;
    PgTargetDeps deps = {.loop = r->deps.loop,
                         .aws = r->deps.aws,
                         .secrets = r->deps.secrets,
                         .policy = r->policy,
                         .ca_file = config_get(cfg, CFG_PG_CA_FILE),
                         .health_interval_ms = cfg->health_interval_seconds * 1000,
                         .degraded_ms = cfg->health_degraded_ms,
                         .connect_timeout_ms = cfg->pg_connect_timeout_ms,
                         .statement_timeout_ms = cfg->pg_statement_timeout_ms,
                         /* one connection per server: probes queue on it */
                         .pool_size = cfg->health_per_server ? 1 : (int)cfg->pg_pool_size,
                         .no_polling = !polled,
                         .first_probe_within_ms = r->spread_ms,
                         .on_health = on_health,
                         .ud = r};
    return pgtarget_new(db, &deps);
}

/* the database's log sources, replaced whenever its configuration is */
static void start_logs(Registry *r, Entry *e, const DatabaseConfig *db)
{
    logsource_free(e->file_logs);
    logsource_free(e->rds_logs);
    e->file_logs = e->rds_logs = NULL;
    if (!r->deps.on_log_event || !pgtarget_polling(e->t))
        return;
    char node[300];
    snprintf(node, sizeof node, "%s:%lld", db->host, db->port);
    LogSourceOptions o = {.loop = r->deps.loop,
                          .node = node,
                          .database_id = db->id,
                          .format = (LogFormatKind)db->log_format,
                          .cb = r->deps.on_log_event,
                          .ud = r->deps.log_ud};
    if (db->log_file) {
        o.path = db->log_file;
        o.allowed_dirs = config_get(r->deps.cfg, CFG_LOG_DIRS);
        o.poll_ms = r->deps.cfg->log_poll_ms;
        e->file_logs = logsource_new(&o);
    }
    if (db->log_rds) {
        o.path = NULL;
        o.aws = r->deps.aws;
        o.rds_instance_id = db->aws_rds_instance_id;
        o.format = LOGF_STDERR;
        o.poll_ms = r->deps.cfg->rds_log_poll_ms;
        e->rds_logs = logsource_new(&o);
    }
}

static void stop_entry(Entry *e)
{
    free(e->text);
    logsource_free(e->file_logs);
    logsource_free(e->rds_logs);
    pgtarget_free(e->t);
    free(e);
}

static void assign_vias(Registry *r);

static void put(Registry *r, const DatabaseConfig *db)
{
    Entry *e = find(r, db->id, NULL);
    PgTarget *old = e ? e->t : NULL;
    if (!e) {
        e = xcalloc(1, sizeof *e);
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 16;
            r->v = xrealloc(r->v, r->cap * sizeof *r->v);
        }
        r->v[r->n++] = e;
    }
    e->t = start_target(r, db, owns(r, db->id));
    start_logs(r, e, db);
    if (old || !r->batch)
        assign_vias(r); /* before the old target goes: others may probe through it */
    pgtarget_free(old);
}

void registry_reconcile(Registry *r)
{
    for (size_t i = 0; r && !r->closing && i < r->n; i++) {
        Entry *e = r->v[i];
        bool want = owns(r, pgtarget_config(e->t)->id);
        if (want == pgtarget_polling(e->t))
            continue;
        pgtarget_set_polling(e->t, want);
        start_logs(r, e, pgtarget_config(e->t));
    }
    if (r && !r->closing)
        assign_vias(r);
}

void registry_set_remote(Registry *r, json_t *health_by_id)
{
    json_decref(r->remote);
    r->remote = health_by_id;
    r->remote_gen++;
}

/* the health this instance knows: its own probes, else what the polling instance shared */
static json_t *health_json(const Registry *r, const Entry *e)
{
    if (pgtarget_polling(e->t))
        return pgtarget_health_json(e->t);
    const json_t *h = json_object_get(r->remote, pgtarget_config(e->t)->id);
    if (json_is_object(h))
        return json_deep_copy(h);
    return json_pack("{s:s, s:n, s:n, s:n, s:n}", "state", "unknown", "checked_at", "latency_ms",
                     "error", "server");
}

const char *registry_health_state(const Registry *r, const PgTarget *t)
{
    if (pgtarget_polling(t))
        return pg_health_name(pgtarget_health(t));
    const char *st = jsonutil_str(json_object_get(r->remote, pgtarget_config(t)->id), "state");
    return st ? st : "unknown";
}

static void drop(Registry *r, const char *id)
{
    size_t at;
    Entry *e = find(r, id, &at);
    if (!e)
        return;
    memmove(&r->v[at], &r->v[at + 1], (r->n - at - 1) * sizeof *r->v);
    r->n--;
    assign_vias(r);
    stop_entry(e);
}

Registry *registry_new(const RegistryDeps *deps)
{
    Registry *r = xcalloc(1, sizeof *r);
    r->deps = *deps;
    r->refs = 1;
    r->policy = credpolicy_new(config_get(deps->cfg, CFG_CREDENTIAL_ENV_ALLOW),
                               config_get(deps->cfg, CFG_SECRETS_PREFIX));
    return r;
}

void registry_free(Registry *r)
{
    if (!r)
        return;
    r->closing = true;
    for (size_t i = 0; i < r->n; i++)
        stop_entry(r->v[i]);
    r->n = 0;
    unref(r);
}

/* ---- loading ---- */

/* a batch of records applied (only added or replaced): routes for the added ones */
static void end_batch(Registry *r, size_t before)
{
    r->batch = false;
    if (r->n != before)
        assign_vias(r);
}

/* one stored record into the live set when it differs from what runs; false when damaged */
static bool apply_record(Registry *r, const char *id, const char *text, size_t len)
{
    char perr[128];
    json_t *j = jsonutil_parse(text, len, perr, sizeof perr);
    Validation v;
    validation_init(&v);
    DatabaseConfig db = {0};
    bool ok = j && database_from_json(&db, j, &v) && strcmp(db.id, id) == 0;
    if (ok) {
        Entry *e = find(r, id, NULL);
        json_t *cur = e ? database_to_json(pgtarget_config(e->t)) : NULL;
        json_t *next = database_to_json(&db);
        if (!cur || !json_equal(cur, next)) {
            put(r, &db);
            if (r->loaded)
                log_info("database %s %s through another instance", id,
                         e ? "changed" : "registered");
        }
        json_decref(cur);
        json_decref(next);
    } else {
        char first[256];
        log_warn("skipping stored database %s: %s", id,
                 !j ? perr
                 : db.id && strcmp(db.id, id) != 0
                     ? "its id differs from its key"
                     : validation_first_message(&v, first, sizeof first));
    }
    database_free(&db);
    json_decref(j);
    return ok;
}

static void loaded(void *ud, PgfError err, const char *errmsg, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
    Registry *r = ud;
    r->loading = false;
    if (r->closing) {
        unref(r);
        return;
    }
    if (err != PGF_OK) {
        log_warn("could not load the database registry from redis: %s", errmsg ? errmsg : "");
        unref(r);
        return;
    }
    size_t ok = 0;
    /* thousands of databases loaded at once: first probes 5 ms apart, at most an interval */
    r->spread_ms = (long)n * 5 < r->deps.cfg->health_interval_seconds * 1000
                       ? (long)n * 5
                       : r->deps.cfg->health_interval_seconds * 1000;
    size_t before = r->n;
    r->batch = true;
    for (size_t i = 0; i < n; i++)
        ok += apply_record(r, fields[i], values[i], lens[i]);
    end_batch(r, before);
    r->spread_ms = 0;
    r->loaded = true;
    log_info("database registry loaded: %zu databases", ok);
    if (r->deps.on_loaded)
        r->deps.on_loaded(r->deps.loaded_ud);
    unref(r);
}

void registry_store_ready(Registry *r)
{
    if (r->loaded || r->loading || r->closing)
        return;
    if (store_hgetall(r->deps.store, KEY_DATABASES, loaded, r) == PGF_OK) {
        r->loading = true;
        r->refs++;
    }
}

/* ---- following changes made through other instances ---- */

static void synced(void *ud, PgfError err, const char *errmsg, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
    Registry *r = ud;
    if (err == PGF_OK && !r->closing) {
        json_t *stored = json_object();
        size_t before = r->n;
        r->batch = true;
        for (size_t i = 0; i < n; i++) {
            apply_record(r, fields[i], values[i], lens[i]);
            json_object_set_new(stored, fields[i], json_true());
        }
        end_batch(r, before);
        for (size_t i = r->n; i-- > 0;) {
            const char *id = pgtarget_config(r->v[i]->t)->id;
            if (!json_object_get(stored, id)) {
                log_info("database %s removed through another instance", id);
                drop(r, id);
            }
        }
        json_decref(stored);
    } else if (err != PGF_OK) {
        log_debug("registry sync skipped: %s", errmsg ? errmsg : "");
    }
    unref(r);
}

void registry_sync(Registry *r)
{
    if (!r->loaded || r->closing)
        return;
    r->refs++;
    if (store_hgetall(r->deps.store, KEY_DATABASES, synced, r) != PGF_OK)
        unref(r);
}

typedef struct SyncOne {
    Registry *r;
    char *id;
} SyncOne;

static void synced_one(void *ud, PgfError err, const char *errmsg, const char *value, size_t len)
{
    (void)errmsg;
    SyncOne *s = ud;
    Registry *r = s->r;
    if (err == PGF_OK && !r->closing) {
        if (value) {
            apply_record(r, s->id, value, len);
        } else if (find(r, s->id, NULL)) {
            log_info("database %s removed through another instance", s->id);
            drop(r, s->id);
        }
    }
    free(s->id);
    free(s);
    unref(r);
}

void registry_sync_one(Registry *r, const char *id)
{
    if (!r->loaded || r->closing)
        return;
    SyncOne *s = xmalloc(sizeof *s);
    s->r = r;
    s->id = xstrdup(id);
    r->refs++;
    if (store_hget(r->deps.store, KEY_DATABASES, id, synced_one, s) != PGF_OK)
        synced_one(s, PGF_ERR_STORE_DOWN, NULL, NULL, 0);
}

bool registry_ready(Registry *r, Failure *f)
{
    if (r->loaded)
        return true;
    registry_store_ready(r);
    failure_set(f, PGF_ERR_STORE_DOWN, NULL,
                "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by itself",
                "the database registry is not loaded: redis is %s",
                store_state_name(store_state(r->deps.store)));
    return false;
}

/* ---- reading ---- */

size_t registry_count(const Registry *r)
{
    return r ? r->n : 0;
}

PgTarget *registry_find(const Registry *r, const char *id)
{
    Entry *e = r && id ? find(r, id, NULL) : NULL;
    return e ? e->t : NULL;
}

size_t registry_targets(const Registry *r, PgTarget **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; r && i < r->n && n < max; i++)
        out[n++] = r->v[i]->t;
    return n;
}

static const char *canonical_host(const char *h)
{
    return strcmp(h, "localhost") == 0 ? "127.0.0.1" : h;
}

static void server_key(const DatabaseConfig *db, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%lld", canonical_host(db->host), db->port);
}

/*
 * PGFLEET_HEALTH_CONNECTIONS=server: the databases this instance polls on a
 * server are probed through the one of them with the lowest id (one
 * connection per server); otherwise each through its own.
 */
static void assign_vias(Registry *r)
{
    if (!r->deps.cfg->health_per_server || r->closing)
        return;
    json_t *reps = json_object(); /* server -> index of its entry with the lowest id */
    char key[300];
    for (size_t i = 0; i < r->n; i++) {
        const DatabaseConfig *db = pgtarget_config(r->v[i]->t);
        if (!pgtarget_polling(r->v[i]->t))
            continue;
        server_key(db, key, sizeof key);
        const json_t *k = json_object_get(reps, key);
        if (!k || strcmp(db->id, pgtarget_config(r->v[json_integer_value(k)]->t)->id) < 0)
            json_object_set_new(reps, key, json_integer((json_int_t)i));
    }
    for (size_t i = 0; i < r->n; i++) {
        Entry *e = r->v[i];
        server_key(pgtarget_config(e->t), key, sizeof key);
        const json_t *k = json_object_get(reps, key);
        pgtarget_probe_via(e->t,
                           pgtarget_polling(e->t) && k ? r->v[json_integer_value(k)]->t : NULL);
    }
    json_decref(reps);
}

json_t *registry_connections(const Registry *r)
{
    json_t *servers = json_object();
    size_t total = 0;
    char key[300];
    for (size_t i = 0; r && i < r->n; i++) {
        int open = pgpool_open(pgtarget_pool(r->v[i]->t));
        if (!open)
            continue;
        server_key(pgtarget_config(r->v[i]->t), key, sizeof key);
        json_object_set_new(servers, key,
                            json_integer(json_integer_value(json_object_get(servers, key)) + open));
        total += (size_t)open;
    }
    return json_pack("{s:s, s:I, s:o}", "health_connections",
                     r->deps.cfg->health_per_server ? "server" : "database", "open",
                     (json_int_t)total, "servers", servers);
}

static bool same_server(const DatabaseConfig *a, const DatabaseConfig *b)
{
    return a->port == b->port && strcmp(canonical_host(a->host), canonical_host(b->host)) == 0;
}

/*
 * A server is followed through its database with the lowest id, the same one
 * on every instance, by the instance that polls that database.
 */
size_t registry_servers(const Registry *r, PgTarget **out, size_t max)
{
    size_t n = 0;
    Entry **rep = xcalloc(r ? r->n + 1 : 1, sizeof *rep);
    for (size_t i = 0; r && i < r->n; i++) {
        const DatabaseConfig *db = pgtarget_config(r->v[i]->t);
        size_t k = 0;
        while (k < n && !same_server(pgtarget_config(rep[k]->t), db))
            k++;
        if (k == n)
            rep[n++] = r->v[i];
        else if (strcmp(db->id, pgtarget_config(rep[k]->t)->id) < 0)
            rep[k] = r->v[i];
    }
    size_t m = 0;
    for (size_t k = 0; k < n && m < max; k++)
        if (pgtarget_polling(rep[k]->t))
            out[m++] = rep[k]->t;
    free(rep);
    return m;
}

json_t *registry_rds_map(const Registry *r)
{
    json_t *m = json_object();
    for (size_t i = 0; r && i < r->n; i++) {
        const DatabaseConfig *db = pgtarget_config(r->v[i]->t);
        if (!db->aws_rds_instance_id)
            continue;
        char node[300];
        snprintf(node, sizeof node, "%s:%lld", db->host, db->port);
        json_object_set_new(m, node, json_string(db->aws_rds_instance_id));
    }
    return m;
}

static json_t *entry_json(const Registry *r, const Entry *e)
{
    json_t *o = database_to_json(pgtarget_config(e->t));
    json_object_set_new(o, "health", health_json(r, e));
    if (e->file_logs || e->rds_logs) {
        json_t *logs = json_array();
        if (e->file_logs)
            json_array_append_new(logs, logsource_status(e->file_logs));
        if (e->rds_logs)
            json_array_append_new(logs, logsource_status(e->rds_logs));
        json_object_set_new(o, "log_sources", logs);
    }
    return o;
}

static bool has_tag(const DatabaseConfig *db, const char *tag)
{
    for (size_t i = 0; i < db->ntags; i++)
        if (strcmp(db->tags[i], tag) == 0)
            return true;
    return false;
}

static bool matches(const Registry *r, const Entry *e, const RegistryQuery *q)
{
    const DatabaseConfig *db = pgtarget_config(e->t);
    char key[300];
    if (q->tag && !has_tag(db, q->tag))
        return false;
    if (q->name && !strcasestr(db->id, q->name) && !(db->name && strcasestr(db->name, q->name)))
        return false;
    if (q->server) {
        char buf[300];
        const char *want = q->server;
        if (strncmp(want, "localhost:", 10) == 0) {
            snprintf(buf, sizeof buf, "127.0.0.1:%s", want + 10);
            want = buf;
        }
        server_key(db, key, sizeof key);
        if (strcmp(key, want) != 0)
            return false;
    }
    return !q->health || strcmp(registry_health_state(r, e->t), q->health) == 0;
}

/* the entry as JSON text, made again only when its configuration or health changed */
static const char *entry_text(const Registry *r, Entry *e, size_t *len)
{
    uint64_t gen = pgtarget_polling(e->t) ? pgtarget_health_gen(e->t) : r->remote_gen;
    bool logs = e->file_logs || e->rds_logs; /* their offsets move: never kept */
    if (!e->text || logs || e->text_t != e->t || e->text_gen != gen ||
        e->text_polled != pgtarget_polling(e->t)) {
        free(e->text);
        json_t *j = entry_json(r, e);
        e->text = jsonutil_dumps(j);
        json_decref(j);
        e->text_len = strlen(e->text);
        e->text_t = e->t;
        e->text_gen = gen;
        e->text_polled = pgtarget_polling(e->t);
    }
    *len = e->text_len;
    return e->text;
}

char *registry_list_text(Registry *r, const RegistryQuery *q)
{
    static const RegistryQuery all = {0};
    q = q ? q : &all;
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, "{\"databases\":[");
    size_t total = 0, count = 0, len;
    for (size_t i = 0; i < r->n; i++) {
        if (!matches(r, r->v[i], q))
            continue;
        if (total >= (size_t)q->offset && (q->limit == 0 || count < (size_t)q->limit)) {
            const char *text = entry_text(r, r->v[i], &len);
            if (count++)
                strbuf_puts(&b, ",");
            strbuf_append(&b, text, len);
        }
        total++;
    }
    size_t next = (size_t)q->offset + count;
    json_t *conns = registry_connections(r);
    char *ctext = jsonutil_dumps(conns);
    json_decref(conns);
    strbuf_printf(&b, "],\"count\":%zu,\"total\":%zu,\"offset\":%ld,\"next_offset\":", count, total,
                  q->offset);
    if (next < total)
        strbuf_printf(&b, "%zu", next);
    else
        strbuf_puts(&b, "null");
    strbuf_printf(&b, ",\"connections\":%s}", ctext);
    free(ctext);
    return strbuf_detach(&b);
}

json_t *registry_get_json(const Registry *r, const char *id)
{
    Entry *e = id ? find(r, id, NULL) : NULL;
    return e ? entry_json(r, e) : NULL;
}

/* ---- writing ---- */

typedef struct Write {
    Registry *r;
    DatabaseConfig db;
    bool created;
    char *password; /* to put in Secrets Manager, then wiped */
    DoneCb cb;
    void *ud;
} Write;

static void write_end(Write *w, json_t *result, Failure *f)
{
    if (f)
        failure_report(f, w->cb, w->ud);
    else
        w->cb(w->ud, result, NULL);
    Registry *r = w->r;
    database_free(&w->db);
    xfree_secret(w->password);
    free(w);
    unref(r);
}

static void saved(void *ud, PgfError err, const char *errmsg)
{
    Write *w = ud;
    Failure f = {0};
    if (err != PGF_OK) {
        failure_set(&f, err, NULL, "check Redis; nothing was registered",
                    "could not save database %s: %s", w->db.id, errmsg ? errmsg : "");
        write_end(w, NULL, &f);
        return;
    }
    if (w->r->closing) {
        failure_set(&f, PGF_ERR_SHUTTING_DOWN, NULL, NULL, "pgfleet is shutting down");
        write_end(w, NULL, &f);
        return;
    }
    put(w->r, &w->db);
    log_info("database %s %s (%s:%lld/%s)", w->db.id, w->created ? "registered" : "updated",
             w->db.host, w->db.port, w->db.dbname);
    if (w->r->deps.on_changed)
        w->r->deps.on_changed(w->r->deps.changed_ud, w->db.id);
    write_end(w, entry_json(w->r, find(w->r, w->db.id, NULL)), NULL);
}

static void save(Write *w)
{
    json_t *j = database_to_json(&w->db);
    char *s = jsonutil_dumps(j);
    json_decref(j);
    PgfError rc = store_hset(w->r->deps.store, KEY_DATABASES, w->db.id, s, strlen(s), saved, w);
    free(s);
    if (rc != PGF_OK)
        saved(w, rc, "redis is unavailable");
}

static void secret_written(void *ud, const json_t *result, const AwsResult *res)
{
    Write *w = ud;
    (void)result;
    if (!res->ok && res->code && strcmp(res->code, "ResourceExistsException") == 0) {
        /* a managed secret from before: give it the new value */
        secrets_put(w->r->deps.aws, w->db.credentials.secret_id, w->password, secret_written, w);
        return;
    }
    if (!res->ok) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_AWS,
                    json_pack("{s:s, s:s}", "aws_code", res->code ? res->code : "", "aws_message",
                              res->message ? res->message : ""),
                    "pgfleet keeps passwords in Secrets Manager, never in Redis: fix AWS access "
                    "('pgfleet aws check'), or register with credentials source secretsmanager, "
                    "env or rds_iam",
                    "could not store the password of %s in Secrets Manager: %s", w->db.id,
                    res->message ? res->message : "");
        write_end(w, NULL, &f);
        return;
    }
    if (w->r->deps.secrets)
        secrets_invalidate(w->r->deps.secrets, w->db.credentials.secret_id);
    save(w);
}

static void store_password(Write *w)
{
    if (!w->r->deps.aws) {
        secret_written(w, NULL, &(AwsResult){.code = "config", .message = "AWS is not configured"});
        return;
    }
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "username", w->db.user, "password",
                          w->password, "engine", "postgres", "host", w->db.host, "port",
                          (json_int_t)w->db.port, "dbname", w->db.dbname);
    char *value = jsonutil_dumps(v);
    json_decref(v);
    secrets_create(w->r->deps.aws, w->db.credentials.secret_id, value, secret_written, w);
    xfree_secret(value);
}

/* an update: the id is the path's, the registration time stays; false when refused */
static bool merge_update(json_t *body, const char *id, const DatabaseConfig *old, Validation *v)
{
    const char *bid = jsonutil_str(body, "id");
    if (bid && strcmp(bid, id) != 0) {
        validation_add(v, NULL, "id", "distinct", "must match the id in the path (%s)", id);
        return false;
    }
    json_object_set_new(body, "id", json_string(id));
    json_object_set_new(body, "created_at", json_string(old->created_at));
    json_object_del(body, "updated_at");
    return true;
}

/* a user sets the password, never the fields pgfleet manages; false when refused */
static bool check_credentials_body(json_t *body, const DatabaseConfig *old, Validation *v)
{
    json_t *cred = json_object_get(body, "credentials");
    const char *source = jsonutil_str(cred, "source");
    if (json_is_object(cred) && source && strcmp(source, "password") == 0 &&
        (json_object_get(cred, "password_set") || json_object_get(cred, "secret_id"))) {
        validation_add(v, "credentials",
                       json_object_get(cred, "password_set") ? "password_set" : "secret_id",
                       "unknown_field", "is set by pgfleet; send \"password\"");
        return false;
    }
    if (old && json_is_object(cred) && !json_object_get(cred, "password") &&
        old->credentials.source == CRED_PASSWORD)
        json_object_set_new(cred, "password_set", json_true()); /* keeps the stored one */
    return true;
}

/* the credentials' source may be used (credpolicy.h) */
static void check_policy(const Registry *r, const DatabaseConfig *db, Validation *v)
{
    char why[400];
    const CredentialRef *cr = &db->credentials;
    if (cr->source == CRED_ENV && !credpolicy_env_ok(r->policy, cr->env, why, sizeof why))
        validation_add(v, "credentials", "env", "not_allowed", "%s", why);
    if (cr->source == CRED_SECRETSMANAGER &&
        !credpolicy_secret_ok(r->policy, cr->secret_id, why, sizeof why))
        validation_add(v, "credentials", "secret_id", "not_allowed", "%s", why);
}

/* a kept password never follows the database to another server unasked */
static void check_moved(const DatabaseConfig *prev, const DatabaseConfig *db, Validation *v)
{
    if (!prev || prev->credentials.source != CRED_PASSWORD ||
        db->credentials.source != CRED_PASSWORD || db->credentials.password)
        return;
    bool moved = strcmp(prev->host, db->host) || prev->port != db->port ||
                 strcmp(prev->user, db->user) || strcmp(prev->dbname, db->dbname);
    if (moved)
        validation_add(v, "credentials", "password", "required",
                       "is required when host, port, user or dbname change: the kept password "
                       "is never sent to another server unasked");
}

/* validation of a write; false with f filled when refused */
static bool prepare_write(Registry *r, Write *w, json_t *body, const char *id, Failure *f)
{
    Validation v;
    validation_init(&v);
    Entry *old = id ? find(r, id, NULL) : NULL;
    if (id && !old) {
        failure_set(f, PGF_ERR_NOT_FOUND, NULL, "POST /api/databases registers a new one",
                    "no database with id '%s'", id);
        return false;
    }
    const DatabaseConfig *prev = old ? pgtarget_config(old->t) : NULL;
    if ((prev && !merge_update(body, id, prev, &v)) || !check_credentials_body(body, prev, &v) ||
        !database_from_json(&w->db, body, &v) || !validation_ok(&v)) {
        validation_to_failure(&v, f);
        return false;
    }
    check_policy(r, &w->db, &v);
    check_moved(prev, &w->db, &v);
    char why[400];
    if (w->db.log_file &&
        !logsource_path_allowed(w->db.log_file, config_get(r->deps.cfg, CFG_LOG_DIRS), why,
                                sizeof why))
        validation_add(&v, "logs", "file", "not_allowed", "%s", why);
    if (!validation_ok(&v)) {
        validation_to_failure(&v, f);
        return false;
    }
    if (strcmp(w->db.id, "test") == 0) {
        validation_add(&v, NULL, "id", "reserved", "'test' is reserved (GET /api/databases/test)");
        validation_to_failure(&v, f);
        return false;
    }
    if (!id && find(r, w->db.id, NULL)) {
        failure_set(f, PGF_ERR_CONFLICT, NULL, "PUT /api/databases/{id} changes it",
                    "database '%s' is already registered", w->db.id);
        return false;
    }
    const CredentialRef *cr = &w->db.credentials;
    if (cr->source == CRED_PASSWORD && !cr->password &&
        (!prev || prev->credentials.source != CRED_PASSWORD)) {
        validation_add(&v, "credentials", "password", "required", "is required");
        validation_to_failure(&v, f);
        return false;
    }
    return true;
}

void registry_write(Registry *r, json_t *body, const char *id, DoneCb cb, void *ud)
{
    Write *w = xcalloc(1, sizeof *w);
    w->r = r;
    w->created = id == NULL;
    w->cb = cb;
    w->ud = ud;
    r->refs++;
    Failure f = {0};
    bool ok = registry_ready(r, &f) && prepare_write(r, w, body, id, &f);
    json_decref(body);
    if (!ok) {
        write_end(w, NULL, &f);
        return;
    }
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    free(w->db.updated_at);
    w->db.updated_at = xstrdup(now);
    CredentialRef *cr = &w->db.credentials;
    if (cr->source == CRED_PASSWORD) {
        free(cr->secret_id);
        cr->secret_id = xasprintf("pgfleet/db/%s", w->db.id);
        cr->password_set = true;
        if (cr->password) {
            w->password = cr->password;
            cr->password = NULL;
            store_password(w);
            return;
        }
    }
    save(w);
}

/* ---- removing ---- */

typedef struct Del {
    Registry *r;
    char *id;
    char *managed_secret;
    DoneCb cb;
    void *ud;
} Del;

static void del_free(Del *d)
{
    Registry *r = d->r;
    free(d->managed_secret);
    free(d->id);
    free(d);
    unref(r);
}

static void secret_deleted(void *ud, const json_t *result, const AwsResult *res)
{
    (void)result;
    Del *d = ud;
    if (!res->ok)
        log_warn("database %s removed, but its password secret %s could not be deleted: %s", d->id,
                 d->managed_secret, res->message ? res->message : "");
    del_free(d);
}

static void deleted(void *ud, PgfError err, const char *errmsg)
{
    Del *d = ud;
    if (err != PGF_OK && err != PGF_ERR_NOT_FOUND) {
        Failure f = {0};
        failure_set(&f, err, NULL, NULL, "could not remove database %s: %s", d->id,
                    errmsg ? errmsg : "");
        failure_report(&f, d->cb, d->ud);
        del_free(d);
        return;
    }
    if (!d->r->closing)
        drop(d->r, d->id);
    log_info("database %s removed", d->id);
    if (d->r->deps.on_changed && !d->r->closing)
        d->r->deps.on_changed(d->r->deps.changed_ud, d->id);
    d->cb(d->ud, json_pack("{s:s}", "deleted", d->id), NULL);
    if (d->managed_secret && d->r->deps.aws && !d->r->closing) {
        secrets_delete(d->r->deps.aws, d->managed_secret, secret_deleted, d);
        return;
    }
    del_free(d);
}

void registry_remove(Registry *r, const char *id, DoneCb cb, void *ud)
{
    Failure f = {0};
    if (!registry_ready(r, &f)) {
        failure_report(&f, cb, ud);
        return;
    }
    Entry *e = find(r, id, NULL);
    if (!e) {
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, NULL, "no database with id '%s'", id);
        failure_report(&f, cb, ud);
        return;
    }
    const DatabaseConfig *db = pgtarget_config(e->t);
    Del *d = xcalloc(1, sizeof *d);
    d->r = r;
    d->id = xstrdup(id);
    d->cb = cb;
    d->ud = ud;
    r->refs++;
    if (db->credentials.source == CRED_PASSWORD && db->credentials.secret_id)
        d->managed_secret = xstrdup(db->credentials.secret_id);
    if (store_hdel(r->deps.store, KEY_DATABASES, id, deleted, d) != PGF_OK)
        deleted(d, PGF_ERR_STORE_DOWN, "redis is unavailable");
}

/* ---- testing ---- */

typedef struct Test {
    DoneCb cb;
    void *ud;
    json_t *results; /* test all */
    size_t pending;
    bool all_ok;
} Test;

static void tested_one(void *ud, const json_t *report)
{
    Test *t = ud;
    t->cb(t->ud, json_deep_copy(report), NULL);
    free(t);
}

void registry_test(Registry *r, const char *id, DoneCb cb, void *ud)
{
    Failure f = {0};
    if (!registry_ready(r, &f)) {
        failure_report(&f, cb, ud);
        return;
    }
    PgTarget *target = registry_find(r, id);
    if (!target) {
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, NULL, "no database with id '%s'", id);
        failure_report(&f, cb, ud);
        return;
    }
    Test *t = xcalloc(1, sizeof *t);
    t->cb = cb;
    t->ud = ud;
    pgtarget_test(target, tested_one, t);
}

static void tested_all(void *ud, const json_t *report)
{
    Test *t = ud;
    json_array_append(t->results, jsonutil_unconst(report));
    t->all_ok = t->all_ok && json_is_true(json_object_get(report, "ok"));
    if (--t->pending > 0)
        return;
    t->cb(t->ud,
          json_pack("{s:b, s:I, s:o}", "ok", t->all_ok, "count",
                    (json_int_t)json_array_size(t->results), "results", t->results),
          NULL);
    free(t);
}

void registry_test_all(Registry *r, DoneCb cb, void *ud)
{
    Failure f = {0};
    if (!registry_ready(r, &f)) {
        failure_report(&f, cb, ud);
        return;
    }
    if (r->n == 0) {
        cb(ud, json_pack("{s:b, s:i, s:[]}", "ok", 1, "count", 0, "results"), NULL);
        return;
    }
    Test *t = xcalloc(1, sizeof *t);
    t->cb = cb;
    t->ud = ud;
    t->results = json_array();
    t->pending = r->n;
    t->all_ok = true;
    for (size_t i = 0; i < r->n; i++)
        pgtarget_test(r->v[i]->t, tested_all, t);
}
