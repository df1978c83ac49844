#include "alert/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alert/engine.h"
#include "alert/guidance.h"
#include "alert/notify.h"
#include "alert/rules.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pg/target.h"

#define RELOAD_MS       30000
#define REPEAT_CHECK_MS 60000
/* a repeat of a firing alert: claimed only while no instance has resolved it */
#define REPEAT_CLAIM                                                                               \
    "if redis.call('EXISTS', KEYS[2]) == 1 then return false end "                                 \
    "return redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1])"
#define EVENTS_KEEP_S     86400.0
#define EVENTS_MAX        20000
#define MIGRATIONS_KEEP_S 86400.0
#define DELIVERIES_MAX    1000

double alert_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the rules, channels and silences held ---- */

static void drop_rules(Alert *a)
{
    for (size_t i = 0; i < a->nrules; i++)
        rule_free(&a->rules[i]);
    free(a->rules);
    a->rules = NULL;
    a->nrules = 0;
}

static void drop_channels(Alert *a)
{
    for (size_t i = 0; i < a->nchannels; i++)
        channel_free(&a->channels[i]);
    free(a->channels);
    a->channels = NULL;
    a->nchannels = 0;
}

static void drop_silences(Alert *a)
{
    for (size_t i = 0; i < a->nsilences; i++)
        silence_free(&a->silences[i]);
    free(a->silences);
    a->silences = NULL;
    a->nsilences = 0;
}

const Channel *alert_channel_named(const Alert *a, const char *name)
{
    for (size_t i = 0; i < a->nchannels; i++)
        if (!strcmp(a->channels[i].name, name))
            return &a->channels[i];
    return NULL;
}

const Rule *alert_rule_named(const Alert *a, const char *name)
{
    for (size_t i = 0; i < a->nrules; i++)
        if (!strcmp(a->rules[i].name, name))
            return &a->rules[i];
    return NULL;
}

/* the labels silences and channels match on: the alert's, plus rule and severity */
json_t *alert_match_labels(const json_t *alert)
{
    json_t *l = json_deep_copy(json_object_get(alert, "labels"));
    if (!l)
        l = json_object();
    json_object_set_new(l, "rule", json_string(jsonutil_str(alert, "rule")));
    json_object_set_new(l, "severity", json_string(jsonutil_str(alert, "severity")));
    return l;
}

const Silence *alert_silenced_by(const Alert *a, const json_t *alert)
{
    double now = alert_now();
    json_t *l = alert_match_labels(alert);
    const Silence *hit = NULL;
    for (size_t i = 0; i < a->nsilences && !hit; i++)
        if (a->silences[i].until > now && labels_match(a->silences[i].match, l))
            hit = &a->silences[i];
    json_decref(l);
    return hit;
}

/* ---- loading from Redis ---- */

const char *const alert_hash_keys[] = {"alert:rules", "alert:channels", "alert:silences",
                                       "alert:acks"};

typedef struct Load {
    Alert *a;
    What what;
} Load;

static void adopt(Alert *a, What what, size_t n, const char *const *values, const size_t *lens)
{
    if (what == W_RULES)
        drop_rules(a);
    else if (what == W_CHANNELS)
        drop_channels(a);
    else if (what == W_SILENCES)
        drop_silences(a);
    else
        json_object_clear(a->acks);
    for (size_t i = 0; i < n; i++) {
        char perr[100];
        json_t *j = jsonutil_parse(values[i], lens[i], perr, sizeof perr);
        Validation v;
        validation_init(&v);
        bool ok = j != NULL;
        if (ok && what == W_RULES) {
            a->rules = xrealloc(a->rules, (a->nrules + 1) * sizeof *a->rules);
            ok = rule_from_json(&a->rules[a->nrules], j, &v);
            a->nrules += ok;
        } else if (ok && what == W_CHANNELS) {
            char *secret = NULL;
            a->channels = xrealloc(a->channels, (a->nchannels + 1) * sizeof *a->channels);
            ok = channel_from_json(&a->channels[a->nchannels], j, &secret, &v) && !secret;
            a->nchannels += ok;
            xfree_secret(secret);
        } else if (ok && what == W_SILENCES) {
            a->silences = xrealloc(a->silences, (a->nsilences + 1) * sizeof *a->silences);
            ok = silence_from_json(&a->silences[a->nsilences], j, &v);
            a->nsilences += ok;
        } else if (ok) {
            const char *id = jsonutil_str(j, "id");
            if ((ok = id != NULL))
                json_object_set(a->acks, id, j);
        }
        if (!ok)
            log_warn("alerting: a stored %s record is not valid (%s): skipped",
                     alert_hash_keys[what] + 6, v.count ? v.errors[0].message : "not JSON");
        json_decref(j);
    }
}

