#include "app/app.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "alert/alert.h"
#include "api/api.h"
#include "auth/auth.h"
#include "auth/authkey.h"
#include "aws/aws.h"
#include "aws/elasticache.h"
#include "aws/secrets.h"
#include "cluster/cluster.h"
#include "cluster/share.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/mask.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "http/server.h"
#include "http/wshub.h"
#include "migrate/runs.h"
#include "pg/pgconn.h"
#include "pgfleet_version.h"
#include "registry/registry.h"
#include "replication/eventlog.h"
#include "replication/replication.h"
#include "store/store.h"
#include "streams/streams.h"

typedef struct App {
    uv_loop_t loop;
    const Config *cfg;
    AwsClient *aws;
    Store *store;
    Store *bus; /* a second connection, subscribed to the other instances' events */
    Cluster *cluster;
    WsHub *hub;
    SecretsCache *secrets;
    Auth *auth;
    EventLog *events;
    Registry *registry;
    Replication *replication;
    Streams *streams;
    Runs *runs;
    Alert *alert;
    HttpServer *http;
    Services services; /* what the API handlers see */
    uv_signal_t sigterm, sigint;
    uv_timer_t heartbeat, drain, duties;
    bool handles_open;
    bool registry_loaded, was_leader;
    uint64_t last_sync;
    uint64_t heartbeat_seq;
    uint64_t drain_deadline_ms;
    bool stopping, stopped;
} App;

/* ---- wiring: events reach this instance's browsers and every other instance's ---- */

#define BUS_CHANNEL "cluster:events"

/* to this instance's browsers; alerting sees it on the way (data stolen) */
static void deliver(App *a, const char *topic, json_t *data)
{
    if (a->alert)
        alert_observe(a->alert, topic, data);
    wshub_publish(a->hub, topic, data);
}

/* to the other instances (they deliver it); dropped while Redis is down */
static void broadcast(App *a, const char *topic, const json_t *data)
{
    if (!a->cluster || !a->store)
        return;
    json_t *m = json_pack("{s:s, s:s, s:O}", "o", cluster_id(a->cluster), "t", topic, "d",
                          jsonutil_unconst(data));
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (text)
        store_publish(a->store, BUS_CHANNEL, text, strlen(text));
    free(text);
}

/* what one instance's services report (health it probed, log events, alerts, runs, streams) */
static void shared_publish(void *ud, const char *topic, json_t *data)
{
    App *a = ud;
    broadcast(a, topic, data);
    deliver(a, topic, data);
}

static Publisher shared(App *a)
{
    return (Publisher){.publish = shared_publish, .ud = a};
}

/* what every instance computes for itself (the merged topology and metrics) */
static void local_publish(void *ud, const char *topic, json_t *data)
{
    App *a = ud;
    json_t *diff = json_object_get(data, "diff"), *full = json_object_get(data, "full");
    if (!strcmp(topic, "metrics") && diff && full) { /* changes out, the whole kept */
        wshub_publish_state(a->hub, topic, json_incref(diff), json_incref(full));
        json_decref(data);
        return;
    }
    deliver(a, topic, data);
}

static Publisher local(App *a)
{
    return (Publisher){.publish = local_publish, .ud = a};
}

/* a message of another instance; Redis content is checked like any input */
static void on_bus_message(void *ud, const char *payload, size_t len)
{
    App *a = ud;
    json_t *m = json_loadb(payload, len, 0, NULL);
    const char *origin = jsonutil_str(m, "o"), *topic = jsonutil_str(m, "t");
    json_t *data = json_object_get(m, "d");
    if (!a->cluster || !origin || !topic || !json_is_object(data) ||
        !strcmp(origin, cluster_id(a->cluster))) {
        json_decref(m);
        return;
    }
    const char *id = jsonutil_str(data, "id");
    if (!strcmp(topic, "registry")) {
        if (a->registry && id)
            registry_sync_one(a->registry, id);
    } else if (!strcmp(topic, "alert-settings")) {
        if (a->alert)
            alert_reload(a->alert);
    } else if (!strcmp(topic, "migration-cancel")) {
        if (a->runs && id && runs_cancel_here(a->runs, id))
            log_info("migration %s: cancelled at the request of instance %s", id, origin);
    } else if (wshub_topic_valid(topic)) {
        deliver(a, topic, json_incref(data));
    }
    json_decref(m);
}

