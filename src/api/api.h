/*
 * api: the REST resources, one file per resource, and the route table.
 *
 * Handlers receive the ApiContext as their app pointer. They answer through
 * http_respond_*; one that waits on the store takes a hold on the request
 * (http_request_hold) and releases it after answering.
 */
#ifndef PGFLEET_API_H
#define PGFLEET_API_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "http/router.h"
#include "model/validate.h"
#include "http/wshub.h"
#include "aws/aws.h"
#include "store/store.h"

typedef struct DbRegistry DbRegistry;
struct SecretsCache;
struct Collector;
struct PgTarget;
typedef struct EventLog EventLog;
typedef struct RdsWatch RdsWatch;

typedef struct ApiContext {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    WsHub *hub;
    AwsClient *aws;
    struct SecretsCache *secrets;
    DbRegistry *dbs;
    struct Collector *collector;
    EventLog *events;
    RdsWatch *rds;
    uint64_t started_ns;
    bool auth_configured;
} ApiContext;

/* the route table (static; also the source of the OpenAPI document) */
const Route *api_routes(size_t *count);

/* health.c */
void api_healthz(HttpRequest *req, void *app);
void api_readyz(HttpRequest *req, void *app);
void api_auth_status(HttpRequest *req, void *app);
void api_ws_plain(HttpRequest *req, void *app);
/* models.c */
void api_models_test(HttpRequest *req, void *app);
void api_models_validate(HttpRequest *req, void *app);
/* databases.c */
DbRegistry *databases_new(ApiContext *ctx);
void databases_free(DbRegistry *r);
/* loads the registry from Redis the first time the store is ready */
void databases_on_store_ready(ApiContext *ctx);
void api_databases_list(HttpRequest *req, void *app);
void api_databases_get(HttpRequest *req, void *app);
void api_databases_create(HttpRequest *req, void *app);
void api_databases_update(HttpRequest *req, void *app);
void api_databases_delete(HttpRequest *req, void *app);
void api_databases_test_one(HttpRequest *req, void *app);
void api_databases_test_all(HttpRequest *req, void *app);
/* one target per server (host:port), for the collector; returns how many */
size_t databases_servers(void *registry, struct PgTarget **out, size_t max);
/* node id ("host:port") -> aws.rds_instance_id of every database that names one */
json_t *databases_rds_map(const DbRegistry *r);
/* replication.c */
/* DescribeDBInstances every interval while a database names an RDS instance */
RdsWatch *replication_rds_new(ApiContext *ctx, long interval_ms);
void replication_rds_free(RdsWatch *w);
/* every interval: publication tables and initial-sync states of the databases with
 * subscriptions or logical slots, merged into the collector's later cycles */
void replication_sweep_start(ApiContext *ctx, long interval_ms);
void replication_sweep_stop(void);
/* the collector's topology with RDS merged in (new reference); needs a snapshot */
json_t *replication_topology(ApiContext *ctx);
void api_replication_discover(HttpRequest *req, void *app);
void api_replication_status(HttpRequest *req, void *app);
void api_replication_history(HttpRequest *req, void *app);
/* after each collection: the latest status (TTL) and a history sample into Redis */
void replication_record(ApiContext *ctx, const json_t *metrics);
void api_metrics(HttpRequest *req, void *app);
/* the registered database's target, or NULL */
struct PgTarget *databases_find(DbRegistry *r, const char *id);
/* the ids of every registered database */
json_t *databases_ids(const DbRegistry *r);
/* migrations.c */
/* at start-up: resolves prepared transactions interrupted atomic runs left (see migrate.h) */
void migrations_recover_prepared(ApiContext *ctx);
void api_migrations_execute(HttpRequest *req, void *app);
void api_migrations_list(HttpRequest *req, void *app);
void api_migrations_get(HttpRequest *req, void *app);
void api_migrations_cancel(HttpRequest *req, void *app);
/* marks runs left "running" by a daemon that died as "interrupted" (once) */
void migrations_on_store_ready(ApiContext *ctx);
/* streams.c */
void api_streams_validate(HttpRequest *req, void *app);
void api_streams_create(HttpRequest *req, void *app);
void api_streams_list(HttpRequest *req, void *app);
void api_streams_get(HttpRequest *req, void *app);
void api_streams_pause(HttpRequest *req, void *app);
void api_streams_resume(HttpRequest *req, void *app);
void api_streams_refresh(HttpRequest *req, void *app);
void api_streams_tables(HttpRequest *req, void *app);
void api_streams_drop(HttpRequest *req, void *app);
/* stops following initial copies (at shutdown) */
void streams_shutdown(void);
/* events.c */
EventLog *events_new(void);
void events_free(EventLog *l);
/* records a replication event (stolen): WebSocket, Redis, memory */
void events_add(ApiContext *ctx, json_t *ev);
void api_replication_events(HttpRequest *req, void *app);
/* aws.c */
void api_aws_test(HttpRequest *req, void *app);
/* openapi.c */
void api_openapi(HttpRequest *req, void *app);
/* the OpenAPI 3 document for the route table (new reference) */
json_t *openapi_document(const Route *routes, size_t count);

/* 422 with every field error of v (error.fields) */
void api_respond_validation(HttpRequest *req, const Validation *v);

/* seconds since the daemon started */
double api_uptime_seconds(const ApiContext *ctx);

#endif