static void loaded(void *ud, PgfError err, const char *errmsg, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
    (void)fields;
    Load *l = ud;
    if (err == PGF_OK && !l->a->closing)
        adopt(l->a, l->what, n, values, lens);
    else if (err != PGF_OK)
        log_warn("alerting: could not read %s: %s", alert_hash_keys[l->what], errmsg ? errmsg : "");
    if (l->what == W_RULES && err == PGF_OK)
        l->a->loaded = true;
    alert_unref(l->a);
    free(l);
}

void alert_load_all(Alert *a)
{
    for (int w = W_RULES; w <= W_ACKS; w++) {
        Load *l = xcalloc(1, sizeof *l);
        l->a = a;
        l->what = (What)w;
        a->refs++;
        if (store_hgetall(a->deps.store, alert_hash_keys[w], loaded, l) != PGF_OK) {
            a->refs--;
            free(l);
        }
    }
}

static void seeded(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Alert *a = ud;
    if (err == PGF_OK && json_is_string(reply) && !a->closing) {
        /* first start against this Redis: the built-in rules, which a user may change */
        json_t *defaults = rule_defaults();
        size_t i;
        json_t *r;
        json_array_foreach(defaults, i, r)
        {
            char *text = json_dumps(r, JSON_COMPACT);
            char *key = store_key(a->deps.store, "alert:rules");
            const char *argv[] = {"HSETNX", key, jsonutil_str(r, "name"), text};
            store_call(a->deps.store, NULL, NULL, 4, argv);
            free(key);
            free(text);
        }
        json_decref(defaults);
        log_info("alerting: built-in rules written (they can be changed or disabled)");
    }
    if (!a->closing)
        alert_load_all(a);
    alert_unref(a);
}

/* what fired before this instance started (alert:active) fires on here until it resolves */
/* the firing alerts of alert:active into engine; returns how many were taken */
static size_t restore_into(AlertEngine *engine, size_t n, const char *const *values,
                           const size_t *lens)
{
    size_t taken = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *j = jsonutil_parse(values[i], lens[i], NULL, 0);
        if (j && engine_restore(engine, j, alert_now()))
            taken++;
        else
            log_warn("alerting: a stored firing alert is not valid: skipped");
        json_decref(j);
    }
    return taken;
}

static void restored(void *ud, PgfError err, const char *errmsg, size_t n,
                     const char *const *fields, const char *const *values, const size_t *lens)
{
    (void)fields;
    Alert *a = ud;
    if (err != PGF_OK)
        log_warn("alerting: could not read the firing alerts: %s", errmsg ? errmsg : "");
    size_t taken = err == PGF_OK && !a->closing ? restore_into(a->engine, n, values, lens) : 0;
    if (taken)
        log_info("alerting: %zu firing alerts taken over from before this start", taken);
    alert_unref(a);
}

/* not the leader: the engine mirrors what the leader keeps firing, ready to take over */
static void mirrored(void *ud, PgfError err, const char *errmsg, size_t n,
                     const char *const *fields, const char *const *values, const size_t *lens)
{
    (void)fields;
    (void)errmsg;
    Alert *a = ud;
    a->mirroring = false;
    if (err == PGF_OK && !a->closing && !a->active) {
        AlertEngine *e = engine_new();
        restore_into(e, n, values, lens);
        engine_free(a->engine);
        a->engine = e;
    }
    alert_unref(a);
}

