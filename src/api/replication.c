/* replication: the collector's snapshot over HTTP, and /metrics for Prometheus */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include <sodium.h>

#include "aws/rds.h"
#include "model/database.h"
#include "pg/target.h"
#include "replication/discover.h"
#include "replication/collector.h"
#include "replication/topology.h"

static bool have_snapshot(HttpRequest *req, ApiContext *ctx)
{
    if (ctx->collector && collector_topology(ctx->collector))
        return true;
    http_respond_error(req, PGF_ERR_NOT_READY,
                       "the first collection runs right after start; retry in a few seconds",
                       "no replication snapshot yet");
    return false;
}

void api_replication_discover(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!have_snapshot(req, ctx))
        return;
    json_t *t = replication_topology(ctx);
    json_t *status = collector_status(ctx->collector);
    json_object_set(t, "collected_at", json_object_get(status, "collected_at"));
    json_object_set(t, "age_seconds", json_object_get(status, "age_seconds"));
    json_decref(status);
    http_respond_json(req, 200, t);
}

void api_replication_status(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!have_snapshot(req, ctx))
        return;
    http_respond_json(req, 200, collector_status(ctx->collector));
}

void api_metrics(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!ctx->collector) {
        http_respond_raw(req, 200, "text/plain; version=0.0.4", "", 0);
        return;
    }
    char *text = collector_prometheus(ctx->collector);
    http_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}

#define HISTORY_KEY "replication:history"
#define LATEST_KEY  "replication:latest"

/* how many samples an hour holds at the collector's interval */
static long history_len(const ApiContext *ctx)
{
    long interval = ctx->cfg->collect_interval_seconds > 0 ? ctx->cfg->collect_interval_seconds : 5;
    return 3600 / interval + 1;
}

static void stored(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_debug("replication metrics not cached: %s", errmsg);
}

/* the numbers of one cycle, without what does not change */
static json_t *compact_sample(const json_t *metrics)
{
    json_t *edges = json_array();
    json_t *slots = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(metrics, "edges"), i, x)
    {
        const char *name = jsonutil_str(x, "subscription");
        json_array_append_new(
            edges,
            json_pack("{s:O, s:O, s:O, s:s?, s:O, s:O, s:O}", "kind", json_object_get(x, "kind"),
                      "from", json_object_get(x, "from"), "to", json_object_get(x, "to"), "name",
                      name ? name : jsonutil_str(x, "slot"), "state", json_object_get(x, "state"),
                      "lag_bytes", json_object_get(x, "lag_bytes"), "lag_seconds",
                      json_object_get(x, "lag_seconds")));
    }
    json_array_foreach(json_object_get(metrics, "slots"), i, x) json_array_append_new(
        slots, json_pack("{s:O, s:O, s:O, s:O}", "node", json_object_get(x, "node"), "name",
                         json_object_get(x, "name"), "retained_wal_bytes",
                         json_object_get(x, "retained_wal_bytes"), "active",
                         json_object_get(x, "active")));
    return json_pack("{s:O, s:I, s:o, s:o}", "at", json_object_get(metrics, "collected_at"),
                     "epoch", (json_int_t)time(NULL), "edges", edges, "slots", slots);
}

void replication_record(ApiContext *ctx, const json_t *metrics)
{
    if (store_state(ctx->store) != STORE_READY)
        return;
    long interval = ctx->cfg->collect_interval_seconds > 0 ? ctx->cfg->collect_interval_seconds : 5;
    char *latest = json_dumps(metrics, JSON_COMPACT);
    if (store_set(ctx->store, LATEST_KEY, latest, strlen(latest), 3 * interval + 5, stored, NULL) !=
        PGF_OK)
        log_debug("replication metrics not cached: the store is down");
    free(latest);
    json_t *sample = compact_sample(metrics);
    char *text = json_dumps(sample, JSON_COMPACT);
    json_decref(sample);
    if (store_list_push(ctx->store, HISTORY_KEY, text, strlen(text), history_len(ctx), 7200, stored,
                        NULL) != PGF_OK)
        log_debug("replication history not kept: the store is down");
    free(text);
}

typedef struct HistoryRead {
    HttpRequest *req;
    long since_epoch;
    long minutes;
    long interval;
} HistoryRead;

static void history_read(void *ud, PgfError err, const char *errmsg, size_t n,
                         const char *const *values, const size_t *lens)
{
    HistoryRead *h = ud;
    if (err != PGF_OK) {
        http_respond_error(h->req, err, "check PGFLEET_REDIS_URL and that Redis is up",
                           "could not read the history: %s", errmsg);
    } else {
        json_t *samples = json_array();
        /* the list is newest first; the answer is oldest first */
        for (size_t i = n; i-- > 0;) {
            json_t *s = json_loadb(values[i], lens[i], 0, NULL);
            if (s && json_integer_value(json_object_get(s, "epoch")) >= h->since_epoch)
                json_array_append_new(samples, s);
            else
                json_decref(s);
        }
        http_respond_json(h->req, 200,
                          json_pack("{s:i, s:i, s:I, s:o}", "minutes", (int)h->minutes,
                                    "interval_seconds", (int)h->interval, "count",
                                    (json_int_t)json_array_size(samples), "samples", samples));
    }
    http_request_release(h->req);
    free(h);
}

