#include "replication/topology.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

bool topology_parse_lsn(const char *s, uint64_t *out)
{
    if (!s)
        return false;
    char *end;
    unsigned long long hi = strtoull(s, &end, 16);
    if (*end != '/' || end == s)
        return false;
    const char *lo_s = end + 1;
    unsigned long long lo = strtoull(lo_s, &end, 16);
    if (*end || end == lo_s || hi > 0xFFFFFFFFull || lo > 0xFFFFFFFFull)
        return false;
    *out = ((uint64_t)hi << 32) | (uint64_t)lo;
    return true;
}

/* "localhost" and "127.0.0.1" are one host when matching an upstream to a node */
static void canon_id(const char *host, long long port, char *buf, size_t len)
{
    if (!host || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        host = "127.0.0.1";
    snprintf(buf, len, "%s:%lld", host, port);
}

typedef struct Graph {
    json_t *nodes;         /* array */
    json_t *by_canon;      /* canon id -> node */
    json_t *snap_by_canon; /* canon id -> reached snapshot */
} Graph;

static json_t *node_for(Graph *g, const char *host, long long port)
{
    char canon[300];
    canon_id(host, port, canon, sizeof canon);
    json_t *n = json_object_get(g->by_canon, canon);
    if (n)
        return n;
    char id[300];
    snprintf(id, sizeof id, "%s:%lld", host, port);
    n = json_pack("{s:s, s:s, s:I, s:b, s:b, s:n, s:n, s:n, s:n, s:[]}", "id", id, "host", host,
                  "port", (json_int_t)port, "managed", 0, "reachable", 0, "role",
                  "system_identifier", "server_version", "timeline", "databases");
    json_array_append_new(g->nodes, n);
    json_object_set(g->by_canon, canon, n);
    return n;
}

static const json_t *snap_of(Graph *g, const json_t *node)
{
    char canon[300];
    canon_id(jsonutil_str(node, "host"), json_integer_value(json_object_get(node, "port")), canon,
             sizeof canon);
    return json_object_get(g->snap_by_canon, canon);
}

static json_t *lsn_diff(const char *a, const char *b)
{
    uint64_t x, y;
    if (!topology_parse_lsn(a, &x) || !topology_parse_lsn(b, &y))
        return json_null();
    return json_integer(x >= y ? (json_int_t)(x - y) : 0);
}

/* host and port from a conninfo; never keeps anything else (it may hold a password) */
static bool conninfo_target(const char *conninfo, char *host, size_t hostlen, long long *port,
                            char *db, size_t dblen)
{
    if (!conninfo)
        return false;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts)
        return false;
    snprintf(host, hostlen, "localhost");
    *port = 5432;
    if (db)
        snprintf(db, dblen, "%s", "");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            snprintf(host, hostlen, "%s", o->val);
        else if (strcmp(o->keyword, "hostaddr") == 0 && strcmp(host, "localhost") == 0)
            snprintf(host, hostlen, "%s", o->val);
        else if (strcmp(o->keyword, "port") == 0)
            *port = atoll(o->val);
        else if (strcmp(o->keyword, "dbname") == 0 && db)
            snprintf(db, dblen, "%s", o->val);
        if (o->val && strcmp(o->keyword, "password") == 0)
            sodium_memzero(o->val, strlen(o->val));
    }
    PQconninfoFree(opts);
    return true;
}