static void mirror(Alert *a)
{
    if (a->mirroring)
        return;
    a->mirroring = true;
    a->refs++;
    if (store_hgetall(a->deps.store, "alert:active", mirrored, a) != PGF_OK)
        mirrored(a, PGF_ERR_STORE_DOWN, NULL, 0, NULL, NULL, NULL);
}

void alert_reload(Alert *a)
{
    if (!a->closing && store_state(a->deps.store) == STORE_READY)
        alert_load_all(a);
}

void alert_set_active(Alert *a, bool active)
{
    if (a->active == active)
        return;
    log_info("alerting: this instance %s",
             active ? "evaluates the rules and notifies" : "follows the leader's alerts");
    a->active = active;
    if (active && store_state(a->deps.store) == STORE_READY) {
        /* a new leader evaluates with the rules as stored now, not as last read */
        a->loaded = false;
        alert_load_all(a);
    }
}

void alert_store_ready(Alert *a)
{
    if (!a->restored) {
        a->restored = true;
        a->refs++;
        if (store_hgetall(a->deps.store, "alert:active", restored, a) != PGF_OK)
            a->refs--;
    }
    char *key = store_key(a->deps.store, "alert:seeded");
    const char *argv[] = {"SET", key, "1", "NX"};
    a->refs++;
    store_call(a->deps.store, seeded, a, 4, argv);
    free(key);
}

static void reload_tick(uv_timer_t *t)
{
    Alert *a = t->data;
    if (store_state(a->deps.store) == STORE_READY)
        alert_load_all(a);
}

/* ---- inputs ---- */

void alert_collected(Alert *a, const json_t *topology, const json_t *status)
{
    json_decref(a->topology);
    json_decref(a->status);
    a->topology = json_deep_copy(topology);
    a->status = json_deep_copy(status);
    a->collected_epoch = alert_now();
}

static void prune(json_t *arr, double keep_s, size_t max)
{
    double now = alert_now();
    while (json_array_size(arr) > max ||
           (json_array_size(arr) &&
            now - json_number_value(json_object_get(json_array_get(arr, 0), "epoch")) > keep_s))
        json_array_remove(arr, 0);
}

void alert_observe(Alert *a, const char *topic, const json_t *data)
{
    if (!strcmp(topic, "events")) {
        json_t *e = json_deep_copy(data);
        json_object_set_new(e, "epoch", json_real(alert_now()));
        json_array_append_new(a->events, e);
        prune(a->events, EVENTS_KEEP_S, EVENTS_MAX);
    } else if (!strncmp(topic, "stream:", 7)) {
        const char *state = jsonutil_str(data, "state");
        if (state)
            json_object_set_new(
                a->streams, topic + 7,
                json_pack("{s:s, s:s?}", "state", state, "error", jsonutil_str(data, "error")));
    } else if (!strncmp(topic, "migration:", 10)) {
        const char *ev = jsonutil_str(data, "event");
        const json_t *report = json_object_get(data, "report");
        const char *status = jsonutil_str(report, "status");
        /* a dry run that fails did its job: it found what would fail, and changed nothing */
        if (ev && !strcmp(ev, "finished") && status &&
            !json_is_true(json_object_get(report, "dry_run")) &&
            (!strcmp(status, "failed") || !strcmp(status, "partial"))) {
            json_array_append_new(a->migrations,
                                  json_pack("{s:s, s:s?, s:s, s:s?, s:f}", "execution_id",
                                            topic + 10, "name", jsonutil_str(report, "name"),
                                            "status", status, "error",
                                            jsonutil_str(report, "error"), "epoch", alert_now()));
            prune(a->migrations, MIGRATIONS_KEEP_S, 1000);
        }
    }
}

/* ---- deliveries ---- */

/* the deliveries of one notification to one channel (PagerDuty: one per alert) */
typedef struct Sent {
    Alert *a;
    size_t remaining;
    json_t *listed; /* delivery ids already in the list */
    DoneCb test_cb; /* a test: answered after the first attempt */
    void *test_ud;
} Sent;