void api_replication_history(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    char buf[32];
    long minutes = 60;
    if (http_query_param(req, "minutes", buf, sizeof buf)) {
        char *end;
        minutes = strtol(buf, &end, 10);
        if (*end || minutes < 1 || minutes > 60) {
            http_respond_error(req, PGF_ERR_VALIDATION, "give minutes between 1 and 60",
                               "minutes: '%s' is not a number of minutes from 1 to 60", buf);
            return;
        }
    }
    HistoryRead *h = xcalloc(1, sizeof *h);
    h->req = req;
    h->minutes = minutes;
    h->interval = ctx->cfg->collect_interval_seconds > 0 ? ctx->cfg->collect_interval_seconds : 5;
    h->since_epoch = (long)time(NULL) - minutes * 60;
    if (store_list_range(ctx->store, HISTORY_KEY, 0, history_len(ctx) - 1, history_read, h) !=
        PGF_OK) {
        free(h);
        http_respond_error(req, PGF_ERR_STORE_DOWN, "check PGFLEET_REDIS_URL and that Redis is up",
                           "the state store is not available");
        return;
    }
    http_request_hold(req);
}

/* ---- RDS: DescribeDBInstances on a slow timer, merged into the topology ---- */

struct RdsWatch {
    ApiContext *ctx;
    uv_timer_t timer;
    json_t *instances;
    json_t *clusters;
    char error[400];
    char described_at[32];
    bool busy, closing;
    int refs;
};

static void rds_unref(RdsWatch *w)
{
    if (--w->refs > 0)
        return;
    json_decref(w->instances);
    json_decref(w->clusters);
    free(w);
}

static void rds_described(void *ud, const json_t *instances, const AwsResult *r)
{
    RdsWatch *w = ud;
    w->busy = false;
    if (!w->closing) {
        if (r->ok) {
            json_decref(w->instances);
            w->instances = json_deep_copy(instances);
            w->error[0] = '\0';
            jsonutil_now_rfc3339(w->described_at, sizeof w->described_at);
        } else {
            char msg[sizeof w->error];
            snprintf(msg, sizeof msg, "%s: %s", r->code ? r->code : "error",
                     r->message ? r->message : "");
            if (strcmp(msg, w->error) != 0)
                log_warn("RDS DescribeDBInstances failed (topology keeps the last answer): %s%s%s",
                         msg, r->hint ? "; " : "", r->hint ? r->hint : "");
            memcpy(w->error, msg, sizeof w->error);
        }
    }
    rds_unref(w);
}

static void clusters_described(void *ud, const json_t *clusters, const AwsResult *r)
{
    RdsWatch *w = ud;
    if (!w->closing && r->ok) {
        json_decref(w->clusters);
        w->clusters = json_deep_copy(clusters);
    } else if (!w->closing)
        log_debug("RDS DescribeDBClusters failed: %s", r->message ? r->message : "");
    rds_unref(w);
}

static void rds_tick(uv_timer_t *t)
{
    RdsWatch *w = t->data;
    if (w->busy)
        return;
    json_t *map = databases_rds_map(w->ctx->dbs);
    bool any = json_object_size(map) > 0;
    json_decref(map);
    if (!any)
        return; /* no database names an RDS instance: no calls */
    w->busy = true;
    w->refs += 2;
    rds_describe_instances(w->ctx->aws, NULL, rds_described, w);
    rds_describe_clusters(w->ctx->aws, NULL, clusters_described, w);
}

RdsWatch *replication_rds_new(ApiContext *ctx, long interval_ms)
{
    RdsWatch *w = xcalloc(1, sizeof *w);
    w->ctx = ctx;
    w->refs = 2; /* owner and timer */
    uv_timer_init(ctx->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, rds_tick, 1000, (uint64_t)interval_ms);
    return w;
}

static void rds_timer_closed(uv_handle_t *h)
{
    rds_unref(h->data);
}

void replication_rds_free(RdsWatch *w)
{
    if (!w)
        return;
    w->closing = true;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, rds_timer_closed);
    rds_unref(w);
}