static void add_nodes(Graph *g, const json_t *snapshots, json_t *unreachable)
{
    size_t i;
    const json_t *s;
    json_array_foreach(snapshots, i, s)
    {
        json_t *n =
            node_for(g, jsonutil_str(s, "host"), json_integer_value(json_object_get(s, "port")));
        json_object_set_new(n, "id", json_string(jsonutil_str(s, "id")));
        json_object_set_new(n, "managed", json_true());
        char canon[300];
        canon_id(jsonutil_str(s, "host"), json_integer_value(json_object_get(s, "port")), canon,
                 sizeof canon);
        if (!json_is_true(json_object_get(s, "reached"))) {
            json_object_set_new(n, "reachable", json_false());
            json_object_set(n, "error", json_object_get(s, "error"));
            json_array_append_new(unreachable, json_string(jsonutil_str(s, "id")));
            continue;
        }
        json_object_set(g->snap_by_canon, canon, (json_t *)(uintptr_t)s);
        const json_t *inst = json_object_get(s, "instance");
        json_object_set_new(n, "reachable", json_true());
        json_object_set_new(n, "role",
                            json_string(json_is_true(json_object_get(inst, "in_recovery"))
                                            ? "standby"
                                            : "primary"));
        json_object_set(n, "system_identifier", json_object_get(inst, "system_identifier"));
        json_object_set(n, "server_version", json_object_get(inst, "server_version"));
        json_object_set(n, "timeline", json_object_get(inst, "timeline"));
        json_object_set(n, "databases", json_object_get(s, "databases"));
        json_object_set(n, "wal_level", json_object_get(inst, "wal_level"));
        json_object_set(n, "current_lsn", json_object_get(inst, "current_lsn"));
        if (json_object_get(s, "inventory"))
            json_object_set(n, "inventory", json_object_get(s, "inventory"));
    }
}

/* initial-sync progress of a subscription from the subscriber's inventory, or NULL */
static json_t *sync_of(const json_t *snap, const char *db, const char *sub)
{
    const json_t *inv = json_object_get(json_object_get(snap, "inventory"), db);
    const json_t *rels = json_object_get(inv, "subscription_tables");
    if (!json_is_array(rels))
        return NULL;
    json_t *pending = json_array();
    size_t i, total = 0, ready = 0;
    const json_t *r;
    json_array_foreach(rels, i, r)
    {
        if (!jsonutil_str(r, "subscription") || strcmp(jsonutil_str(r, "subscription"), sub) != 0)
            continue;
        total++;
        const char *st = jsonutil_str(r, "state");
        if (st && strcmp(st, "ready") == 0)
            ready++;
        else
            json_array_append_new(pending,
                                  json_pack("{s:O, s:O}", "table", json_object_get(r, "table_name"),
                                            "state", json_object_get(r, "state")));
    }
    return json_pack("{s:I, s:I, s:o}", "tables", (json_int_t)total, "ready", (json_int_t)ready,
                     "not_ready", pending);
}

/* the upstream's pg_stat_replication row serving this standby, or NULL */
static const json_t *sender_row(const json_t *up_snap, const char *slot, const char *cluster)
{
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(up_snap, "replication"), i, r)
    {
        const char *rs = jsonutil_str(r, "slot_name");
        const char *app = jsonutil_str(r, "application_name");
        if ((slot && rs && strcmp(slot, rs) == 0) ||
            (cluster && *cluster && app && strcmp(cluster, app) == 0))
            return r;
    }
    return NULL;
}

static void physical_edges(Graph *g, const json_t *snapshots, json_t *edges)
{
    size_t i;
    const json_t *s;
    json_array_foreach(snapshots, i, s)
    {
        const json_t *inst = json_object_get(s, "instance");
        if (!json_is_true(json_object_get(inst, "in_recovery")))
            continue;
        const json_t *rx = json_object_get(s, "wal_receiver");
        char host[256];
        long long port;
        const char *state;
        const char *slot = NULL;
        if (json_is_object(rx) && jsonutil_str(rx, "sender_host")) {
            snprintf(host, sizeof host, "%s", jsonutil_str(rx, "sender_host"));
            port = json_integer_value(json_object_get(rx, "sender_port"));
            state = jsonutil_str(rx, "status");
            slot = jsonutil_str(rx, "slot_name");
        } else if (conninfo_target(jsonutil_str(inst, "primary_conninfo"), host, sizeof host, &port,
                                   NULL, 0)) {
            state = "disconnected"; /* no WAL receiver running */
        } else {
            continue; /* recovering from archive only: no upstream */
        }
        json_t *up = node_for(g, host, port);
        const json_t *up_snap = snap_of(g, up);
        const char *cluster = jsonutil_str(inst, "cluster_name");
        const json_t *row = up_snap ? sender_row(up_snap, slot, cluster) : NULL;
        bool streaming = state && strcmp(state, "streaming") == 0;
        json_t *lag = json_null(), *secs = json_null();
        if (streaming && up_snap) {
            json_decref(lag);
            lag = lsn_diff(jsonutil_str(json_object_get(up_snap, "instance"), "current_lsn"),
                           jsonutil_str(inst, "replay_lsn"));
        }
        if (streaming && row && json_is_number(json_object_get(row, "replay_lag_seconds"))) {
            json_decref(secs);
            secs = json_incref(json_object_get(row, "replay_lag_seconds"));
        } else if (streaming && row) {
            json_decref(secs);
            secs = json_real(0); /* caught up: PostgreSQL clears replay_lag when idle */
        }
        json_t *e =
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "kind", "physical", "from",
                      jsonutil_str(up, "id"), "to", jsonutil_str(s, "id"), "state",
                      state ? state : "unknown", "slot", jsonutil_string_or_null(slot), "lag_bytes",
                      lag, "replay_lag_seconds", secs, "confirmed", row != NULL);
        if (row)
            json_object_set(e, "sync_state", json_object_get(row, "sync_state"));
        json_array_append_new(edges, e);
    }
}