static void delivery_update(void *ud, const json_t *d, bool final)
{
    Sent *s = ud;
    Alert *a = s->a;
    if (!a->closing && store_state(a->deps.store) == STORE_READY) {
        char key[80], px[32];
        snprintf(key, sizeof key, "alert:delivery:%s", jsonutil_str(d, "id"));
        snprintf(px, sizeof px, "%.0f", a->history_s * 1000);
        char *k = store_key(a->deps.store, key);
        char *text = json_dumps(d, JSON_COMPACT);
        const char *argv[] = {"SET", k, text, "PX", px};
        store_call(a->deps.store, NULL, NULL, 5, argv);
        if (!json_object_get(s->listed, jsonutil_str(d, "id"))) {
            char *list = store_key(a->deps.store, "alert:deliveries");
            const char *push[] = {"LPUSH", list, jsonutil_str(d, "id")};
            store_call(a->deps.store, NULL, NULL, 3, push);
            char last[16];
            snprintf(last, sizeof last, "%d", DELIVERIES_MAX - 1);
            const char *trim[] = {"LTRIM", list, "0", last};
            store_call(a->deps.store, NULL, NULL, 4, trim);
            free(list);
            json_object_set_new(s->listed, jsonutil_str(d, "id"), json_true());
        }
        free(text);
        free(k);
    }
    if (s->test_cb) {
        s->test_cb(s->test_ud, json_deep_copy(d), NULL);
        s->test_cb = NULL;
    }
    if (final && --s->remaining == 0) {
        json_decref(s->listed);
        free(s);
        alert_unref(a);
    }
}

typedef struct Send {
    Alert *a;
    Channel c;
    json_t *group;
    DoneCb test_cb;
    void *test_ud;
} Send;

static void send_free(Send *s)
{
    Alert *a = s->a;
    channel_free(&s->c);
    json_decref(s->group);
    free(s);
    alert_unref(a);
}

static void deliver(Send *s, const char *secret)
{
    size_t n = s->c.type == CH_PAGERDUTY ? json_array_size(json_object_get(s->group, "alerts")) : 1;
    if (!s->a->notifier || n == 0)
        return;
    Sent *t = xcalloc(1, sizeof *t);
    t->a = s->a;
    s->a->refs++;
    t->remaining = n;
    t->listed = json_object();
    t->test_cb = s->test_cb;
    t->test_ud = s->test_ud;
    notifier_send(s->a->notifier, &s->c, secret, s->group, delivery_update, t);
}

static void secret_read(void *ud, const json_t *result, const AwsResult *r)
{
    Send *s = ud;
    if (!r->ok) {
        log_event(LOG_ERROR, NULL, json_pack("{s:s}", "channel", s->c.name),
                  "alert channel %s: its secret could not be read: %s", s->c.name,
                  r->message ? r->message
                  : r->code  ? r->code
                             : "error");
        if (s->test_cb) {
            Failure f = {0};
            failure_set(&f, PGF_ERR_AWS, NULL, "check the channel's secret in Secrets Manager",
                        "the secret of channel %s could not be read", s->c.name);
            failure_report(&f, s->test_cb, s->test_ud);
        }
    } else {
        deliver(s, jsonutil_str(result, "value"));
    }
    send_free(s);
}

void alert_send_to(Alert *a, const Channel *c, const json_t *group, DoneCb test_cb, void *test_ud)
{
    Send *s = xcalloc(1, sizeof *s);
    s->a = a;
    a->refs++;
    json_t *copy = channel_to_json(c);
    char *secret = NULL;
    Validation v;
    validation_init(&v);
    if (!channel_from_json(&s->c, copy, &secret, &v)) {
        json_decref(copy);
        free(s);
        alert_unref(a);
        return;
    }
    json_decref(copy);
    s->group = json_deep_copy(group);
    s->test_cb = test_cb;
    s->test_ud = test_ud;
    if (!c->has_secret) {
        deliver(s, NULL);
        send_free(s);
        return;
    }
    char id[200];
    snprintf(id, sizeof id, CHANNEL_SECRET "%s", c->name);
    secrets_get(a->deps.secrets, id, secret_read, s);
}

