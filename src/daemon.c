#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "api/api.h"
#include "auth/authkey.h"
#include "aws/aws.h"
#include "aws/elasticache.h"
#include "aws/secrets.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "http/server.h"
#include "http/wshub.h"
#include "pgfleet_version.h"
#include "replication/collector.h"
#include "store/store.h"

typedef struct Daemon {
    uv_loop_t loop;
    const Config *cfg;
    AuthKey *authkey;
    Store *store;
    AwsClient *aws;
    WsHub *hub;
    HttpServer *http;
    ApiContext api;
    uv_signal_t sigterm, sigint;
    uv_timer_t heartbeat, drain;
    uint64_t heartbeat_seq;
    uint64_t drain_deadline_ms;
    bool stopping;
    bool closed;
} Daemon;

static void publish_heartbeat(Daemon *d)
{
    d->heartbeat_seq++;
    wshub_publish(d->hub, "heartbeat",
                  json_pack("{s:I, s:f, s:s, s:I, s:I}", "seq", (json_int_t)d->heartbeat_seq,
                            "uptime_seconds", api_uptime_seconds(&d->api), "store",
                            store_state_name(store_state(d->store)), "websocket_clients",
                            (json_int_t)wshub_client_count(d->hub), "requests_served",
                            (json_int_t)http_server_total_requests(d->http)));
}

static void heartbeat_cb(uv_timer_t *t)
{
    publish_heartbeat(t->data);
}

static void on_store_state(void *ud, StoreState state)
{
    Daemon *d = ud;
    if (state == STORE_READY && d->api.dbs)
        databases_on_store_ready(&d->api);
    if (state == STORE_READY)
        migrations_on_store_ready(&d->api);
    if (!d->hub)
        return;
    wshub_publish(d->hub, "health",
                  json_pack("{s:s, s:s}", "component", "redis", "state", store_state_name(state)));
}

