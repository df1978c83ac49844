#include "replication/collector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pg/discover.h"
#include "replication/topology.h"

#define MAX_SERVERS 4096

struct Collector {
    uv_loop_t *loop;
    uint64_t interval_ms;
    CollectorServers servers;
    void *servers_ud;
    CollectorCb cb;
    void *cb_ud;
    CollectorLocalCb local_cb;
    void *local_ud;
    uv_timer_t timer;
    bool running;
    bool closing;
    int refs;
    /* the cycle in progress */
    json_t *snapshots;
    int pending;
    uint64_t started_ns;
    /* the last result */
    json_t *topology;
    json_t *shape;
    json_t *last_known;     /* edge key -> {lag_bytes, lag_seconds, collected_at, epoch} */
    json_t *last_snapshots; /* the last cycle's, for the inventory sweep */
    json_t *inventory;      /* server id -> per-database inventory (the slower sweep) */
    char collected_at[32];
    time_t collected_epoch;
    double duration_ms;
    uint64_t cycles;
};

typedef struct Probe {
    Collector *c;
    size_t idx;
} Probe;

static void unref(void *owner)
{
    Collector *c = owner;
    if (--c->refs > 0)
        return;
    json_decref(c->snapshots);
    json_decref(c->topology);
    json_decref(c->shape);
    json_decref(c->last_known);
    json_decref(c->last_snapshots);
    json_decref(c->inventory);
    free(c);
}

/* nodes and edges without the numbers that change every cycle */
static json_t *shape_of(const json_t *topo)
{
    json_t *s = json_pack("{s:[], s:[]}", "nodes", "edges");
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(topo, "nodes"), i, n) json_array_append_new(
        json_object_get(s, "nodes"),
        json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(n, "id"), "role",
                  json_object_get(n, "role"), "reachable", json_object_get(n, "reachable"),
                  "managed", json_object_get(n, "managed")));
    json_array_foreach(json_object_get(topo, "edges"), i, n) json_array_append_new(
        json_object_get(s, "edges"),
        json_pack("{s:O, s:O, s:O, s:O, s:O}", "kind", json_object_get(n, "kind"), "from",
                  json_object_get(n, "from"), "to", json_object_get(n, "to"), "state",
                  json_object_get(n, "state"), "subscription",
                  json_object_get(n, "subscription") ?: json_null()));
    return s;
}

/* the identity of an edge across cycles */
static void edge_key(const json_t *e, char *buf, size_t len)
{
    /* a physical edge is one per pair (its slot may be unknown while it is down) */
    const char *name = jsonutil_str(e, "subscription");
    snprintf(buf, len, "%s|%s|%s|%s", jsonutil_str(e, "kind"), jsonutil_str(e, "from"),
             jsonutil_str(e, "to"), name ? name : "");
}

/* remembers each edge's last known lag, so an unknown value can show its last one and age */
static void remember_lags(Collector *c, const json_t *topo)
{
    size_t i;
    const json_t *e;
    char key[600];
    json_array_foreach(json_object_get(topo, "edges"), i, e)
    {
        if (!json_is_integer(json_object_get(e, "lag_bytes")))
            continue;
        edge_key(e, key, sizeof key);
        const json_t *secs = json_object_get(e, "replay_lag_seconds");
        json_object_set_new(c->last_known, key,
                            json_pack("{s:O, s:O, s:s, s:I}", "lag_bytes",
                                      json_object_get(e, "lag_bytes"), "lag_seconds",
                                      secs ? secs : json_null(), "collected_at", c->collected_at,
                                      "epoch", (json_int_t)c->collected_epoch));
    }
}

static void timer_cb(uv_timer_t *t)
{
    collector_kick(t->data);
}

static void schedule(Collector *c)
{
    if (!c->closing)
        uv_timer_start(&c->timer, timer_cb, c->interval_ms, 0);
}

static bool has_server(const json_t *snapshots, const char *id)
{
    size_t i;
    const json_t *s;
    json_array_foreach(snapshots, i, s) if (id && jsonutil_str(s, "id") &&
                                            strcmp(jsonutil_str(s, "id"), id) == 0) return true;
    return false;
}