static void on_registry_changed(void *ud, const char *database_id)
{
    App *a = ud;
    json_t *d = json_pack("{s:s}", "id", database_id);
    broadcast(a, "registry", d);
    json_decref(d);
}

static bool owns_database(void *ud, const char *database_id)
{
    return cluster_owns(ud, database_id);
}

static bool instance_alive(void *ud, const char *instance)
{
    App *a = ud;
    return a->cluster && cluster_alive(a->cluster, instance);
}

static void alert_settings_changed(void *ud)
{
    json_t *d = json_object();
    broadcast(ud, "alert-settings", d);
    json_decref(d);
}

static void forward_cancel(void *ud, const char *execution_id)
{
    json_t *d = json_pack("{s:s}", "id", execution_id);
    broadcast(ud, "migration-cancel", d);
    json_decref(d);
}

static void on_collected(void *ud, const json_t *topology, const json_t *metrics)
{
    App *a = ud;
    if (a->alert && a->cluster && cluster_is_leader(a->cluster))
        alert_collected(a->alert, topology, metrics);
}

/* ---- what the collector gathered, shared; what the others gathered, merged ---- */

static void shared_back(void *ud, json_t *servers, json_t *health, const json_t *rds)
{
    App *a = ud;
    if (!a->replication) { /* stopping */
        json_decref(servers);
        json_decref(health);
        return;
    }
    if (health)
        registry_set_remote(a->registry, health);
    replication_merge(a->replication, servers, rds);
}

static void share(void *ud, Replication *r, const json_t *local_servers)
{
    App *a = ud;
    if (cluster_members(a->cluster) <= 1) { /* alone: nobody to share with */
        replication_merge(r, NULL, NULL);
        return;
    }
    json_t *rds = cluster_is_leader(a->cluster) ? replication_rds_export(r) : NULL;
    long ttl_ms = 3 * a->cfg->collect_interval_seconds * 1000;
    share_cycle(a->cluster, a->registry, a->store, ttl_ms, local_servers, rds, shared_back, a);
}

/* what the others see of this instance in GET /api/cluster */
static json_t *describe_instance(void *ud)
{
    App *a = ud;
    return a->registry ? json_pack("{s:o}", "connections", registry_connections(a->registry))
                       : NULL;
}

/* ---- the leader's duties: what must run once among the instances ---- */

static void leader_duties(App *a)
{
    if (!a->registry_loaded || !cluster_is_leader(a->cluster))
        return;
    runs_sweep(a->runs);
    streams_recover(a->streams);
}

static void duties_cb(uv_timer_t *t)
{
    App *a = t->data;
    leader_duties(a);
    uint64_t now = uv_now(&a->loop);
    if (now - a->last_sync >= (uint64_t)a->cfg->cluster_sync_ms &&
        store_state(a->store) == STORE_READY) {
        a->last_sync = now;
        registry_sync(a->registry);
    }
}

static void on_cluster_change(void *ud)
{
    App *a = ud;
    bool leader = cluster_is_leader(a->cluster);
    if (a->registry)
        registry_reconcile(a->registry);
    if (a->replication) {
        replication_set_leader(a->replication, leader);
        replication_kick(a->replication);
    }
    if (a->alert)
        alert_set_active(a->alert, leader);
    if (leader && !a->was_leader && a->registry_loaded) {
        leader_duties(a);
        runs_recover_prepared(a->runs);
    }
    a->was_leader = leader;
}

static void on_store_state(void *ud, StoreState state)
{
    App *a = ud;
    if (state == STORE_READY) {
        if (a->registry)
            registry_store_ready(a->registry);
        if (a->alert)
            alert_store_ready(a->alert);
        if (a->cluster)
            cluster_store_ready(a->cluster);
    }
    if (a->hub)
        wshub_publish(
            a->hub, "health",
            json_pack("{s:s, s:s}", "component", "redis", "state", store_state_name(state)));
}

static void on_registry_loaded(void *ud)
{
    App *a = ud;
    a->registry_loaded = true;
    registry_reconcile(a->registry);
    if (cluster_is_leader(a->cluster)) {
        leader_duties(a);
        runs_recover_prepared(a->runs);
    }
}

static void on_log_event(void *ud, json_t *event)
{
    eventlog_add(ud, event);
}

