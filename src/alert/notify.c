#include "alert/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "aws/sns.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

/* ---- payloads ---- */

static void rfc3339(double t, char *buf, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *status_of(const json_t *group)
{
    const char *s = jsonutil_str(group, "status");
    return s ? s : "firing";
}

json_t *notify_webhook_body(const json_t *group)
{
    json_t *b = json_deep_copy(group);
    json_object_set_new(b, "version", json_string("1"));
    json_object_set_new(b, "source", json_string("pgfleet"));
    return b;
}

static void upper(char *dst, const char *src, size_t len)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
    dst[i] = '\0';
}

json_t *notify_slack_body(const json_t *group, const char *public_url)
{
    char st[16];
    upper(st, status_of(group), sizeof st);
    const json_t *alerts = json_object_get(group, "alerts");
    char *text = xasprintf("[%s] %s: %zu alert%s%s", st, jsonutil_str(group, "rule"),
                           json_array_size(alerts), json_array_size(alerts) == 1 ? "" : "s",
                           json_is_true(json_object_get(group, "repeat")) ? " (still firing)" : "");
    json_t *blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text",
                                            "type", "mrkdwn", "text", text));
    size_t i;
    const json_t *a;
    json_array_foreach(alerts, i, a)
    {
        if (i == 20)
            break; /* Slack takes 50 blocks; the rest is on pgfleet's page */
        StrBuf b = STRBUF_INIT;
        strbuf_printf(&b, "*%s* %s", jsonutil_str(a, "summary"), jsonutil_str(a, "text"));
        const json_t *act =
            json_array_get(json_object_get(json_object_get(a, "guidance"), "actions"), 0);
        if (jsonutil_str(act, "sql"))
            strbuf_printf(&b, "\n%s\n```%s```", jsonutil_str(act, "text"),
                          jsonutil_str(act, "sql"));
        json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text",
                                                "type", "mrkdwn", "text", b.data));
        strbuf_free(&b);
    }
    if (public_url)
        json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context",
                                                "elements", "type", "mrkdwn", "text", public_url));
    json_t *body = json_pack("{s:s, s:o}", "text", text, "blocks", blocks);
    free(text);
    return body;
}

static const char *pd_severity(const char *sev)
{
    return sev && (!strcmp(sev, "critical") || !strcmp(sev, "warning") || !strcmp(sev, "info"))
               ? sev
               : "error";
}

json_t *notify_pagerduty_event(const json_t *alert, const json_t *group, const char *routing_key)
{
    const char *state = jsonutil_str(alert, "state");
    bool resolved = state && !strcmp(state, "resolved");
    char dedup[64];
    snprintf(dedup, sizeof dedup, "pgfleet-%s", jsonutil_str(alert, "id"));
    json_t *e = json_pack("{s:s, s:s, s:s}", "routing_key", routing_key ? routing_key : "",
                          "event_action", resolved ? "resolve" : "trigger", "dedup_key", dedup);
    if (resolved)
        return e;
    const json_t *l = json_object_get(alert, "labels");
    const char *source = jsonutil_str(l, "from")       ? jsonutil_str(l, "from")
                         : jsonutil_str(l, "node")     ? jsonutil_str(l, "node")
                         : jsonutil_str(l, "database") ? jsonutil_str(l, "database")
                                                       : "pgfleet";
    char summary[1024];
    snprintf(summary, sizeof summary, "%s: %s", jsonutil_str(alert, "summary"),
             jsonutil_str(alert, "text"));
    json_object_set_new(
        e, "payload",
        json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:O, s:O, s:O, s:O}}", "summary", summary, "source",
            source, "severity", pd_severity(jsonutil_str(group, "severity")), "component",
            jsonutil_str(alert, "kind") ? jsonutil_str(alert, "kind") : "", "group",
            jsonutil_str(group, "rule"), "class",
            jsonutil_str(alert, "kind") ? jsonutil_str(alert, "kind") : "", "custom_details",
            "labels", l ? l : json_null(), "value",
            json_object_get(alert, "value") ? json_object_get(alert, "value") : json_null(),
            "threshold",
            json_object_get(alert, "threshold") ? json_object_get(alert, "threshold") : json_null(),
            "guidance",
            json_object_get(alert, "guidance") ? json_object_get(alert, "guidance") : json_null()));
    json_object_set_new(e, "client", json_string("pgfleet"));
    return e;
}