static const json_t *find_by(const json_t *rows, const char *key, json_int_t v,
                             bool want_null_relid)
{
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (json_integer_value(json_object_get(r, key)) != v)
            continue;
        if (want_null_relid && !json_is_null(json_object_get(r, "relid")))
            continue;
        return r;
    }
    return NULL;
}

static const json_t *slot_named(const json_t *snap, const char *name)
{
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(snap, "slots"), i, r)
    {
        const char *n = jsonutil_str(r, "slot_name");
        if (n && name && strcmp(n, name) == 0)
            return r;
    }
    return NULL;
}

static void logical_edges(Graph *g, const json_t *snapshots, json_t *edges)
{
    size_t i;
    const json_t *s;
    json_array_foreach(snapshots, i, s)
    {
        /* a standby's pg_subscription is its primary's, copied: nothing runs there */
        if (json_is_true(json_object_get(json_object_get(s, "instance"), "in_recovery")))
            continue;
        size_t k;
        const json_t *sub;
        json_array_foreach(json_object_get(s, "subscriptions"), k, sub)
        {
            json_int_t oid = json_integer_value(json_object_get(sub, "oid"));
            char host[256], db[256];
            long long port;
            json_t *from = json_null(), *source_db = json_null();
            const json_t *pub_snap = NULL;
            const char *conninfo = jsonutil_str(sub, "conninfo");
            if (conninfo_target(conninfo, host, sizeof host, &port, db, sizeof db)) {
                json_t *pub = node_for(g, host, port);
                json_decref(from);
                from = json_string(jsonutil_str(pub, "id"));
                json_decref(source_db);
                source_db = json_string(db);
                pub_snap = snap_of(g, pub);
            }
            bool enabled = json_is_true(json_object_get(sub, "enabled"));
            /* workers: the apply worker has relid NULL; table sync workers have a relid */
            const json_t *workers = json_object_get(s, "subscription_workers");
            const json_t *applyw = find_by(workers, "oid", oid, true);
            bool syncing = false;
            size_t w;
            const json_t *wr;
            json_array_foreach(workers, w,
                               wr) if (json_integer_value(json_object_get(wr, "oid")) == oid &&
                                       !json_is_null(json_object_get(wr, "relid"))) syncing = true;
            const char *state;
            if (!enabled)
                state = "disabled";
            else if (!applyw || json_is_null(json_object_get(applyw, "pid")))
                state = "down";
            else if (syncing)
                state = "initializing";
            else
                state = "streaming";
            const char *slot = jsonutil_str(sub, "slot");
            const json_t *pslot = pub_snap ? slot_named(pub_snap, slot) : NULL;
            json_t *lag = json_null();
            if (enabled && pslot &&
                json_is_integer(json_object_get(pslot, "confirmed_lag_bytes"))) {
                json_decref(lag);
                lag = json_incref(json_object_get(pslot, "confirmed_lag_bytes"));
            }
            const json_t *stats =
                find_by(json_object_get(s, "subscription_stats"), "oid", oid, false);
            json_t *e = json_pack(
                "{s:s, s:o, s:s, s:o, s:s, s:O, s:s, s:o, s:b, s:s, s:o, s:b}", "kind", "logical",
                "from", from, "to", jsonutil_str(s, "id"), "source_database", source_db,
                "target_database", jsonutil_str(sub, "database"), "publications",
                json_object_get(sub, "publications"), "subscription", jsonutil_str(sub, "name"),
                "slot", jsonutil_string_or_null(slot), "enabled", enabled, "state", state,
                "lag_bytes", lag, "confirmed", pslot != NULL);
            if (stats) {
                json_object_set(e, "apply_error_count",
                                json_object_get(stats, "apply_error_count"));
                json_object_set(e, "sync_error_count", json_object_get(stats, "sync_error_count"));
            }
            json_t *sync = sync_of(s, jsonutil_str(sub, "database"), jsonutil_str(sub, "name"));
            if (sync) {
                if (enabled && strcmp(state, "streaming") == 0 &&
                    json_array_size(json_object_get(sync, "not_ready")) > 0)
                    json_object_set_new(e, "state", json_string("initializing"));
                json_object_set_new(e, "sync", sync);
            }
            if (!conninfo)
                json_object_set_new(
                    e, "note",
                    json_string("the subscription's conninfo is not readable by this role: the "
                                "publisher is unknown (GRANT SELECT ON pg_subscription, or use a "
                                "superuser)"));
            json_array_append_new(edges, e);
        }
    }
}