/* ---- the one teardown path: the reverse of the start ---- */

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void app_stop(App *a)
{
    if (a->stopped)
        return;
    a->stopped = true;
    if (a->handles_open) {
        uv_close((uv_handle_t *)&a->sigterm, close_cb);
        uv_close((uv_handle_t *)&a->sigint, close_cb);
        /* already stopping: a further signal must not kill the teardown halfway */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        uv_close((uv_handle_t *)&a->heartbeat, close_cb);
        uv_close((uv_handle_t *)&a->drain, close_cb);
        uv_close((uv_handle_t *)&a->duties, close_cb);
    }
    cluster_leave(a->cluster); /* a start that failed, or a second signal */
    /* connections first: their requests detach, so service callbacks answer no one */
    if (a->http)
        http_server_close(a->http);
    alert_free(a->alert);
    a->alert = NULL;
    a->services.alert = NULL;
    runs_free(a->runs);
    a->runs = NULL;
    streams_free(a->streams);
    a->streams = NULL;
    replication_free(a->replication);
    a->replication = NULL;
    /* targets (pools, probes, log sources), then what they borrow */
    registry_free(a->registry);
    a->registry = NULL;
    eventlog_free(a->events);
    a->events = NULL;
    auth_free(a->auth);
    a->auth = NULL;
    a->services.auth = NULL;
    secrets_free(a->secrets);
    a->secrets = NULL;
    cluster_free(a->cluster);
    a->cluster = NULL;
    a->services.cluster = NULL;
    store_free(a->bus);
    a->bus = NULL;
    store_free(a->store);
    a->store = NULL;
    aws_client_free(a->aws);
    a->aws = NULL;
}

static void walk_close_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, close_cb);
}

/* after the loop: what must outlive it, then the loop itself */
static void app_free(App *a)
{
    http_server_free(a->http);
    wshub_free(a->hub);
    if (uv_loop_close(&a->loop) != 0) {
        /* should not happen: every handle is closed by app_stop */
        uv_walk(&a->loop, walk_close_cb, NULL);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        uv_loop_close(&a->loop);
    }
}

/* ---- signals ---- */

static void publish_heartbeat(App *a)
{
    a->heartbeat_seq++;
    wshub_publish(a->hub, "heartbeat",
                  json_pack("{s:s, s:I, s:f, s:s, s:I, s:I}", "instance", cluster_id(a->cluster),
                            "seq", (json_int_t)a->heartbeat_seq, "uptime_seconds",
                            api_uptime_seconds(&a->services), "store",
                            store_state_name(store_state(a->store)), "websocket_clients",
                            (json_int_t)wshub_client_count(a->hub), "requests_served",
                            (json_int_t)http_server_total_requests(a->http)));
}

static void heartbeat_cb(uv_timer_t *t)
{
    publish_heartbeat(t->data);
}

static void finish_shutdown(App *a)
{
    size_t left = http_server_inflight(a->http);
    if (left && !a->stopped)
        log_warn("%zu requests still running after the grace period; closing them", left);
    app_stop(a);
}

static void drain_cb(uv_timer_t *t)
{
    App *a = t->data;
    bool drained = http_server_inflight(a->http) == 0 && cluster_leave_done(a->cluster);
    if (drained || uv_now(&a->loop) >= a->drain_deadline_ms)
        finish_shutdown(a);
}

static void signal_cb(uv_signal_t *s, int signum)
{
    App *a = s->data;
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (a->stopping) {
        log_warn("second %s: stopping now", name);
        finish_shutdown(a);
        return;
    }
    a->stopping = true;
    log_info("%s received: no new connections; waiting up to %ld ms for %zu in-flight requests",
             name, a->cfg->shutdown_grace_ms, http_server_inflight(a->http));
    http_server_stop_accepting(a->http);
    uv_timer_stop(&a->heartbeat);
    cluster_leave(a->cluster);
    a->drain_deadline_ms = uv_now(&a->loop) + (uint64_t)a->cfg->shutdown_grace_ms;
    uv_timer_start(&a->drain, drain_cb, 0, 10);
}