json_t *notify_alertmanager_body(const json_t *group, const char *public_url)
{
    json_t *out = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(group, "alerts"), i, a)
    {
        json_t *labels =
            json_pack("{s:s, s:s, s:s}", "alertname", jsonutil_str(group, "rule"), "severity",
                      jsonutil_str(group, "severity"), "source", "pgfleet");
        const char *k;
        const json_t *v;
        json_object_foreach(json_object_get(a, "labels"), k, v)
        {
            if (json_is_string(v))
                json_object_set(labels, k, jsonutil_unconst(v));
        }
        const json_t *g = json_object_get(a, "guidance");
        json_t *ann = json_pack("{s:s, s:s}", "summary", jsonutil_str(a, "summary"), "description",
                                jsonutil_str(a, "text") ? jsonutil_str(a, "text") : "");
        if (jsonutil_str(g, "meaning"))
            json_object_set_new(ann, "meaning", json_string(jsonutil_str(g, "meaning")));
        char since[40];
        rfc3339(json_number_value(json_object_get(a, "since")), since, sizeof since);
        json_t *pa =
            json_pack("{s:o, s:o, s:s}", "labels", labels, "annotations", ann, "startsAt", since);
        const char *state = jsonutil_str(a, "state");
        if (state && !strcmp(state, "resolved")) {
            char end[40];
            rfc3339(json_number_value(json_object_get(a, "resolved_at")), end, sizeof end);
            json_object_set_new(pa, "endsAt", json_string(end));
        }
        if (public_url)
            json_object_set_new(pa, "generatorURL", json_string(public_url));
        json_array_append_new(out, pa);
    }
    return out;
}

char *notify_sns_subject(const json_t *group)
{
    char st[16];
    upper(st, status_of(group), sizeof st);
    char *s = xasprintf("[pgfleet] %s: %s (%zu)", st, jsonutil_str(group, "rule"),
                        json_array_size(json_object_get(group, "alerts")));
    if (strlen(s) > 100)
        s[100] = '\0';
    return s;
}

char *notify_sns_message(const json_t *group)
{
    StrBuf b = STRBUF_INIT;
    strbuf_printf(&b, "%s: rule %s, severity %s\n", status_of(group), jsonutil_str(group, "rule"),
                  jsonutil_str(group, "severity"));
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(group, "alerts"), i, a)
    {
        strbuf_printf(&b, "\n- %s: %s\n", jsonutil_str(a, "summary"), jsonutil_str(a, "text"));
        const json_t *g = json_object_get(a, "guidance");
        if (jsonutil_str(g, "meaning"))
            strbuf_printf(&b, "  %s\n", jsonutil_str(g, "meaning"));
        size_t k;
        const json_t *act;
        json_array_foreach(json_object_get(g, "actions"), k, act)
        {
            strbuf_printf(&b, "  * %s", jsonutil_str(act, "text"));
            if (jsonutil_str(act, "sql"))
                strbuf_printf(&b, "\n    %s", jsonutil_str(act, "sql"));
            if (jsonutil_str(act, "warning"))
                strbuf_printf(&b, "\n    (%s)", jsonutil_str(act, "warning"));
            strbuf_puts(&b, "\n");
        }
    }
    return strbuf_detach(&b);
}

void notify_signature(const char *secret, const char *body, size_t len, char out[72])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, 65, mac, sizeof mac);
}

/* ---- delivery ---- */

