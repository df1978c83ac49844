/* settings: rules, channels, silences and acknowledgements, as the API reads and writes
 * them (one Redis hash field each; the copy the service holds follows) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alert/guidance.h"
#include "alert/internal.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

/* ---- what the API reads ---- */

json_t *alert_active(const Alert *a)
{
    json_t *active = engine_active(a->engine);
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(active, i, x)
    {
        json_t *y = alert_with_guidance(x);
        const Silence *s = alert_silenced_by(a, x);
        json_object_set_new(y, "silenced_by", s && s->id ? json_string(s->id) : json_null());
        json_t *ack = json_object_get(a->acks, jsonutil_str(x, "id"));
        json_object_set(y, "ack", ack ? ack : json_null());
        json_object_del(y, "last_true");
        json_array_append_new(out, y);
    }
    json_decref(active);
    return json_pack("{s:o, s:I}", "alerts", out, "count", (json_int_t)json_array_size(out));
}

char *alert_prometheus(const Alert *a)
{
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, "# HELP pgfleet_alerts_firing Alerts firing now, per rule\n"
                    "# TYPE pgfleet_alerts_firing gauge\n");
    json_t *active = engine_active(a->engine);
    for (size_t i = 0; i < a->nrules; i++) {
        long n = 0;
        size_t k;
        json_t *x;
        json_array_foreach(active, k, x) n += !strcmp(jsonutil_str(x, "rule"), a->rules[i].name) &&
                                              !strcmp(jsonutil_str(x, "state"), "firing");
        strbuf_printf(&b, "pgfleet_alerts_firing{rule=\"%s\",severity=\"%s\"} %ld\n",
                      a->rules[i].name, severity_names[a->rules[i].severity], n);
    }
    json_decref(active);
    return strbuf_detach(&b);
}

typedef struct HistoryQuery {
    char rule[65], state[16], severity[16];
} HistoryQuery;

static bool history_matches(void *fud, const json_t *e)
{
    const HistoryQuery *q = fud;
    const char *want[] = {q->rule, q->state, q->severity};
    const char *keys[] = {"rule", "state", "severity"};
    for (int i = 0; i < 3; i++) {
        const char *have = jsonutil_str(e, keys[i]);
        if (want[i][0] && (!have || strcmp(have, want[i])))
            return false;
    }
    return true;
}

void alert_history(Alert *a, const AlertHistoryQuery *aq, DoneCb cb, void *ud)
{
    HistoryQuery *q = xcalloc(1, sizeof *q);
    snprintf(q->rule, sizeof q->rule, "%s", aq->rule ? aq->rule : "");
    snprintf(q->state, sizeof q->state, "%s", aq->state ? aq->state : "");
    snprintf(q->severity, sizeof q->severity, "%s", aq->severity ? aq->severity : "");
    store_query_stream(a->deps.store, "alert:history", aq->since, aq->until, aq->limit, 200000,
                       history_matches, q, "transitions", "read the alert history", cb, ud);
}

/* ---- writes: one Redis hash field each, then the copy held here ---- */

typedef struct Write {
    Alert *a;
    What what;
    char *name;
    json_t *record; /* what was written (the answer); NULL for a removal */
    DoneCb cb;
    void *ud;
} Write;

static void write_free(Write *w)
{
    Alert *a = w->a;
    free(w->name);
    json_decref(w->record);
    free(w);
    alert_unref(a);
}

static void written(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)reply;
    Write *w = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "save the alerting change", errmsg, w->cb, w->ud);
    } else {
        if (!w->a->closing)
            alert_load_all(w->a); /* the copy held here follows what is stored */
        if (!w->a->closing && w->a->deps.on_settings)
            w->a->deps.on_settings(w->a->deps.settings_ud);
        w->cb(w->ud, w->record ? json_incref(w->record) : json_pack("{s:b}", "deleted", 1), NULL);
    }
    write_free(w);
}

static Write *write_new(Alert *a, What what, const char *name, json_t *record, DoneCb cb, void *ud)
{
    Write *w = xcalloc(1, sizeof *w);
    w->a = a;
    a->refs++;
    w->what = what;
    w->name = xstrdup(name);
    w->record = record;
    w->cb = cb;
    w->ud = ud;
    return w;
}

static void hash_write(Write *w)
{
    char *key = store_key(w->a->deps.store, alert_hash_keys[w->what]);
    char *text = w->record ? json_dumps(w->record, JSON_COMPACT) : NULL;
    const char *argv[] = {w->record ? "HSET" : "HDEL", key, w->name, text};
    store_call(w->a->deps.store, written, w, w->record ? 4 : 3, argv);
    free(text);
    free(key);
}