/* the channels a group goes to: the rule's, or every channel that takes it */
static void route(Alert *a, const Rule *r, const json_t *group)
{
    const json_t *first = json_array_get(json_object_get(group, "alerts"), 0);
    json_t *labels = alert_match_labels(first);
    Severity severity = SEV_CRITICAL; /* a removed rule's resolution: its recorded severity */
    const char *gs = jsonutil_str(group, "severity");
    for (int k = 0; !r && gs && severity_names[k]; k++)
        if (!strcmp(severity_names[k], gs))
            severity = (Severity)k;
    if (r)
        severity = r->severity;
    for (size_t i = 0; i < a->nchannels; i++) {
        const Channel *c = &a->channels[i];
        bool named = false;
        for (size_t k = 0; r && k < r->nchannels; k++)
            named |= !strcmp(r->channels[k], c->name);
        bool takes = c->min_severity <= severity && labels_match(c->match, labels);
        if ((r && r->nchannels) ? named : takes)
            alert_send_to(a, c, group, NULL, NULL);
    }
    json_decref(labels);
}

/* ---- transitions ---- */

json_t *alert_with_guidance(const json_t *alert)
{
    json_t *x = json_deep_copy(alert);
    int kind = 0;
    for (int k = 0; alert_kind_names[k]; k++)
        if (!strcmp(alert_kind_names[k],
                    jsonutil_str(alert, "kind") ? jsonutil_str(alert, "kind") : ""))
            kind = k;
    json_object_set_new(x, "guidance",
                        guidance_for((AlertKind)kind, json_object_get(alert, "labels")));
    return x;
}

typedef struct Tick {
    Alert *a;
    int pending;
    json_t *won; /* transitions this instance claimed, with guidance */
    bool repeat;
} Tick;

static void history_add(Alert *a, const json_t *t, bool silenced)
{
    json_t *h =
        json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:I, s:b}", "id",
                  json_object_get(t, "id"), "rule", json_object_get(t, "rule"), "kind",
                  json_object_get(t, "kind"), "severity", json_object_get(t, "severity"), "state",
                  json_object_get(t, "state"), "labels", json_object_get(t, "labels"), "value",
                  json_object_get(t, "value") ? json_object_get(t, "value") : json_null(), "since",
                  json_object_get(t, "since"), "at", (json_int_t)alert_now(), "silenced", silenced);
    char ts[40];
    jsonutil_now_rfc3339(ts, sizeof ts);
    json_object_set_new(h, "ts", json_string(ts));
    store_stream_add(a->deps.store, "alert:history", h, 0, a->history_s);
    json_decref(h);
}

/* groups the claimed transitions by rule, state and group_by label; notifies each */
static void notify_groups(Alert *a, const json_t *won, bool repeat)
{
    json_t *groups = json_object();
    size_t i;
    const json_t *t;
    json_array_foreach(won, i, t)
    {
        if (json_is_true(json_object_get(t, "silenced")))
            continue;
        const Rule *r = alert_rule_named(a, jsonutil_str(t, "rule"));
        const char *gv =
            r && r->group_by ? jsonutil_str(json_object_get(t, "labels"), r->group_by) : NULL;
        char key[600];
        snprintf(key, sizeof key, "%s|%s|%s", jsonutil_str(t, "rule"), jsonutil_str(t, "state"),
                 gv ? gv : jsonutil_str(t, "id"));
        json_t *g = json_object_get(groups, key);
        if (!g) {
            g = json_pack("{s:s, s:O, s:O, s:O, s:b, s:[]}", "key", key, "rule",
                          json_object_get(t, "rule"), "severity", json_object_get(t, "severity"),
                          "status", json_object_get(t, "state"), "repeat", repeat, "alerts");
            json_object_set_new(groups, key, g);
        }
        json_array_append(json_object_get(g, "alerts"), jsonutil_unconst(t));
    }
    const char *k;
    json_t *g;
    json_object_foreach(groups, k, g) route(a, alert_rule_named(a, jsonutil_str(g, "rule")), g);
    json_decref(groups);
}

static void tick_done(Tick *t)
{
    Alert *a = t->a;
    if (!a->closing)
        notify_groups(a, t->won, t->repeat);
    json_decref(t->won);
    free(t);
    alert_unref(a);
}