static void slots(const json_t *snapshots, json_t *out)
{
    size_t i;
    const json_t *s;
    json_array_foreach(snapshots, i, s)
    {
        size_t k;
        const json_t *r;
        json_array_foreach(json_object_get(s, "slots"), k, r)
        {
            json_t *retained = json_object_get(r, "retained_wal_bytes");
            json_array_append_new(
                out,
                json_pack("{s:s, s:s, s:s, s:O?, s:b, s:O?, s:O?, s:O?, s:O?}", "node",
                          jsonutil_str(s, "id"), "name", jsonutil_str(r, "slot_name"), "type",
                          jsonutil_str(r, "slot_type"), "database", json_object_get(r, "database"),
                          "active", json_is_true(json_object_get(r, "active")),
                          "retained_wal_bytes", retained ? retained : json_null(), "wal_status",
                          json_object_get(r, "wal_status"), "safe_wal_size",
                          json_object_get(r, "safe_wal_size"), "confirmed_flush_lsn",
                          json_object_get(r, "confirmed_flush_lsn")));
        }
    }
}

json_t *topology_build(const json_t *snapshots)
{
    Graph g = {.nodes = json_array(), .by_canon = json_object(), .snap_by_canon = json_object()};
    json_t *edges = json_array();
    json_t *slot_list = json_array();
    json_t *unreachable = json_array();
    add_nodes(&g, snapshots, unreachable);
    physical_edges(&g, snapshots, edges);
    logical_edges(&g, snapshots, edges);
    slots(snapshots, slot_list);
    json_decref(g.by_canon);
    json_decref(g.snap_by_canon);
    return json_pack("{s:o, s:o, s:o, s:o}", "nodes", g.nodes, "edges", edges, "slots", slot_list,
                     "unreachable", unreachable);
}

/* the node (by id) or NULL */
static json_t *node_by_id(json_t *nodes, const char *id)
{
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) if (strcmp(jsonutil_str(n, "id"), id) == 0) return n;
    return NULL;
}

/* the node an instance is, by the registry's mapping or by its endpoint; NULL if none */
static json_t *node_of_instance(json_t *nodes, const json_t *node_rds, const char *instance_id,
                                const json_t *inst, bool create)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)node_rds, key, v)
    {
        if (strcmp(json_string_value(v), instance_id) == 0) {
            json_t *n = node_by_id(nodes, key);
            if (n)
                return n;
        }
    }
    const json_t *ep = json_object_get(inst, "endpoint");
    const char *addr = jsonutil_str(ep, "address");
    if (!addr)
        return NULL;
    char id[300];
    json_int_t port = json_integer_value(json_object_get(ep, "port"));
    snprintf(id, sizeof id, "%s:%lld", addr, (long long)port);
    json_t *n = node_by_id(nodes, id);
    if (n || !create)
        return n;
    n = json_pack("{s:s, s:s, s:I, s:b, s:b, s:n, s:n, s:O, s:n, s:[]}", "id", id, "host", addr,
                  "port", port, "managed", 0, "reachable", 0, "role", "system_identifier",
                  "server_version", json_object_get(inst, "engine_version"), "timeline",
                  "databases");
    json_array_append_new(nodes, n);
    return n;
}