struct Notifier {
    uv_loop_t *loop;
    Httpc *http;
    AwsClient *aws;
    char *public_url;
    long retry_ms;
    int refs;
    bool closing;
};

typedef struct Delivery {
    Notifier *n;
    ChannelType type;
    char *url; /* where it goes (may be a secret: Slack) */
    char *topic_arn;
    char *hmac; /* webhook secret */
    char *body;
    char *subject; /* sns */
    json_t *record;
    int attempt;
    uint64_t started;
    uv_timer_t timer;
    DeliveryCb cb;
    void *ud;
} Delivery;

Notifier *notifier_new(uv_loop_t *loop, Httpc *http, AwsClient *aws, const char *public_url,
                       long retry_ms)
{
    Notifier *n = xcalloc(1, sizeof *n);
    n->loop = loop;
    n->http = http;
    n->aws = aws;
    n->public_url = public_url ? xstrdup(public_url) : NULL;
    n->retry_ms = retry_ms > 0 ? retry_ms : 1000;
    n->refs = 1;
    return n;
}

static void notifier_unref(Notifier *n)
{
    if (--n->refs > 0)
        return;
    free(n->public_url);
    free(n);
}

void notifier_free(Notifier *n)
{
    if (!n)
        return;
    n->closing = true;
    notifier_unref(n);
}

static void delivery_closed(uv_handle_t *h)
{
    Delivery *d = h->data;
    Notifier *n = d->n;
    xfree_secret(d->url);
    free(d->topic_arn);
    xfree_secret(d->hmac);
    free(d->body);
    free(d->subject);
    json_decref(d->record);
    free(d);
    notifier_unref(n);
}

static void attempt(Delivery *d);

static void retry_due(uv_timer_t *t)
{
    attempt(t->data);
}

/* records one attempt; retries or ends */
static void attempted(Delivery *d, long status, const char *error, bool retryable)
{
    char at[40];
    rfc3339((double)time(NULL), at, sizeof at);
    json_t *a = json_pack("{s:s, s:I, s:f}", "at", at, "http_status", (json_int_t)status, "ms",
                          (double)(uv_now(d->n->loop) - d->started));
    json_object_set_new(a, "error", error ? json_string(error) : json_null());
    json_array_append_new(json_object_get(d->record, "attempts"), a);
    bool ok = !error && status >= 200 && status < 300;
    bool again = !ok && retryable && d->attempt < NOTIFY_MAX_ATTEMPTS && !d->n->closing;
    json_object_set_new(d->record, "status",
                        json_string(ok      ? "delivered"
                                    : again ? "pending"
                                            : "failed"));
    d->cb(d->ud, d->record, !again);
    if (again) {
        uint64_t wait = (uint64_t)d->n->retry_ms << (d->attempt - 1);
        uv_timer_start(&d->timer, retry_due, wait, 0);
        return;
    }
    if (!ok)
        log_event(LOG_WARN, NULL,
                  json_pack("{s:O, s:O}", "channel", json_object_get(d->record, "channel"),
                            "delivery", json_object_get(d->record, "id")),
                  "alert notification to %s failed after %d attempts: %s",
                  jsonutil_str(d->record, "channel"), d->attempt, error ? error : "HTTP error");
    uv_close((uv_handle_t *)&d->timer, delivery_closed);
}

static void http_answered(void *ud, const HttpcResponse *r)
{
    Delivery *d = ud;
    char err[300] = "";
    if (r->curl_code)
        snprintf(err, sizeof err, "%s", r->error ? r->error : "transport error");
    else if (r->status < 200 || r->status >= 300)
        snprintf(err, sizeof err, "HTTP %ld: %.200s", r->status, r->body ? r->body : "");
    bool retryable = r->curl_code || r->status == 429 || r->status >= 500 || r->status == 408;
    attempted(d, r->status, err[0] ? err : NULL, retryable);
}