void collector_merge(Collector *c, json_t *others)
{
    json_t *all = c->last_snapshots ? json_copy(c->last_snapshots) : json_array();
    size_t i;
    json_t *snap;
    json_array_foreach(others, i, snap) if (!has_server(all, jsonutil_str(snap, "id")))
        json_array_append(all, snap);
    json_decref(others);
    json_t *topo = topology_build(all);
    json_decref(all);
    remember_lags(c, topo);
    json_t *shape = shape_of(topo);
    bool changed = !c->shape || !json_equal(shape, c->shape);
    json_decref(c->shape);
    c->shape = shape;
    json_decref(c->topology);
    c->topology = topo;
    if (changed)
        log_info("replication topology: %zu nodes, %zu edges, %zu slots",
                 json_array_size(json_object_get(topo, "nodes")),
                 json_array_size(json_object_get(topo, "edges")),
                 json_array_size(json_object_get(topo, "slots")));
    if (c->cb && !c->closing) {
        json_t *metrics = collector_status(c);
        c->cb(c->cb_ud, c->topology, metrics, changed);
        json_decref(metrics);
    }
}

static void cycle_done(Collector *c)
{
    size_t i;
    json_t *snap;
    json_array_foreach(c->snapshots, i, snap)
    {
        json_t *inv = json_object_get(c->inventory, jsonutil_str(snap, "id"));
        if (inv && json_is_true(json_object_get(snap, "reached")))
            json_object_set(snap, "inventory", inv);
    }
    json_decref(c->last_snapshots);
    c->last_snapshots = c->snapshots;
    c->snapshots = NULL;
    c->duration_ms = (double)(uv_hrtime() - c->started_ns) / 1e6;
    jsonutil_now_rfc3339(c->collected_at, sizeof c->collected_at);
    c->collected_epoch = time(NULL);
    c->cycles++;
    c->running = false;
    if (c->local_cb && !c->closing)
        c->local_cb(c->local_ud, c->last_snapshots); /* it calls collector_merge */
    else if (!c->closing)
        collector_merge(c, NULL);
    schedule(c);
}

static void probed(void *ud, PgConn *conn, PGresult *const *res, int n, const PgError *err)
{
    (void)conn;
    Probe *p = ud;
    Collector *c = p->c;
    if (c->snapshots)
        discover_snapshot_fill(json_array_get(c->snapshots, p->idx), res, n, err);
    free(p);
    if (--c->pending == 0 && !c->closing)
        cycle_done(c);
    unref(c);
}

void collector_kick(Collector *c)
{
    if (c->running || c->closing)
        return;
    PgTarget **targets = xcalloc(MAX_SERVERS, sizeof *targets);
    size_t n = c->servers(c->servers_ud, targets, MAX_SERVERS);
    c->running = true;
    c->started_ns = uv_hrtime();
    c->snapshots = json_array();
    c->pending = (int)n + 1; /* +1 keeps the cycle open while the requests are sent */
    for (size_t i = 0; i < n; i++) {
        const DatabaseConfig *db = pgtarget_config(targets[i]);
        json_array_append_new(c->snapshots, discover_snapshot_new(db->host, (int)db->port));
    }
    for (size_t i = 0; i < n; i++) {
        Probe *p = xmalloc(sizeof *p);
        p->c = c;
        p->idx = i;
        c->refs++;
        pgpool_pipeline(pgtarget_pool(targets[i]), discover_queries, discover_nqueries, probed, p);
    }
    free(targets);
    if (--c->pending == 0)
        cycle_done(c);
}

Collector *collector_new(uv_loop_t *loop, long interval_ms, CollectorServers servers,
                         void *servers_ud, CollectorCb cb, void *cb_ud)
{
    Collector *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->interval_ms = (uint64_t)(interval_ms > 0 ? interval_ms : 5000);
    c->servers = servers;
    c->servers_ud = servers_ud;
    c->cb = cb;
    c->cb_ud = cb_ud;
    c->refs = 2; /* the owner and the timer */
    c->last_known = json_object();
    c->inventory = json_object();
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, timer_cb, 200, 0);
    return c;
}

void collector_free(Collector *c)
{
    if (!c)
        return;
    c->closing = true;
    uvtimer_close(&c->timer, unref);
    unref(c);
}

const json_t *collector_topology(const Collector *c)
{
    return c->topology;
}