static void on_collected(void *ud, const json_t *topology, const json_t *metrics,
                         bool shape_changed)
{
    Daemon *d = ud;
    (void)topology;
    if (shape_changed)
        wshub_publish(d->hub, "topology", replication_topology(&d->api));
    wshub_publish(d->hub, "metrics", json_deep_copy(metrics));
    replication_record(&d->api, metrics);
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void finish_shutdown(Daemon *d)
{
    if (d->closed)
        return;
    d->closed = true;
    size_t left = http_server_inflight(d->http);
    if (left)
        log_warn("%zu requests still running after the grace period; closing them", left);
    uv_timer_stop(&d->drain);
    /* connections first: their requests detach, so store callbacks answer no one */
    http_server_close(d->http);
    collector_free(d->api.collector);
    d->api.collector = NULL;
    replication_sweep_stop();
    streams_shutdown();
    replication_rds_free(d->api.rds);
    d->api.rds = NULL;
    /* targets first (pools, probes), then what they borrow: secrets cache, AWS client */
    databases_free(d->api.dbs);
    d->api.dbs = NULL;
    events_free(d->api.events);
    d->api.events = NULL;
    secrets_free(d->api.secrets);
    d->api.secrets = NULL;
    aws_client_free(d->aws);
    d->aws = NULL;
    d->api.aws = NULL;
    store_free(d->store);
    d->store = NULL;
    d->api.store = NULL;
    uv_close((uv_handle_t *)&d->sigterm, close_cb);
    uv_close((uv_handle_t *)&d->sigint, close_cb);
    uv_close((uv_handle_t *)&d->heartbeat, close_cb);
    uv_close((uv_handle_t *)&d->drain, close_cb);
}

static void drain_cb(uv_timer_t *t)
{
    Daemon *d = t->data;
    if (http_server_inflight(d->http) == 0 || uv_now(&d->loop) >= d->drain_deadline_ms)
        finish_shutdown(d);
}

static void signal_cb(uv_signal_t *s, int signum)
{
    Daemon *d = s->data;
    if (d->stopping) {
        log_warn("second %s: stopping now", signum == SIGINT ? "SIGINT" : "SIGTERM");
        finish_shutdown(d);
        return;
    }
    d->stopping = true;
    log_info("%s received: no new connections; waiting up to %ld ms for %zu in-flight requests",
             signum == SIGINT ? "SIGINT" : "SIGTERM", d->cfg->shutdown_grace_ms,
             http_server_inflight(d->http));
    http_server_stop_accepting(d->http);
    uv_timer_stop(&d->heartbeat);
    d->drain_deadline_ms = uv_now(&d->loop) + (uint64_t)d->cfg->shutdown_grace_ms;
    uv_timer_start(&d->drain, drain_cb, 0, 10);
}

typedef struct GroupLookup {
    bool done;
    char *url;
    char error[600];
} GroupLookup;

static void group_described(void *ud, const json_t *groups, const AwsResult *r)
{
    GroupLookup *g = ud;
    g->done = true;
    if (!r->ok) {
        snprintf(g->error, sizeof g->error, "%s: %s%s%s", r->code ? r->code : "error",
                 r->message ? r->message : "", r->hint ? "\nHINT: " : "", r->hint ? r->hint : "");
        return;
    }
    const json_t *group = json_array_get(groups, 0);
    g->url = group ? elasticache_redis_url(group) : NULL;
    if (!g->url)
        snprintf(g->error, sizeof g->error, "the replication group has no endpoint yet (status %s)",
                 group ? jsonutil_str(group, "status") : "unknown");
}

/*
 * PGFLEET_ELASTICACHE_REPLICATION_GROUP: the store connects to the group's
 * endpoint, keeping the user, password and database of PGFLEET_REDIS_URL.
 * Returns the URL to use (new string) or NULL with the error printed.
 */
static char *elasticache_store_url(Daemon *d, const char *group_id)
{
    GroupLookup g = {0};
    elasticache_describe_groups(d->aws, group_id, group_described, &g);
    while (!g.done)
        uv_run(&d->loop, UV_RUN_ONCE);
    if (!g.url) {
        fprintf(stderr, "pgfleet: could not find ElastiCache replication group '%s': %s\n",
                group_id, g.error);
        return NULL;
    }
    /* carry user:password@ and /db over from the configured URL */
    const char *base = config_get(d->cfg, CFG_REDIS_URL);
    const char *auth = strstr(base, "://");
    auth = auth ? auth + 3 : base;
    const char *at = strchr(auth, '@');
    const char *slash = strchr(auth, '/');
    const char *sep = strstr(g.url, "://") + 3;
    char *tail = strrchr(g.url, '/');
    StrBuf u = STRBUF_INIT;
    strbuf_append(&u, g.url, (size_t)(sep - g.url));
    if (at && (!slash || at < slash))
        strbuf_append(&u, auth, (size_t)(at - auth + 1));
    strbuf_append(&u, sep, (size_t)(tail - sep));
    strbuf_puts(&u, slash ? slash : "/0");
    char masked[600];
    config_mask_url(u.data, masked, sizeof masked);
    log_info("state store: ElastiCache replication group %s at %s", group_id, masked);
    free(g.url);
    return strbuf_detach(&u);
}

static void walk_close_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, close_cb);
}