/* Aurora: the cluster's role on each member node, and writer -> reader edges (shared
 * storage: no WAL stream, so no lag pgfleet could measure) */
static void merge_aurora(json_t *topo, const json_t *by_id, const json_t *clusters,
                         const json_t *node_rds, const json_t *wanted)
{
    json_t *nodes = json_object_get(topo, "nodes");
    json_t *edges = json_object_get(topo, "edges");
    size_t i;
    const json_t *c;
    json_array_foreach(clusters, i, c)
    {
        const json_t *members = json_object_get(c, "members");
        bool ours = false;
        size_t k;
        const json_t *m;
        json_array_foreach(members, k, m) ours |=
            json_object_get(wanted, jsonutil_str(m, "instance_id")) != NULL;
        if (!ours)
            continue;
        json_t *writer = NULL;
        json_array_foreach(members, k, m)
        {
            const char *iid = jsonutil_str(m, "instance_id");
            const json_t *in = iid ? json_object_get(by_id, iid) : NULL;
            json_t *n = in ? node_of_instance(nodes, node_rds, iid, in, true) : NULL;
            if (!n)
                continue;
            bool w = json_is_true(json_object_get(m, "writer"));
            json_object_set_new(
                n, "aurora",
                json_pack("{s:O, s:s, s:O, s:O}", "cluster_id", json_object_get(c, "id"), "role",
                          w ? "writer" : "reader", "endpoint", json_object_get(c, "endpoint"),
                          "reader_endpoint", json_object_get(c, "reader_endpoint")));
            if (!json_object_get(n, "rds"))
                json_object_set_new(n, "rds",
                                    json_pack("{s:s, s:O, s:O, s:O}", "instance_id", iid, "class",
                                              json_object_get(in, "class"), "status",
                                              json_object_get(in, "status"), "cluster_id",
                                              json_object_get(c, "id")));
            if (w)
                writer = n;
        }
        if (!writer)
            continue;
        json_array_foreach(members, k, m)
        {
            const char *iid = jsonutil_str(m, "instance_id");
            const json_t *in = iid ? json_object_get(by_id, iid) : NULL;
            json_t *n = in ? node_of_instance(nodes, node_rds, iid, in, false) : NULL;
            if (!n || n == writer)
                continue;
            json_array_append_new(
                edges,
                json_pack("{s:s, s:O, s:O, s:O, s:s, s:n, s:n, s:n, s:s}", "kind", "aurora", "from",
                          json_object_get(writer, "id"), "to", json_object_get(n, "id"),
                          "cluster_id", json_object_get(c, "id"), "state",
                          jsonutil_str(c, "status") ? jsonutil_str(c, "status") : "unknown", "slot",
                          "lag_bytes", "replay_lag_seconds", "source", "rds"));
        }
    }
}