static bool exists(const Alert *a, What what, const char *name)
{
    return what == W_RULES ? alert_rule_named(a, name) != NULL
                           : alert_channel_named(a, name) != NULL;
}

/* the body's name, or the path's when the body has none; false (answered) when they differ */
static json_t *named_body(const json_t *body, const char *name, DoneCb cb, void *ud)
{
    json_t *b = json_deep_copy(body);
    const char *in = jsonutil_str(b, "name");
    if (name && !in)
        json_object_set_new(b, "name", json_string(name));
    else if (name && in && strcmp(in, name)) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_VALIDATION,
                    json_pack("{s:[{s:s, s:s, s:s}]}", "fields", "field", "name", "rule",
                              "distinct", "message", "must be the name in the path"),
                    "rename by deleting and creating", "name: must be the name in the path");
        failure_report(&f, cb, ud);
        json_decref(b);
        return NULL;
    }
    return b;
}

static bool conflicts(const Alert *a, What what, const char *path_name, const char *name, DoneCb cb,
                      void *ud)
{
    Failure f = {0};
    if (!a->loaded) {
        failure_store(&f, PGF_ERR_STORE_DOWN, "read the alerting configuration", NULL);
    } else if (!path_name && exists(a, what, name)) {
        failure_set(&f, PGF_ERR_CONFLICT, NULL, "change it with PUT, or pick another name",
                    "%s '%s' exists", what == W_RULES ? "rule" : "channel", name);
    } else if (path_name && !exists(a, what, path_name)) {
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "create it with POST", "no %s '%s'",
                    what == W_RULES ? "rule" : "channel", path_name);
    } else {
        return false;
    }
    failure_report(&f, cb, ud);
    return true;
}

void alert_rule_put(Alert *a, const char *name, const json_t *body, DoneCb cb, void *ud)
{
    json_t *b = named_body(body, name, cb, ud);
    if (!b)
        return;
    json_object_del(b, "builtin");
    Rule r;
    Validation v;
    validation_init(&v);
    if (!rule_from_json(&r, b, &v)) {
        validation_report(&v, cb, ud);
        json_decref(b);
        return;
    }
    json_decref(b);
    for (size_t i = 0; i < r.nchannels; i++) {
        if (!alert_channel_named(a, r.channels[i])) {
            Failure f = {0};
            failure_set(&f, PGF_ERR_VALIDATION,
                        json_pack("{s:[{s:s, s:s, s:s}]}", "fields", "field", "channels", "rule",
                                  "not_found", "message", "names a channel that does not exist"),
                        "GET /api/alerts/channels lists them", "channels: no channel '%s'",
                        r.channels[i]);
            failure_report(&f, cb, ud);
            rule_free(&r);
            return;
        }
    }
    const Rule *old = alert_rule_named(a, r.name);
    r.builtin = old && old->builtin;
    if (!conflicts(a, W_RULES, name, r.name, cb, ud))
        hash_write(write_new(a, W_RULES, r.name, rule_to_json(&r), cb, ud));
    rule_free(&r);
}

void alert_rule_delete(Alert *a, const char *name, DoneCb cb, void *ud)
{
    if (!conflicts(a, W_RULES, name, name, cb, ud))
        hash_write(write_new(a, W_RULES, name, NULL, cb, ud));
}

typedef struct ChannelWrite {
    Write *w;
    char *secret;
} ChannelWrite;

static void secret_written(void *ud, const json_t *result, const AwsResult *r)
{
    (void)result;
    ChannelWrite *cw = ud;
    if (!r->ok && r->code && strstr(r->code, "ResourceExists")) {
        /* the secret exists: a new version of it */
        char id[200];
        snprintf(id, sizeof id, CHANNEL_SECRET "%s", cw->w->name);
        secrets_put(cw->w->a->deps.aws, id, cw->secret, secret_written, cw);
        xfree_secret(cw->secret);
        cw->secret = NULL;
        return;
    }
    if (!r->ok) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_AWS, json_pack("{s:s?}", "aws_code", r->code),
                    r->hint ? r->hint : "check pgfleet's access to Secrets Manager",
                    "the channel's secret could not be stored: %s",
                    r->message ? r->message : "AWS error");
        failure_report(&f, cw->w->cb, cw->w->ud);
        write_free(cw->w);
    } else {
        char id[200];
        snprintf(id, sizeof id, CHANNEL_SECRET "%s", cw->w->name);
        secrets_invalidate(cw->w->a->deps.secrets, id);
        hash_write(cw->w);
    }
    xfree_secret(cw->secret);
    free(cw);
}