typedef struct Claim {
    Tick *tick;
    json_t *transition;
} Claim;

static void claimed(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Claim *c = ud;
    Tick *t = c->tick;
    Alert *a = t->a;
    if (err == PGF_OK && json_is_string(reply) && !a->closing) { /* "OK": ours to handle */
        const char *state = jsonutil_str(c->transition, "state");
        const char *id = jsonutil_str(c->transition, "id");
        /* the other state's claim goes, so the next change of this alert is notified too */
        char other[96];
        snprintf(other, sizeof other, "alert:sent:%s:%s", id,
                 !strcmp(state, "firing") ? "resolved" : "firing");
        if (!t->repeat) {
            char *k = store_key(a->deps.store, other);
            const char *argv[] = {"DEL", k};
            store_call(a->deps.store, NULL, NULL, 2, argv);
            free(k);
        }
        if (!t->repeat) { /* what fires is kept, so a restart resolves it too */
            char *k = store_key(a->deps.store, "alert:active");
            char *text = json_dumps(c->transition, JSON_COMPACT);
            const char *argv[] = {!strcmp(state, "firing") ? "HSET" : "HDEL", k, id, text};
            store_call(a->deps.store, NULL, NULL, !strcmp(state, "firing") ? 4 : 3, argv);
            free(text);
            free(k);
        }
        if (!strcmp(state, "resolved") && json_object_get(a->acks, id)) {
            char *k = store_key(a->deps.store, "alert:acks");
            const char *argv[] = {"HDEL", k, id};
            store_call(a->deps.store, NULL, NULL, 3, argv);
            free(k);
            json_object_del(a->acks, id);
        }
        const Silence *s = alert_silenced_by(a, c->transition);
        json_t *x = alert_with_guidance(c->transition);
        json_object_set_new(x, "silenced", json_boolean(s != NULL));
        if (!t->repeat) {
            history_add(a, x, s != NULL);
            publish(&a->deps.pub, "alerts", json_deep_copy(x));
            log_event(!strcmp(state, "firing") ? LOG_WARN : LOG_INFO, NULL,
                      json_pack("{s:s, s:s, s:O}", "alert", id, "state", state, "labels",
                                json_object_get(x, "labels")),
                      "alert %s %s: %s", jsonutil_str(x, "rule"), state, jsonutil_str(x, "text"));
        }
        json_array_append_new(t->won, x);
    }
    json_decref(c->transition);
    free(c);
    if (--t->pending == 0)
        tick_done(t);
}

static void claim_all(Alert *a, const json_t *transitions, bool repeat)
{
    if (json_array_size(transitions) == 0)
        return;
    Tick *t = xcalloc(1, sizeof *t);
    t->a = a;
    a->refs++;
    t->won = json_array();
    t->repeat = repeat;
    t->pending = 1;
    size_t i;
    const json_t *x;
    json_array_foreach(transitions, i, x)
    {
        Claim *c = xcalloc(1, sizeof *c);
        c->tick = t;
        c->transition = json_deep_copy(x);
        char k[96], px[32];
        snprintf(k, sizeof k, "alert:sent:%s:%s", jsonutil_str(x, "id"), jsonutil_str(x, "state"));
        bool firing = !strcmp(jsonutil_str(x, "state"), "firing");
        snprintf(px, sizeof px, "%.0f", (firing ? a->repeat_s : 86400.0) * 1000);
        char *key = store_key(a->deps.store, k);
        t->pending++;
        if (repeat) {
            /* not once another instance resolved it (its resolved claim stands) */
            char r[96];
            snprintf(r, sizeof r, "alert:sent:%s:resolved", jsonutil_str(x, "id"));
            char *rkey = store_key(a->deps.store, r);
            const char *argv[] = {"EVAL", REPEAT_CLAIM, "2", key, rkey, px};
            store_call(a->deps.store, claimed, c, 6, argv);
            free(rkey);
        } else {
            const char *argv[] = {"SET", key, "1", "NX", "PX", px};
            store_call(a->deps.store, claimed, c, 6, argv);
        }
        free(key);
    }
    if (--t->pending == 0)
        tick_done(t);
}

