/* replication: the collector's snapshot, history and log events over HTTP; /metrics */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "replication/topology.h"
#include "common/strbuf.h"

static void no_snapshot(HttpRequest *req)
{
    http_respond_error(req, PGF_ERR_NOT_READY,
                       "the first collection runs right after start; retry in a few seconds",
                       "no replication snapshot yet");
}

/* ?node=host:port&limit=&offset= of the replication answers; false when answered 422 */
static bool page_params(HttpRequest *req, const char **node, long *offset, long *limit)
{
    *node = http_query_value(req, "node");
    *offset = 0;
    *limit = 0;
    return api_int_param(req, "limit", 1, 10000, limit) &&
           api_int_param(req, "offset", 0, 10000000, offset);
}

void api_replication_discover(HttpRequest *req, void *app)
{
    Services *s = app;
    const char *node;
    long offset, limit;
    if (!page_params(req, &node, &offset, &limit))
        return;
    json_t *t = replication_topology(s->replication);
    json_t *status = replication_status(s->replication);
    if (!t || !status) {
        json_decref(t);
        json_decref(status);
        no_snapshot(req);
        return;
    }
    if (node || limit || offset)
        topology_page(t, node, offset, limit);
    json_object_set(t, "collected_at", json_object_get(status, "collected_at"));
    json_object_set(t, "age_seconds", json_object_get(status, "age_seconds"));
    json_decref(status);
    http_respond_json(req, 200, t);
}

void api_replication_status(HttpRequest *req, void *app)
{
    Services *s = app;
    const char *node;
    long offset, limit;
    if (!page_params(req, &node, &offset, &limit))
        return;
    json_t *status = replication_status(s->replication);
    if (status && (node || limit || offset))
        topology_page(status, node, offset, limit);
    if (status)
        http_respond_json(req, 200, status);
    else
        no_snapshot(req);
}

void api_metrics(HttpRequest *req, void *app)
{
    Services *s = app;
    char *text = replication_prometheus(s->replication);
    char *alerts = s->alert ? alert_prometheus(s->alert) : NULL;
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, text);
    if (alerts)
        strbuf_puts(&b, alerts);
    http_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    strbuf_free(&b);
    free(alerts);
    free(text);
}

void api_replication_history(HttpRequest *req, void *app)
{
    Services *s = app;
    long minutes = 60;
    if (api_int_param(req, "minutes", 1, 60, &minutes))
        replication_history(s->replication, minutes, api_done, api_pending(req, 200));
}

void api_replication_events(HttpRequest *req, void *app)
{
    Services *s = app;
    EventQuery q = {.limit = 100,
                    .node = http_query_value(req, "node"),
                    .database_id = http_query_value(req, "database_id"),
                    .severity = http_query_value(req, "severity")};
    if (!api_int_param(req, "limit", 1, EVENTLOG_KEEP, &q.limit))
        return;
    if (q.severity && strcmp(q.severity, "critical") && strcmp(q.severity, "warning") &&
        strcmp(q.severity, "info")) {
        http_respond_error(req, PGF_ERR_VALIDATION, "use critical, warning or info",
                           "severity: unknown value");
        return;
    }
    replication_events(s->replication, &q, api_done, api_pending(req, 200));
}