static void start_signals(App *a)
{
    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sigint);
    a->sigterm.data = a->sigint.data = a;
    uv_signal_start(&a->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&a->sigint, signal_cb, SIGINT);
    uv_timer_init(&a->loop, &a->heartbeat);
    uv_timer_init(&a->loop, &a->drain);
    uv_timer_init(&a->loop, &a->duties);
    a->heartbeat.data = a->drain.data = a->duties.data = a;
    a->handles_open = true;
    uint64_t hb_ms = (uint64_t)a->cfg->heartbeat_seconds * 1000;
    uv_timer_start(&a->heartbeat, heartbeat_cb, hb_ms, hb_ms);
    /* an owner that died is noticed within a lease time; other instances' changes re-read */
    uint64_t duty_ms = (uint64_t)a->cfg->cluster_lease_ms / 2;
    a->last_sync = uv_now(&a->loop);
    uv_timer_start(&a->duties, duties_cb, duty_ms, duty_ms);
}

/* ---- ElastiCache: the store's endpoint from the replication group ---- */

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

/* the group's endpoint with the user, password and database of base (new string) */
static char *group_url(const char *endpoint, const char *base)
{
    const char *auth = strstr(base, "://");
    auth = auth ? auth + 3 : base;
    const char *at = strchr(auth, '@');
    const char *slash = strchr(auth, '/');
    const char *sep = strstr(endpoint, "://") + 3;
    const char *tail = strrchr(endpoint, '/');
    StrBuf u = STRBUF_INIT;
    strbuf_append(&u, endpoint, (size_t)(sep - endpoint));
    if (at && (!slash || at < slash))
        strbuf_append(&u, auth, (size_t)(at - auth + 1));
    strbuf_append(&u, sep, (size_t)(tail - sep));
    strbuf_puts(&u, slash ? slash : "/0");
    return strbuf_detach(&u);
}

/*
 * PGFLEET_ELASTICACHE_REPLICATION_GROUP: the store connects to the group's
 * endpoint. Returns the URL to use (new string) or NULL with the error printed.
 */
static char *elasticache_store_url(App *a, const char *group_id)
{
    GroupLookup g = {0};
    elasticache_describe_groups(a->aws, group_id, group_described, &g);
    while (!g.done)
        uv_run(&a->loop, UV_RUN_ONCE);
    if (!g.url) {
        fprintf(stderr, "pgfleet: could not find ElastiCache replication group '%s': %s\n",
                group_id, g.error);
        return NULL;
    }
    char *url = group_url(g.url, config_get(a->cfg, CFG_REDIS_URL));
    free(g.url);
    char masked[600];
    mask_secrets(url, masked, sizeof masked);
    log_info("state store: ElastiCache replication group %s at %s", group_id, masked);
    return url;
}

/* ---- start, in order ---- */

static PgfError start_store(App *a)
{
    const Config *cfg = a->cfg;
    char *url = NULL;
    const char *group = config_get(cfg, CFG_ELASTICACHE_GROUP);
    if (group && !(url = elasticache_store_url(a, group)))
        return PGF_ERR_AWS;
    char err[512] = "";
    StoreOptions so = {.url = url ? url : config_get(cfg, CFG_REDIS_URL),
                       .prefix = config_get(cfg, CFG_REDIS_PREFIX),
                       .timeout_ms = cfg->redis_timeout_ms,
                       .ca_file = config_get(cfg, CFG_REDIS_CA_FILE),
                       .on_state = on_store_state,
                       .ud = a};
    a->store = store_new(&a->loop, &so, err, sizeof err);
    if (a->store) {
        so.on_state = NULL;
        a->bus = store_new(&a->loop, &so, err, sizeof err);
    }
    xfree_secret(url);
    if (!a->store || !a->bus) {
        fprintf(stderr, "pgfleet: PGFLEET_REDIS_URL: %s\n", err);
        return PGF_ERR_CONFIG;
    }
    return PGF_OK;
}

/* membership and leases; every PostgreSQL session is named after this instance */
static PgfError start_cluster(App *a)
{
    char err[300] = "";
    ClusterDeps cd = {.loop = &a->loop,
                      .cfg = a->cfg,
                      .store = a->store,
                      .on_change = on_cluster_change,
                      .describe = describe_instance,
                      .ud = a};
    a->cluster = cluster_new(&cd, err, sizeof err);
    if (!a->cluster) {
        fprintf(stderr, "pgfleet: %s\n", err);
        return PGF_ERR_CONFIG;
    }
    char appname[64];
    snprintf(appname, sizeof appname, "pgfleet:%s", cluster_id(a->cluster));
    pgconn_set_instance_name(appname);
    store_subscribe(a->bus, BUS_CHANNEL, on_bus_message, a);
    return PGF_OK;
}