/* firing alerts not acknowledged whose claim expired: notified again */
static void repeats(Alert *a, json_t *active)
{
    json_t *due = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(active, i, x)
    {
        if (!strcmp(jsonutil_str(x, "state"), "firing") &&
            !json_object_get(a->acks, jsonutil_str(x, "id")))
            json_array_append(due, x);
    }
    claim_all(a, due, true);
    json_decref(due);
}

static json_t *databases_health(const Alert *a)
{
    json_t *out = json_array();
    PgTarget *targets[4096];
    size_t n = registry_targets(a->deps.registry, targets, sizeof targets / sizeof targets[0]);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_pack("{s:s, s:s}", "id", pgtarget_config(targets[i])->id,
                                             "health",
                                             registry_health_state(a->deps.registry, targets[i])));
    return out;
}

static void evaluate(Alert *a)
{
    if (!a->loaded || store_state(a->deps.store) != STORE_READY)
        return;
    if (!a->active) {
        mirror(a);
        return;
    }
    json_t *dbs = databases_health(a);
    AlertSnapshot s = {.status = a->status,
                       .topology = a->topology,
                       .databases = dbs,
                       .events = a->events,
                       .streams = a->streams,
                       .migrations = a->migrations,
                       .collected_epoch = a->collected_epoch,
                       .started_epoch = a->started_epoch,
                       .now = alert_now()};
    json_t *transitions = json_array();
    engine_evaluate(a->engine, a->rules, a->nrules, &s, transitions);
    claim_all(a, transitions, false);
    json_decref(transitions);
    json_decref(dbs);
    uint64_t now = uv_now(a->deps.loop);
    if (now - a->last_repeat_check >= REPEAT_CHECK_MS) {
        a->last_repeat_check = now;
        json_t *active = engine_active(a->engine);
        repeats(a, active);
        json_decref(active);
    }
}

static void tick_cb(uv_timer_t *t)
{
    evaluate(t->data);
}

/* ---- life ---- */

Alert *alert_new(const AlertDeps *deps)
{
    Alert *a = xcalloc(1, sizeof *a);
    a->deps = *deps;
    const Config *cfg = deps->cfg;
    a->history_s = cfg->alert_history_days * 86400.0;
    a->repeat_s = cfg->alert_repeat_seconds;
    a->acks = json_object();
    a->events = json_array();
    a->streams = json_object();
    a->migrations = json_array();
    a->engine = engine_new();
    a->notifier = notifier_new(deps->loop, aws_client_http(deps->aws), deps->aws,
                               config_get(cfg, CFG_PUBLIC_URL), cfg->alert_retry_ms);
    a->started_epoch = alert_now();
    a->active = true;
    a->last_repeat_check = uv_now(deps->loop);
    a->refs = 3; /* the owner, two timers */
    uv_timer_init(deps->loop, &a->tick);
    uv_timer_init(deps->loop, &a->reload);
    a->tick.data = a->reload.data = a;
    uint64_t every = (uint64_t)cfg->collect_interval_seconds * 1000;
    uv_timer_start(&a->tick, tick_cb, every, every);
    uv_timer_start(&a->reload, reload_tick, RELOAD_MS, RELOAD_MS);
    return a;
}

void alert_unref(Alert *a)
{
    if (--a->refs > 0)
        return;
    drop_rules(a);
    drop_channels(a);
    drop_silences(a);
    json_decref(a->acks);
    json_decref(a->topology);
    json_decref(a->status);
    json_decref(a->events);
    json_decref(a->streams);
    json_decref(a->migrations);
    engine_free(a->engine);
    free(a);
}

/* the timers' references */
static void timer_unref(void *a)
{
    alert_unref(a);
}

void alert_free(Alert *a)
{
    if (!a)
        return;
    a->closing = true;
    notifier_free(a->notifier);
    a->notifier = NULL;
    uvtimer_close(&a->tick, timer_unref);
    uvtimer_close(&a->reload, timer_unref);
    alert_unref(a);
}