void alert_channel_put(Alert *a, const char *name, const json_t *body, DoneCb cb, void *ud)
{
    json_t *b = named_body(body, name, cb, ud);
    if (!b)
        return;
    Channel c;
    char *secret = NULL;
    Validation v;
    validation_init(&v);
    const Channel *old = name ? alert_channel_named(a, name) : NULL;
    if (old && old->has_secret && !json_object_get(b, "secret"))
        json_object_set_new(b, "has_secret", json_true()); /* kept unless sent again */
    else
        json_object_del(b, "has_secret");
    bool ok = channel_from_json(&c, b, &secret, &v);
    json_decref(b);
    if (!ok) {
        validation_report(&v, cb, ud);
        return;
    }
    if (conflicts(a, W_CHANNELS, name, c.name, cb, ud)) {
        channel_free(&c);
        xfree_secret(secret);
        return;
    }
    Write *w = write_new(a, W_CHANNELS, c.name, channel_to_json(&c), cb, ud);
    channel_free(&c);
    if (!secret) {
        hash_write(w);
        return;
    }
    ChannelWrite *cw = xcalloc(1, sizeof *cw);
    cw->w = w;
    cw->secret = xstrdup(secret);
    char id[200];
    snprintf(id, sizeof id, CHANNEL_SECRET "%s", w->name);
    secrets_create(a->deps.aws, id, secret, secret_written, cw);
    xfree_secret(secret);
}

static void secret_dropped(void *ud, const json_t *result, const AwsResult *r)
{
    (void)ud;
    (void)result;
    if (!r->ok && !(r->code && strstr(r->code, "ResourceNotFound")))
        log_warn("alerting: a removed channel's secret was not deleted: %s",
                 r->message ? r->message : "AWS error");
}

void alert_channel_delete(Alert *a, const char *name, DoneCb cb, void *ud)
{
    if (conflicts(a, W_CHANNELS, name, name, cb, ud))
        return;
    for (size_t i = 0; i < a->nrules; i++) {
        for (size_t k = 0; k < a->rules[i].nchannels; k++) {
            if (!strcmp(a->rules[i].channels[k], name)) {
                Failure f = {0};
                failure_set(&f, PGF_ERR_CONFLICT, NULL, "take it out of the rule first",
                            "rule '%s' sends to channel '%s'", a->rules[i].name, name);
                failure_report(&f, cb, ud);
                return;
            }
        }
    }
    if (alert_channel_named(a, name)->has_secret) {
        char id[200];
        snprintf(id, sizeof id, CHANNEL_SECRET "%s", name);
        secrets_delete(a->deps.aws, id, secret_dropped, NULL);
    }
    hash_write(write_new(a, W_CHANNELS, name, NULL, cb, ud));
}

void alert_channel_test(Alert *a, const char *name, DoneCb cb, void *ud)
{
    const Channel *c = alert_channel_named(a, name);
    if (!c) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "GET /api/alerts/channels lists them",
                    "no channel '%s'", name);
        failure_report(&f, cb, ud);
        return;
    }
    json_int_t now = (json_int_t)alert_now();
    json_t *alert = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:I, s:s, s:s}", "id",
                              "0000000000000000", "rule", "test", "kind", "collector_stale",
                              "severity", "info", "labels", "component", "test", "state", "firing",
                              "since", now, "summary", "test notification", "text",
                              "pgfleet sends this to check the channel; nothing is wrong");
    json_t *group = json_pack("{s:s, s:s, s:s, s:s, s:b, s:[o]}", "key", "test", "rule", "test",
                              "severity", "info", "status", "firing", "repeat", 0, "alerts", alert);
    alert_send_to(a, c, group, cb, ud);
    json_decref(group);
}

void alert_silence_create(Alert *a, const json_t *body, const char *by, DoneCb cb, void *ud)
{
    json_t *b = json_deep_copy(body);
    unsigned char raw[6];
    randombytes_buf(raw, sizeof raw);
    char id[16];
    sodium_bin2hex(id, sizeof id, raw, sizeof raw);
    json_object_set_new(b, "id", json_string(id));
    json_object_set_new(b, "created_by", json_string(by ? by : ""));
    Silence s;
    Validation v;
    validation_init(&v);
    bool ok = silence_from_json(&s, b, &v);
    json_decref(b);
    if (!ok) {
        validation_report(&v, cb, ud);
        return;
    }
    hash_write(write_new(a, W_SILENCES, s.id, silence_to_json(&s), cb, ud));
    silence_free(&s);
}