/* the sign-in service, settled: whether anyone must sign in is known before listening */
static PgfError start_auth(App *a)
{
    a->secrets = secrets_new(a->aws, a->cfg->secrets_ttl_seconds);
    char err[600] = "";
    AuthDeps ad = {
        .loop = &a->loop, .cfg = a->cfg, .store = a->store, .secrets = a->secrets, .aws = a->aws};
    a->auth = auth_new(&ad, err, sizeof err);
    if (!a->auth) {
        fprintf(stderr, "pgfleet: %s\n", err);
        return PGF_ERR_CONFIG;
    }
    auth_settle(a->auth);
    return PGF_OK;
}

static void start_services(App *a)
{
    const Config *cfg = a->cfg;
    a->hub = wshub_new(a->auth);
    a->events = eventlog_new(a->store, shared(a));
    RegistryDeps rd = {.loop = &a->loop,
                       .cfg = cfg,
                       .store = a->store,
                       .aws = a->aws,
                       .secrets = a->secrets,
                       .events = shared(a),
                       .on_log_event = on_log_event,
                       .log_ud = a->events,
                       .on_loaded = on_registry_loaded,
                       .loaded_ud = a,
                       .owns = owns_database,
                       .owns_ud = a->cluster,
                       .on_changed = on_registry_changed,
                       .changed_ud = a};
    a->registry = registry_new(&rd);
    ReplicationDeps pd = {.loop = &a->loop,
                          .cfg = cfg,
                          .store = a->store,
                          .aws = a->aws,
                          .registry = a->registry,
                          .events = a->events,
                          .pub = local(a),
                          .on_collected = on_collected,
                          .collected_ud = a,
                          .share = share,
                          .share_ud = a};
    a->replication = replication_new(&pd);
    replication_set_leader(a->replication, false);
    StreamsDeps sd = {.loop = &a->loop,
                      .cfg = cfg,
                      .store = a->store,
                      .registry = a->registry,
                      .pub = shared(a),
                      .instance = cluster_id(a->cluster),
                      .alive = instance_alive,
                      .alive_ud = a};
    a->streams = streams_new(&sd);
    RunsDeps ud = {.loop = &a->loop,
                   .cfg = cfg,
                   .store = a->store,
                   .registry = a->registry,
                   .pub = shared(a),
                   .instance = cluster_id(a->cluster),
                   .alive = instance_alive,
                   .forward_cancel = forward_cancel,
                   .alive_ud = a};
    a->runs = runs_new(&ud);
    AlertDeps ad = {.loop = &a->loop,
                    .cfg = cfg,
                    .store = a->store,
                    .aws = a->aws,
                    .secrets = a->secrets,
                    .registry = a->registry,
                    .pub = shared(a),
                    .on_settings = alert_settings_changed,
                    .settings_ud = a};
    a->alert = alert_new(&ad);
    alert_set_active(a->alert, false); /* until this instance leads */
    a->services = (Services){.cfg = cfg,
                             .store = a->store,
                             .aws = a->aws,
                             .registry = a->registry,
                             .replication = a->replication,
                             .streams = a->streams,
                             .runs = a->runs,
                             .alert = a->alert,
                             .auth = a->auth,
                             .cluster = a->cluster,
                             .started_ns = uv_hrtime()};
    if (store_state(a->store) == STORE_READY)
        on_store_state(a, STORE_READY);
    on_cluster_change(a); /* what the cluster settled before the services existed */
}

static void request_finished(void *ud, const HttpRequest *req)
{
    App *a = ud;
    if (a->services.auth)
        api_audit_request(&a->services, req);
}

