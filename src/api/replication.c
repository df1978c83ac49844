/* replication: the collector's snapshot over HTTP, and /metrics for Prometheus */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "replication/collector.h"

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
    json_t *t = json_deep_copy(collector_topology(ctx->collector));
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