int daemon_run(const Config *cfg)
{
    Daemon d;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    signal(SIGPIPE, SIG_IGN);

    const char *host = cfg->listen_host;
    d.authkey = authkey_new(config_get(cfg, CFG_AUTH_KEY));
    if (!d.authkey && !config_host_is_loopback(host)) {
        fprintf(stderr,
                "pgfleet: refusing to listen on %s without authentication: anyone who can reach "
                "it would be admin\nHINT: set AUTH_KEY, or listen on a loopback address "
                "(PGFLEET_LISTEN=127.0.0.1:%d)\n",
                config_get(cfg, CFG_LISTEN), cfg->listen_port);
        return pgf_error_exit(PGF_ERR_UNSAFE);
    }

    uv_loop_init(&d.loop);
    char err[512] = "";
    d.aws = aws_client_new(&d.loop, NULL, NULL);
    char *store_url = NULL;
    const char *group = config_get(cfg, CFG_ELASTICACHE_GROUP);
    if (group) {
        store_url = elasticache_store_url(&d, group);
        if (!store_url) {
            aws_client_free(d.aws);
            authkey_free(d.authkey);
            uv_walk(&d.loop, walk_close_cb, NULL);
            uv_run(&d.loop, UV_RUN_DEFAULT);
            uv_loop_close(&d.loop);
            return pgf_error_exit(PGF_ERR_AWS);
        }
    }
    StoreOptions so = {.url = store_url ? store_url : config_get(cfg, CFG_REDIS_URL),
                       .prefix = config_get(cfg, CFG_REDIS_PREFIX),
                       .timeout_ms = cfg->redis_timeout_ms,
                       .ca_file = config_get(cfg, CFG_REDIS_CA_FILE),
                       .on_state = on_store_state,
                       .ud = &d};
    d.store = store_new(&d.loop, &so, err, sizeof err);
    free(store_url);
    if (!d.store) {
        fprintf(stderr, "pgfleet: PGFLEET_REDIS_URL: %s\n", err);
        aws_client_free(d.aws);
        authkey_free(d.authkey);
        uv_walk(&d.loop, walk_close_cb, NULL);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        uv_loop_close(&d.loop);
        return pgf_error_exit(PGF_ERR_CONFIG);
    }
    d.hub = wshub_new(d.authkey);
    d.api = (ApiContext){.loop = &d.loop,
                         .cfg = cfg,
                         .store = d.store,
                         .hub = d.hub,
                         .aws = d.aws,
                         .started_ns = uv_hrtime(),
                         .auth_configured = d.authkey != NULL};
    d.api.secrets = secrets_new(d.aws, cfg->secrets_ttl_seconds);
    d.api.events = events_new();
    d.api.rds = replication_rds_new(&d.api, cfg->rds_discovery_ms);
    replication_sweep_start(&d.api, cfg->inventory_ms);
    d.api.dbs = databases_new(&d.api);
    d.api.collector = collector_new(&d.loop, cfg->collect_interval_seconds * 1000,
                                    databases_servers, d.api.dbs, on_collected, &d);
    if (store_state(d.store) == STORE_READY) {
        databases_on_store_ready(&d.api);
        migrations_on_store_ready(&d.api);
    }
    size_t nroutes;
    const Route *routes = api_routes(&nroutes);
    HttpServerOptions ho = {.loop = &d.loop,
                            .host = host,
                            .port = cfg->listen_port,
                            .max_body_bytes = cfg->max_body_bytes,
                            .routes = routes,
                            .nroutes = nroutes,
                            .app = &d.api,
                            .authkey = d.authkey,
                            .hub = d.hub};
    d.http = http_server_new(&ho, err, sizeof err);
    int exit_code = 0;
    if (!d.http) {
        fprintf(stderr, "pgfleet: %s\n", err);
        exit_code = pgf_error_exit(PGF_ERR_LISTEN);
        store_free(d.store);
        collector_free(d.api.collector);
        replication_sweep_stop();
        replication_rds_free(d.api.rds);
        databases_free(d.api.dbs);
        events_free(d.api.events);
        secrets_free(d.api.secrets);
        aws_client_free(d.aws);
        uv_walk(&d.loop, walk_close_cb, NULL);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        goto out;
    }

    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, signal_cb, SIGTERM);
    uv_signal_start(&d.sigint, signal_cb, SIGINT);
    uv_timer_init(&d.loop, &d.heartbeat);
    uv_timer_init(&d.loop, &d.drain);
    d.heartbeat.data = d.drain.data = &d;
    uint64_t hb_ms = (uint64_t)cfg->heartbeat_seconds * 1000;
    uv_timer_start(&d.heartbeat, heartbeat_cb, hb_ms, hb_ms);

    if (!d.authkey)
        log_warn("no authentication configured (AUTH_KEY unset): every caller on %s is admin; "
                 "serving on loopback only",
                 host);
    log_event(LOG_INFO, NULL,
              json_pack("{s:s, s:s, s:s, s:i}", "version", PGFLEET_VERSION, "redis",
                        store_display_url(d.store), "auth", d.authkey ? "api_key" : "none", "pid",
                        (int)getpid()),
              "pgfleet listening on http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
              strchr(host, ':') ? "]" : "", cfg->listen_port);

    uv_run(&d.loop, UV_RUN_DEFAULT);
    log_info("pgfleet stopped");

out:
    http_server_free(d.http);
    wshub_free(d.hub);
    authkey_free(d.authkey);
    if (uv_loop_close(&d.loop) != 0) {
        /* should not happen: every handle is closed above */
        uv_walk(&d.loop, walk_close_cb, NULL);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        uv_loop_close(&d.loop);
    }
    return exit_code;
}