static void sns_answered(void *ud, const json_t *result, const AwsResult *r)
{
    (void)result;
    Delivery *d = ud;
    char err[300] = "";
    if (!r->ok)
        snprintf(err, sizeof err, "%s: %s", r->code ? r->code : "error",
                 r->message ? r->message : "");
    /* the AWS client already retried throttling and 5xx within its budget */
    attempted(d, r->http_status, err[0] ? err : NULL, false);
}

static void attempt(Delivery *d)
{
    d->attempt++;
    d->started = uv_now(d->n->loop);
    if (d->type == CH_SNS) {
        sns_publish(d->n->aws, d->topic_arn, d->subject, d->body, sns_answered, d);
        return;
    }
    char sig[100] = "", id[80];
    snprintf(id, sizeof id, "X-Pgfleet-Delivery: %s", jsonutil_str(d->record, "id"));
    if (d->hmac) {
        char mac[72];
        notify_signature(d->hmac, d->body, strlen(d->body), mac);
        snprintf(sig, sizeof sig, "X-Pgfleet-Signature: %s", mac);
    }
    const char *headers[] = {"Content-Type: application/json", "User-Agent: pgfleet", id,
                             sig[0] ? sig : NULL, NULL};
    HttpcRequest req = {.method = "POST",
                        .url = d->url,
                        .headers = headers,
                        .body = d->body,
                        .body_len = strlen(d->body),
                        .timeout_ms = 10000};
    if (!httpc_send(d->n->http, &req, http_answered, d))
        attempted(d, 0, "pgfleet is shutting down", false);
}

static void start(Notifier *n, const Channel *c, const char *url, const char *hmac, json_t *body,
                  const char *key, DeliveryCb cb, void *ud)
{
    Delivery *d = xcalloc(1, sizeof *d);
    d->n = n;
    n->refs++;
    d->type = c->type;
    d->url = url ? xstrdup(url) : NULL;
    d->topic_arn = c->topic_arn ? xstrdup(c->topic_arn) : NULL;
    d->hmac = hmac ? xstrdup(hmac) : NULL;
    d->body = json_dumps(body, JSON_COMPACT);
    d->cb = cb;
    d->ud = ud;
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    d->record = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "id", hex, "channel", c->name, "type",
                          channel_type_names[c->type], "key", key ? key : "", "status", "pending",
                          "attempts");
    uv_timer_init(n->loop, &d->timer);
    d->timer.data = d;
    if (c->type == CH_SNS) {
        d->subject = notify_sns_subject(body);
        free(d->body);
        d->body = notify_sns_message(body);
    }
    attempt(d);
}

void notifier_send(Notifier *n, const Channel *c, const char *secret, const json_t *group,
                   DeliveryCb cb, void *ud)
{
    const char *key = jsonutil_str(group, "key");
    json_t *body = NULL;
    switch (c->type) {
    case CH_WEBHOOK:
        body = notify_webhook_body(group);
        start(n, c, c->url, secret, body, key, cb, ud);
        break;
    case CH_SLACK:
        body = notify_slack_body(group, n->public_url);
        start(n, c, secret, NULL, body, key, cb, ud);
        break;
    case CH_ALERTMANAGER: {
        size_t len = strlen(c->url);
        while (len && c->url[len - 1] == '/')
            len--;
        char *url = xasprintf("%.*s/api/v2/alerts", (int)len, c->url);
        body = notify_alertmanager_body(group, n->public_url);
        start(n, c, url, NULL, body, key, cb, ud);
        free(url);
        break;
    }
    case CH_SNS:
        start(n, c, NULL, NULL, jsonutil_unconst(group), key, cb, ud);
        return;
    case CH_PAGERDUTY: {
        size_t i;
        const json_t *a;
        json_array_foreach(json_object_get(group, "alerts"), i, a)
        {
            json_t *e = notify_pagerduty_event(a, group, secret);
            start(n, c, c->url ? c->url : PAGERDUTY_EVENTS_URL, NULL, e, key, cb, ud);
            json_decref(e);
        }
        return;
    }
    }
    json_decref(body);
}