void alert_silence_delete(Alert *a, const char *id, DoneCb cb, void *ud)
{
    bool found = false;
    for (size_t i = 0; i < a->nsilences; i++)
        found |= !strcmp(a->silences[i].id, id);
    if (!found) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "GET /api/alerts/silences lists them",
                    "no silence '%s'", id);
        failure_report(&f, cb, ud);
        return;
    }
    hash_write(write_new(a, W_SILENCES, id, NULL, cb, ud));
}

void alert_ack(Alert *a, const char *id, const char *by, DoneCb cb, void *ud)
{
    json_t *active = engine_active(a->engine);
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(active, i, x) found |= !strcmp(jsonutil_str(x, "id"), id);
    json_decref(active);
    if (!found) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "GET /api/alerts lists the active ones",
                    "no active alert '%s'", id);
        failure_report(&f, cb, ud);
        return;
    }
    char at[40];
    jsonutil_now_rfc3339(at, sizeof at);
    json_t *ack = json_pack("{s:s, s:s, s:s}", "id", id, "by", by ? by : "", "at", at);
    publish(&a->deps.pub, "alerts",
            json_pack("{s:s, s:s, s:O}", "id", id, "state", "acknowledged", "ack", ack));
    hash_write(write_new(a, W_ACKS, id, ack, cb, ud));
}

json_t *alert_rules(const Alert *a)
{
    json_t *out = json_array();
    for (size_t i = 0; i < a->nrules; i++)
        json_array_append_new(out, rule_to_json(&a->rules[i]));
    return json_pack("{s:o}", "rules", out);
}

json_t *alert_channels(const Alert *a)
{
    json_t *out = json_array();
    for (size_t i = 0; i < a->nchannels; i++)
        json_array_append_new(out, channel_to_json(&a->channels[i]));
    return json_pack("{s:o}", "channels", out);
}

json_t *alert_silences(const Alert *a)
{
    json_t *out = json_array();
    double now = alert_now();
    for (size_t i = 0; i < a->nsilences; i++) {
        json_t *s = silence_to_json(&a->silences[i]);
        json_object_set_new(s, "active", json_boolean(a->silences[i].until > now));
        json_array_append_new(out, s);
    }
    return json_pack("{s:o}", "silences", out);
}

typedef struct Deliveries {
    Alert *a;
    DoneCb cb;
    void *ud;
} Deliveries;

static void deliveries_read(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    Deliveries *d = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "read the deliveries", errmsg, d->cb, d->ud);
    } else {
        json_t *out = json_array();
        size_t i;
        const json_t *x;
        json_array_foreach(reply, i, x)
        {
            char perr[80];
            const char *text = json_string_value(x);
            json_t *rec = text ? jsonutil_parse(text, strlen(text), perr, sizeof perr) : NULL;
            if (json_is_object(rec))
                json_array_append(out, rec);
            json_decref(rec);
        }
        d->cb(d->ud, json_pack("{s:o}", "deliveries", out), NULL);
    }
    alert_unref(d->a);
    free(d);
}

static void delivery_ids(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    Deliveries *d = ud;
    if (err != PGF_OK || json_array_size(reply) == 0) {
        deliveries_read(d, err, errmsg, reply ? reply : json_array());
        return;
    }
    size_t n = json_array_size(reply);
    const char **argv = xcalloc(n + 1, sizeof *argv);
    char **keys = xcalloc(n, sizeof *keys);
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        char k[80];
        snprintf(k, sizeof k, "alert:delivery:%.32s",
                 json_string_value(json_array_get(reply, i))
                     ? json_string_value(json_array_get(reply, i))
                     : "x");
        keys[i] = store_key(d->a->deps.store, k);
        argv[i + 1] = keys[i];
    }
    store_call(d->a->deps.store, deliveries_read, d, (int)n + 1, argv);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(argv);
}

void alert_deliveries(Alert *a, long limit, DoneCb cb, void *ud)
{
    Deliveries *d = xcalloc(1, sizeof *d);
    d->a = a;
    a->refs++;
    d->cb = cb;
    d->ud = ud;
    char last[24];
    snprintf(last, sizeof last, "%ld", (limit > 0 && limit <= 1000 ? limit : 100) - 1);
    char *key = store_key(a->deps.store, "alert:deliveries");
    const char *argv[] = {"LRANGE", key, "0", last};
    store_call(a->deps.store, delivery_ids, d, 4, argv);
    free(key);
}
