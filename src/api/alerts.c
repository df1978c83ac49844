/* alerts: active alerts, history, acks, rules, channels, silences (alert/alert.h does the work) */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "common/jsonutil.h"

void api_alerts_active(HttpRequest *req, void *app)
{
    Services *s = app;
    http_respond_json(req, 200, alert_active(s->alert));
}

/* RFC 3339 in UTC, or unix seconds; false (answered 422) when neither */
static bool time_param(HttpRequest *req, const char *name, double *out)
{
    const char *t = http_query_value(req, name);
    if (!t)
        return true;
    char *end;
    double n = strtod(t, &end);
    if (end != t && !*end && n > 0) {
        *out = n;
        return true;
    }
    struct tm tm = {0};
    const char *rest = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest && (!strcmp(rest, "Z") || (*rest == '.' && rest[strlen(rest) - 1] == 'Z'))) {
        *out = (double)timegm(&tm);
        return true;
    }
    http_respond_error(req, PGF_ERR_VALIDATION, "2026-12-01T10:00:00Z, or unix seconds",
                       "%s: '%.40s' is not a time", name, t);
    return false;
}

void api_alerts_history(HttpRequest *req, void *app)
{
    Services *s = app;
    AlertHistoryQuery q = {.rule = http_query_value(req, "rule"),
                           .state = http_query_value(req, "state"),
                           .severity = http_query_value(req, "severity"),
                           .limit = 100};
    const char *limit = http_query_value(req, "limit");
    if (limit) {
        char *end;
        q.limit = strtol(limit, &end, 10);
        if (*end || q.limit < 1 || q.limit > 1000) {
            http_respond_error(req, PGF_ERR_VALIDATION, NULL,
                               "limit: must be a whole number from 1 to 1000");
            return;
        }
    }
    if (!time_param(req, "since", &q.since) || !time_param(req, "until", &q.until))
        return;
    alert_history(s->alert, &q, api_done, api_pending(req, 200));
}

void api_alerts_ack(HttpRequest *req, void *app)
{
    Services *s = app;
    alert_ack(s->alert, http_param(req, "id"), api_actor(req), api_done, api_pending(req, 200));
}

void api_alerts_deliveries(HttpRequest *req, void *app)
{
    Services *s = app;
    const char *limit = http_query_value(req, "limit");
    alert_deliveries(s->alert, limit ? strtol(limit, NULL, 10) : 100, api_done,
                     api_pending(req, 200));
}

void api_alert_rules_list(HttpRequest *req, void *app)
{
    Services *s = app;
    http_respond_json(req, 200, alert_rules(s->alert));
}

void api_alert_channels_list(HttpRequest *req, void *app)
{
    Services *s = app;
    http_respond_json(req, 200, alert_channels(s->alert));
}

void api_alert_silences_list(HttpRequest *req, void *app)
{
    Services *s = app;
    http_respond_json(req, 200, alert_silences(s->alert));
}

/* a body, then fn(alert, name, body, ...) */
typedef void (*PutFn)(Alert *a, const char *name, const json_t *body, DoneCb cb, void *ud);

static void with_body(HttpRequest *req, void *app, PutFn fn, const char *name, unsigned status)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    fn(s->alert, name, body, api_done, api_pending(req, status));
    json_decref(body);
}

void api_alert_rules_create(HttpRequest *req, void *app)
{
    with_body(req, app, alert_rule_put, NULL, 201);
}

void api_alert_rules_update(HttpRequest *req, void *app)
{
    with_body(req, app, alert_rule_put, http_param(req, "id"), 200);
}

void api_alert_channels_create(HttpRequest *req, void *app)
{
    with_body(req, app, alert_channel_put, NULL, 201);
}

void api_alert_channels_update(HttpRequest *req, void *app)
{
    with_body(req, app, alert_channel_put, http_param(req, "id"), 200);
}

void api_alert_rules_delete(HttpRequest *req, void *app)
{
    Services *s = app;
    alert_rule_delete(s->alert, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_alert_channels_delete(HttpRequest *req, void *app)
{
    Services *s = app;
    alert_channel_delete(s->alert, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_alert_channels_test(HttpRequest *req, void *app)
{
    Services *s = app;
    alert_channel_test(s->alert, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_alert_silences_create(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    alert_silence_create(s->alert, body, api_actor(req), api_done, api_pending(req, 201));
    json_decref(body);
}

void api_alert_silences_delete(HttpRequest *req, void *app)
{
    Services *s = app;
    alert_silence_delete(s->alert, http_param(req, "id"), api_done, api_pending(req, 200));
}