json_t *collector_status(const Collector *c)
{
    if (!c->topology)
        return json_pack("{s:n, s:n, s:[], s:[], s:[]}", "collected_at", "age_seconds", "nodes",
                         "edges", "slots");
    json_t *nodes = json_array();
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(c->topology, "nodes"), i, n) json_array_append_new(
        nodes, json_pack("{s:O, s:O, s:O, s:O, s:O}", "key", json_object_get(n, "id"), "id",
                         json_object_get(n, "id"), "managed", json_object_get(n, "managed"), "up",
                         json_object_get(n, "reachable"), "role", json_object_get(n, "role")));
    json_t *edges = json_array();
    json_array_foreach(json_object_get(c->topology, "edges"), i, n)
    {
        json_t *e =
            json_pack("{s:O, s:O, s:O, s:O, s:O}", "kind", json_object_get(n, "kind"), "from",
                      json_object_get(n, "from"), "to", json_object_get(n, "to"), "state",
                      json_object_get(n, "state"), "lag_bytes", json_object_get(n, "lag_bytes"));
        const json_t *secs = json_object_get(n, "replay_lag_seconds");
        json_object_set(e, "lag_seconds", secs ? (json_t *)(uintptr_t)secs : json_null());
        if (json_object_get(n, "subscription"))
            json_object_set(e, "subscription", json_object_get(n, "subscription"));
        if (json_object_get(n, "slot"))
            json_object_set(e, "slot", json_object_get(n, "slot"));
        if (json_object_get(n, "target_database")) {
            json_object_set(e, "source_database", json_object_get(n, "source_database"));
            json_object_set(e, "target_database", json_object_get(n, "target_database"));
        }
        /* unknown now: the last value seen, marked with its age */
        char key[600];
        edge_key(n, key, sizeof key);
        json_object_set_new(e, "key", json_string(key));
        const json_t *last = json_object_get(c->last_known, key);
        bool stale = !json_is_integer(json_object_get(n, "lag_bytes")) && last;
        json_object_set_new(e, "stale", json_boolean(stale));
        if (stale)
            json_object_set_new(
                e, "last_known",
                json_pack("{s:O, s:O, s:O, s:f}", "lag_bytes", json_object_get(last, "lag_bytes"),
                          "lag_seconds", json_object_get(last, "lag_seconds"), "collected_at",
                          json_object_get(last, "collected_at"), "age_seconds",
                          difftime(time(NULL),
                                   (time_t)json_integer_value(json_object_get(last, "epoch")))));
        json_array_append_new(edges, e);
    }
    json_t *slots = json_deep_copy(json_object_get(c->topology, "slots"));
    json_t *s;
    json_array_foreach(slots, i, s) json_object_set_new(
        s, "key", json_sprintf("%s/%s", jsonutil_str(s, "node"), jsonutil_str(s, "name")));
    return json_pack("{s:s, s:f, s:f, s:I, s:o, s:o, s:o}", "collected_at", c->collected_at,
                     "age_seconds", difftime(time(NULL), c->collected_epoch), "duration_ms",
                     c->duration_ms, "cycles", (json_int_t)c->cycles, "nodes", nodes, "edges",
                     edges, "slots", slots ? slots : json_array());
}

/* a Prometheus label value: backslash, quote and newline escaped */
static void label(StrBuf *b, const char *name, const char *v, bool first)
{
    strbuf_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            strbuf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            strbuf_puts(b, "\\n");
        else
            strbuf_append(b, p, 1);
    }
    strbuf_puts(b, "\"");
}

static void edge_labels(StrBuf *b, const json_t *e)
{
    strbuf_puts(b, "{");
    label(b, "kind", jsonutil_str(e, "kind"), true);
    label(b, "from", jsonutil_str(e, "from"), false);
    label(b, "to", jsonutil_str(e, "to"), false);
    if (jsonutil_str(e, "subscription"))
        label(b, "subscription", jsonutil_str(e, "subscription"), false);
    else if (jsonutil_str(e, "slot"))
        label(b, "slot", jsonutil_str(e, "slot"), false);
    strbuf_puts(b, "}");
}

