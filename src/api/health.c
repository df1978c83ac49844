/* health: liveness, readiness, who-am-I, and the plain-HTTP answer on /ws */
#include <stdlib.h>

#include "api/api.h"
#include "common/xalloc.h"
#include "pgfleet_version.h"

void api_healthz(HttpRequest *req, void *app)
{
    Services *s = app;
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:f}", "status", "ok", "version", PGFLEET_VERSION,
                                "uptime_seconds", api_uptime_seconds(s)));
}

static void ready_cb(void *ud, PgfError err, const char *errmsg, double latency_ms)
{
    HttpRequest *req = ud;
    if (err != PGF_OK) {
        http_respond_error_extra(
            req, PGF_ERR_STORE_DOWN,
            json_pack("{s:{s:{s:s, s:s}}}", "checks", "redis", "status", "down", "error",
                      errmsg ? errmsg : ""),
            "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by itself",
            "not ready: redis did not answer: %s", errmsg ? errmsg : "unknown error");
    } else {
        http_respond_json(req, 200,
                          json_pack("{s:s, s:{s:{s:s, s:f}}}", "status", "ready", "checks", "redis",
                                    "status", "ok", "latency_ms", latency_ms));
    }
    http_request_release(req);
}

void api_readyz(HttpRequest *req, void *app)
{
    Services *s = app;
    http_request_hold(req);
    if (store_ping(s->store, ready_cb, req) != PGF_OK) {
        const char *last = store_last_error(s->store);
        http_respond_error_extra(
            req, PGF_ERR_STORE_DOWN,
            json_pack("{s:{s:{s:s, s:s, s:s}}}", "checks", "redis", "status",
                      store_state_name(store_state(s->store)), "url", store_display_url(s->store),
                      "error", last),
            "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by itself",
            "not ready: redis is %s%s%s", store_state_name(store_state(s->store)),
            *last ? ": " : "", last);
        http_request_release(req);
    }
}

void api_ws_plain(HttpRequest *req, void *app)
{
    (void)app;
    http_respond_error(req, PGF_ERR_USAGE,
                       "connect with a WebSocket client (Upgrade: websocket), then send "
                       "{\"type\":\"subscribe\",\"topics\":[\"heartbeat\"]}",
                       "/ws is a WebSocket endpoint");
}

void api_cluster(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *c = cluster_json(s->cluster);
    /* what each instance polls, counted from the registry and the shards' holders */
    size_t n = registry_count(s->registry);
    PgTarget **t = n ? xcalloc(n, sizeof *t) : NULL;
    n = registry_targets(s->registry, t, n);
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(c, "instances"), i, inst)
    {
        const char *id = json_string_value(json_object_get(inst, "id"));
        size_t dbs = 0;
        for (size_t k = 0; k < n; k++)
            dbs += cluster_holder_is(s->cluster, cluster_shard_of(pgtarget_config(t[k])->id), id);
        json_object_set_new(inst, "databases", json_integer((json_int_t)dbs));
    }
    free(t);
    http_respond_json(req, 200, c);
}