void topology_merge_rds(json_t *topo, const json_t *instances, const json_t *clusters,
                        const json_t *node_rds)
{
    json_t *nodes = json_object_get(topo, "nodes");
    json_t *edges = json_object_get(topo, "edges");
    json_t *by_id = json_object();
    size_t i;
    const json_t *inst;
    json_array_foreach(instances, i, inst)
    {
        const char *id = jsonutil_str(inst, "id");
        if (id)
            json_object_set(by_id, id, (json_t *)(uintptr_t)inst);
    }
    /* instances named by a registered database, and the instances linked to them */
    json_t *wanted = json_object();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)node_rds, key, v)
    {
        const json_t *in = json_object_get(by_id, json_string_value(v));
        if (!in)
            continue;
        json_object_set_new(wanted, json_string_value(v), json_true());
        if (jsonutil_str(in, "source_instance_id"))
            json_object_set_new(wanted, jsonutil_str(in, "source_instance_id"), json_true());
        const json_t *r;
        size_t k;
        json_array_foreach(json_object_get(in, "read_replica_ids"), k, r)
            json_object_set_new(wanted, json_string_value(r), json_true());
    }
    json_object_foreach(wanted, key, v)
    {
        const json_t *in = json_object_get(by_id, key);
        json_t *n = in ? node_of_instance(nodes, node_rds, key, in, true) : NULL;
        if (n)
            json_object_set_new(n, "rds",
                                json_pack("{s:s, s:O, s:O, s:O, s:O, s:O}", "instance_id", key,
                                          "class", json_object_get(in, "class"), "status",
                                          json_object_get(in, "status"), "engine_version",
                                          json_object_get(in, "engine_version"), "cluster_id",
                                          json_object_get(in, "cluster_id"), "availability_zone",
                                          json_object_get(in, "availability_zone")));
    }
    /* replica links: annotate the physical edge pgfleet saw, or add the one RDS reports */
    json_object_foreach(wanted, key, v)
    {
        const json_t *in = json_object_get(by_id, key);
        const char *src_id = in ? jsonutil_str(in, "source_instance_id") : NULL;
        const json_t *src = src_id ? json_object_get(by_id, src_id) : NULL;
        if (!src)
            continue;
        json_t *from = node_of_instance(nodes, node_rds, src_id, src, false);
        json_t *to = node_of_instance(nodes, node_rds, key, in, false);
        if (!from || !to)
            continue;
        const char *fid = jsonutil_str(from, "id"), *tid = jsonutil_str(to, "id");
        json_t *e;
        bool seen = false;
        json_array_foreach(edges, i, e)
        {
            if (strcmp(jsonutil_str(e, "kind"), "physical") == 0 &&
                strcmp(jsonutil_str(e, "from"), fid) == 0 &&
                strcmp(jsonutil_str(e, "to"), tid) == 0) {
                json_object_set_new(e, "rds_replica", json_true());
                seen = true;
            }
        }
        if (!seen)
            json_array_append_new(edges, json_pack("{s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:b, s:s}",
                                                   "kind", "physical", "from", fid, "to", tid,
                                                   "state", "rds_replica", "slot", "lag_bytes",
                                                   "replay_lag_seconds", "rds_replica", 1, "source",
                                                   "rds"));
    }
    merge_aurora(topo, by_id, clusters, node_rds, wanted);
    json_decref(wanted);
    json_decref(by_id);
}

static bool touches(const json_t *x, const char *list, const char *node)
{
    if (!strcmp(list, "nodes"))
        return jsonutil_str(x, "id") && !strcmp(jsonutil_str(x, "id"), node);
    if (!strcmp(list, "slots"))
        return jsonutil_str(x, "node") && !strcmp(jsonutil_str(x, "node"), node);
    return (jsonutil_str(x, "from") && !strcmp(jsonutil_str(x, "from"), node)) ||
           (jsonutil_str(x, "to") && !strcmp(jsonutil_str(x, "to"), node));
}

void topology_page(json_t *doc, const char *node, long offset, long limit)
{
    static const char *const lists[] = {"nodes", "edges", "slots"};
    size_t next = 0;
    bool more = false;
    for (size_t l = 0; l < 3; l++) {
        json_t *in = json_object_get(doc, lists[l]);
        if (!json_is_array(in))
            continue;
        json_t *out = json_array();
        size_t matched = 0, i;
        json_t *x;
        json_array_foreach(in, i, x)
        {
            if (node && !touches(x, lists[l], node))
                continue;
            bool paged = l > 0; /* nodes are few: filtered, never sliced */
            if (!paged ||
                (matched >= (size_t)offset && (limit == 0 || json_array_size(out) < (size_t)limit)))
                json_array_append(out, x);
            matched++;
        }
        if (l > 0) {
            char key[16];
            snprintf(key, sizeof key, "%s_total", lists[l]);
            json_object_set_new(doc, key, json_integer((json_int_t)matched));
            size_t end = (size_t)offset + json_array_size(out);
            if (end < matched) {
                more = true;
                next = end > next ? end : next;
            }
        }
        json_object_set_new(doc, lists[l], out);
    }
    json_object_set_new(doc, "next_offset", more ? json_integer((json_int_t)next) : json_null());
}