char *collector_prometheus(const Collector *c)
{
    StrBuf b = STRBUF_INIT;
    const json_t *t = c->topology;
    size_t i;
    const json_t *x;
    strbuf_puts(&b, "# HELP pgfleet_replication_lag_bytes Bytes the downstream is behind "
                    "(absent when unknown).\n# TYPE pgfleet_replication_lag_bytes gauge\n");
    json_array_foreach(json_object_get(t, "edges"), i, x)
    {
        if (!json_is_integer(json_object_get(x, "lag_bytes")))
            continue;
        strbuf_puts(&b, "pgfleet_replication_lag_bytes");
        edge_labels(&b, x);
        strbuf_printf(&b, " %lld\n",
                      (long long)json_integer_value(json_object_get(x, "lag_bytes")));
    }
    strbuf_puts(&b, "# HELP pgfleet_replication_lag_seconds Replay lag of physical standbys "
                    "(absent when unknown).\n# TYPE pgfleet_replication_lag_seconds gauge\n");
    json_array_foreach(json_object_get(t, "edges"), i, x)
    {
        if (!json_is_number(json_object_get(x, "replay_lag_seconds")))
            continue;
        strbuf_puts(&b, "pgfleet_replication_lag_seconds");
        edge_labels(&b, x);
        strbuf_printf(&b, " %g\n", json_number_value(json_object_get(x, "replay_lag_seconds")));
    }
    strbuf_puts(&b, "# HELP pgfleet_replication_edge_streaming 1 when the edge is streaming.\n"
                    "# TYPE pgfleet_replication_edge_streaming gauge\n");
    json_array_foreach(json_object_get(t, "edges"), i, x)
    {
        strbuf_puts(&b, "pgfleet_replication_edge_streaming");
        edge_labels(&b, x);
        const char *st = jsonutil_str(x, "state");
        strbuf_printf(&b, " %d\n", st && strcmp(st, "streaming") == 0);
    }
    strbuf_puts(&b, "# HELP pgfleet_slot_retained_wal_bytes WAL a replication slot keeps.\n"
                    "# TYPE pgfleet_slot_retained_wal_bytes gauge\n");
    json_array_foreach(json_object_get(t, "slots"), i, x)
    {
        if (!json_is_integer(json_object_get(x, "retained_wal_bytes")))
            continue;
        strbuf_puts(&b, "pgfleet_slot_retained_wal_bytes{");
        label(&b, "node", jsonutil_str(x, "node"), true);
        label(&b, "slot", jsonutil_str(x, "name"), false);
        label(&b, "type", jsonutil_str(x, "type"), false);
        label(&b, "active", json_is_true(json_object_get(x, "active")) ? "true" : "false", false);
        strbuf_printf(&b, "} %lld\n",
                      (long long)json_integer_value(json_object_get(x, "retained_wal_bytes")));
    }
    strbuf_puts(&b, "# HELP pgfleet_node_up 1 when pgfleet reached the server in the last cycle.\n"
                    "# TYPE pgfleet_node_up gauge\n");
    json_array_foreach(json_object_get(t, "nodes"), i, x)
    {
        if (!json_is_true(json_object_get(x, "managed")))
            continue;
        strbuf_puts(&b, "pgfleet_node_up{");
        label(&b, "node", jsonutil_str(x, "id"), true);
        label(&b, "role", jsonutil_str(x, "role") ? jsonutil_str(x, "role") : "unknown", false);
        strbuf_printf(&b, "} %d\n", json_is_true(json_object_get(x, "reachable")));
    }
    strbuf_printf(&b,
                  "# HELP pgfleet_collector_duration_seconds Time of the last collection cycle.\n"
                  "# TYPE pgfleet_collector_duration_seconds gauge\n"
                  "pgfleet_collector_duration_seconds %g\n"
                  "# HELP pgfleet_collector_cycles_total Collection cycles completed.\n"
                  "# TYPE pgfleet_collector_cycles_total counter\n"
                  "pgfleet_collector_cycles_total %llu\n"
                  "# HELP pgfleet_collector_last_success_timestamp_seconds When the last cycle "
                  "ended.\n# TYPE pgfleet_collector_last_success_timestamp_seconds gauge\n"
                  "pgfleet_collector_last_success_timestamp_seconds %lld\n",
                  c->duration_ms / 1000.0, (unsigned long long)c->cycles,
                  (long long)c->collected_epoch);
    return strbuf_detach(&b);
}

const json_t *collector_snapshots(const Collector *c)
{
    return c->last_snapshots;
}

void collector_on_local(Collector *c, CollectorLocalCb cb, void *ud)
{
    c->local_cb = cb;
    c->local_ud = ud;
}

void collector_set_inventory(Collector *c, const char *server_id, const json_t *inventory)
{
    if (inventory)
        json_object_set_new(c->inventory, server_id, json_deep_copy(inventory));
    else
        json_object_del(c->inventory, server_id);
}