json_t *replication_topology(ApiContext *ctx)
{
    json_t *t = json_deep_copy(collector_topology(ctx->collector));
    RdsWatch *w = ctx->rds;
    if (w && w->instances) {
        json_t *map = databases_rds_map(ctx->dbs);
        topology_merge_rds(t, w->instances, w->clusters, map);
        json_decref(map);
        json_object_set_new(t, "rds",
                            json_pack("{s:s, s:s?}", "described_at", w->described_at, "error",
                                      w->error[0] ? w->error : NULL));
    }
    return t;
}

/* ---- the slower sweep: publication tables and initial-sync states per database ---- */

#define SWEEP_MAX 1024

typedef struct Sweep {
    ApiContext *ctx;
    int n, waiting;
    PgConnParams *params;
    char **owned;
    size_t nowned;
    json_t *snaps;
} Sweep;

static char *sweep_own(Sweep *s, const char *v)
{
    s->owned = xrealloc(s->owned, (s->nowned + 1) * sizeof *s->owned);
    return s->owned[s->nowned++] = xstrdup(v ? v : "");
}

static void sweep_free(Sweep *s)
{
    for (size_t i = 0; i < s->nowned; i++) {
        sodium_memzero(s->owned[i], strlen(s->owned[i]));
        free(s->owned[i]);
    }
    free(s->owned);
    free(s->params);
    json_decref(s->snaps);
    free(s);
}

static bool sweeping;

static void swept(void *ud, const json_t *snapshots)
{
    Sweep *s = ud;
    size_t i;
    const json_t *snap;
    json_array_foreach(snapshots, i, snap)
    {
        const json_t *inv = json_object_get(snap, "inventory");
        if (s->ctx->collector)
            collector_set_inventory(s->ctx->collector, jsonutil_str(snap, "id"), inv);
    }
    sweeping = false;
    sweep_free(s);
}

typedef struct SweepPw {
    Sweep *s;
    int idx;
} SweepPw;

static void sweep_password(void *ud, const char *password, const PgError *err)
{
    SweepPw *w = ud;
    Sweep *s = w->s;
    if (!err)
        s->params[w->idx].password = sweep_own(s, password);
    free(w);
    if (--s->waiting == 0)
        discover_inventory(s->ctx->loop, s->params, s->snaps, false, swept, s);
}

static void sweep_tick(uv_timer_t *t)
{
    ApiContext *ctx = t->data;
    const json_t *last = ctx->collector ? collector_snapshots(ctx->collector) : NULL;
    if (sweeping || !last || !ctx->dbs)
        return;
    PgTarget **targets = xcalloc(SWEEP_MAX, sizeof *targets);
    size_t n = databases_servers(ctx->dbs, targets, SWEEP_MAX);
    Sweep *s = xcalloc(1, sizeof *s);
    s->ctx = ctx;
    s->params = xcalloc(n + 1, sizeof *s->params);
    s->snaps = json_array();
    for (size_t i = 0; i < n; i++) {
        const DatabaseConfig *db = pgtarget_config(targets[i]);
        char id[300];
        snprintf(id, sizeof id, "%s:%lld", db->host, db->port);
        const json_t *snap = NULL, *x;
        size_t k;
        json_array_foreach(last, k, x) if (!strcmp(jsonutil_str(x, "id"), id)) snap = x;
        if (!snap)
            continue;
        json_array_append_new(s->snaps, json_deep_copy(snap));
        s->params[s->n] = (PgConnParams){.host = sweep_own(s, db->host),
                                         .port = (int)db->port,
                                         .dbname = sweep_own(s, db->dbname),
                                         .user = sweep_own(s, db->user),
                                         .sslmode = sslmode_names[db->sslmode],
                                         .sslrootcert = config_get(ctx->cfg, CFG_PG_CA_FILE),
                                         .application_name = "pgfleet inventory",
                                         .connect_timeout_ms = ctx->cfg->pg_connect_timeout_ms};
        targets[s->n] = targets[i];
        s->n++;
    }
    if (s->n == 0) {
        free(targets);
        sweep_free(s);
        return;
    }
    sweeping = true;
    s->waiting = s->n + 1;
    for (int i = 0; i < s->n; i++) {
        SweepPw *w = xmalloc(sizeof *w);
        w->s = s;
        w->idx = i;
        pgtarget_password(targets[i], sweep_password, w);
    }
    free(targets);
    if (--s->waiting == 0)
        discover_inventory(ctx->loop, s->params, s->snaps, false, swept, s);
}

static uv_timer_t sweep_timer;

void replication_sweep_start(ApiContext *ctx, long interval_ms)
{
    uv_timer_init(ctx->loop, &sweep_timer);
    sweep_timer.data = ctx;
    uv_timer_start(&sweep_timer, sweep_tick, 1500, (uint64_t)interval_ms);
}

void replication_sweep_stop(void)
{
    uv_timer_stop(&sweep_timer);
    if (!uv_is_closing((uv_handle_t *)&sweep_timer))
        uv_close((uv_handle_t *)&sweep_timer, NULL);
}