static PgfError start_http(App *a)
{
    /* sockets of sessions are re-checked a few times per idle period, at least every 30 s */
    double check_ms = a->cfg->session_idle_seconds * 1000 / 4;
    size_t nroutes;
    const Route *routes = api_routes(&nroutes);
    HttpServerOptions ho = {.loop = &a->loop,
                            .host = a->cfg->listen_host,
                            .port = a->cfg->listen_port,
                            .max_body_bytes = a->cfg->max_body_bytes,
                            .routes = routes,
                            .nroutes = nroutes,
                            .app = &a->services,
                            .auth = a->auth,
                            .hub = a->hub,
                            .public_url = config_get(a->cfg, CFG_PUBLIC_URL),
                            .allowed_origins = config_get(a->cfg, CFG_ALLOWED_ORIGINS),
                            .body_timeout_seconds = a->cfg->body_timeout_seconds,
                            .ws_auth_timeout_seconds = a->cfg->ws_auth_timeout_seconds,
                            .ws_unauthenticated_per_address =
                                a->cfg->ws_unauthenticated_per_address,
                            .ws_session_check_ms = (long)(check_ms < 500     ? 500
                                                          : check_ms > 30000 ? 30000
                                                                             : check_ms),
                            .trust_proxy = a->cfg->trust_proxy,
                            .on_finished = request_finished,
                            .finished_ud = a};
    char err[512] = "";
    a->http = http_server_new(&ho, err, sizeof err);
    if (!a->http) {
        fprintf(stderr, "pgfleet: %s\n", err);
        return PGF_ERR_LISTEN;
    }
    return PGF_OK;
}

/* refuses a short API key */
static bool key_strong_enough(const Config *cfg)
{
    const char *key = config_get(cfg, CFG_AUTH_KEY);
    if (!key || !*key || strlen(key) >= AUTHKEY_MIN_LENGTH)
        return true;
    fprintf(stderr,
            "pgfleet: AUTH_KEY is %zu characters; at least %d are needed to withstand "
            "guessing\nHINT: generate one: openssl rand -base64 32\n",
            strlen(key), AUTHKEY_MIN_LENGTH);
    return false;
}

/* refuses a listener without authentication beyond loopback */
static PgfError safe_to_listen(const App *a)
{
    const char *host = a->cfg->listen_host;
    if (!auth_open(a->auth) || config_host_is_loopback(host))
        return PGF_OK;
    fprintf(stderr,
            "pgfleet: refusing to listen on %s without authentication: anyone who can reach "
            "it would be admin\nHINT: set AUTH_KEY, add users (`pgfleet user add`), or listen "
            "on a loopback address (PGFLEET_LISTEN=127.0.0.1:%d)\n",
            config_get(a->cfg, CFG_LISTEN), a->cfg->listen_port);
    return PGF_ERR_UNSAFE;
}

static void announce(const App *a)
{
    const char *host = a->cfg->listen_host;
    if (auth_open(a->auth))
        log_warn("no authentication configured (no AUTH_KEY, no users secret %s): every "
                 "caller on %s is admin; serving on loopback only",
                 config_get(a->cfg, CFG_USERS_SECRET), host);
    json_t *methods = auth_methods(a->auth);
    bool v6 = strchr(host, ':') != NULL;
    log_event(LOG_INFO, NULL,
              json_pack("{s:s, s:s, s:O, s:i}", "version", PGFLEET_VERSION, "redis",
                        store_display_url(a->store), "auth", json_object_get(methods, "methods"),
                        "pid", (int)getpid()),
              "pgfleet listening on http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "",
              a->cfg->listen_port);
    json_decref(methods);
}

int app_run(const Config *cfg)
{
    App *a = xcalloc(1, sizeof *a);
    a->cfg = cfg;
    signal(SIGPIPE, SIG_IGN);
    if (!key_strong_enough(cfg)) {
        free(a);
        return pgf_error_exit(PGF_ERR_UNSAFE);
    }
    uv_loop_init(&a->loop);
    a->aws = aws_client_new(&a->loop, NULL, NULL);
    PgfError rc = start_store(a);
    if (rc == PGF_OK)
        rc = start_cluster(a);
    if (rc == PGF_OK)
        rc = start_auth(a);
    if (rc == PGF_OK)
        rc = safe_to_listen(a);
    if (rc == PGF_OK) {
        start_services(a);
        rc = start_http(a);
    }
    if (rc == PGF_OK) {
        start_signals(a);
        announce(a);
    } else {
        app_stop(a);
    }
    uv_run(&a->loop, UV_RUN_DEFAULT);
    if (rc == PGF_OK)
        log_info("pgfleet stopped");
    app_free(a);
    free(a);
    return rc == PGF_OK ? 0 : pgf_error_exit(rc);
}
