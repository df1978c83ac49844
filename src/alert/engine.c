#include "alert/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

#define FORECAST_WINDOW_S 1800.0 /* growth measured over the last 30 minutes */
#define FORECAST_MIN_SPAN 300.0  /* ... once there are at least 5 of them */
#define STALL_DEFAULT_S   900.0

struct AlertEngine {
    json_t *alerts;  /* fingerprint -> {"rule", "state", "labels", "since", "last_true", ...} */
    json_t *samples; /* "node/slot" -> [[t, retained_bytes], ...] (slot_forecast) */
    json_t *copies;  /* "to/subscription" -> {"ready", "since"} (stalled initial copies) */
    json_t *idle;    /* "node/slot" -> since when the slot is inactive */
    json_t *rates;   /* "node/slot" -> [collection time, growth rate] */
};

AlertEngine *engine_new(void)
{
    AlertEngine *e = xcalloc(1, sizeof *e);
    e->alerts = json_object();
    e->samples = json_object();
    e->copies = json_object();
    e->idle = json_object();
    e->rates = json_object();
    return e;
}

void engine_free(AlertEngine *e)
{
    if (!e)
        return;
    json_decref(e->alerts);
    json_decref(e->samples);
    json_decref(e->copies);
    json_decref(e->idle);
    json_decref(e->rates);
    free(e);
}

/* ---- subjects: what an alert is about, as label pairs (no JSON until it is needed) ---- */

#define MAX_LABELS 8

typedef struct Subject {
    const char *key[MAX_LABELS];
    const char *value[MAX_LABELS];
    size_t n;
} Subject;

/* adds key=value (nothing when value is NULL), keeping the keys sorted */
static void subject_add(Subject *s, const char *key, const char *value)
{
    if (!value || s->n == MAX_LABELS)
        return;
    size_t i = s->n++;
    while (i > 0 && strcmp(s->key[i - 1], key) > 0) {
        s->key[i] = s->key[i - 1];
        s->value[i] = s->value[i - 1];
        i--;
    }
    s->key[i] = key;
    s->value[i] = value;
}

static const char *subject_get(const Subject *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->key[i], key))
            return s->value[i];
    return NULL;
}

static const char *subject_label(const char *key, const void *s)
{
    return subject_get(s, key);
}

static bool subject_matches(const json_t *matchers, const Subject *s)
{
    return matchers_match(matchers, subject_label, s);
}

/* a hash of the rule's name and the sorted key=value pairs */
static void subject_fingerprint(const char *rule, const Subject *s, char out[17])
{
    crypto_generichash_state st;
    unsigned char h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)rule, strlen(rule) + 1);
    for (size_t i = 0; i < s->n; i++) {
        crypto_generichash_update(&st, (const unsigned char *)s->key[i], strlen(s->key[i]) + 1);
        crypto_generichash_update(&st, (const unsigned char *)s->value[i], strlen(s->value[i]) + 1);
    }
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 17, h, sizeof h);
}

static json_t *subject_labels(const Subject *s)
{
    json_t *l = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(l, s->key[i], json_string(s->value[i]));
    return l;
}

void alert_fingerprint(const char *rule, const json_t *labels, char out[17])
{
    Subject s = {0};
    const char *k;
    const json_t *v;
    json_object_foreach(jsonutil_unconst(labels), k, v) subject_add(&s, k, json_string_value(v));
    subject_fingerprint(rule, &s, out);
}

/* a string member, or dflt */
static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *v = jsonutil_str(o, key);
    return v ? v : dflt;
}

/* ---- what one rule sees: its subjects ---- */

typedef struct Eval {
    AlertEngine *e;
    const Rule *r;
    const AlertSnapshot *s;
    json_t *seen; /* fingerprints with a subject this round */
    json_t *out;
    bool matched;    /* the rule's matchers were applied to something else (log events) */
    char fp[17];     /* the subject's, after wanted() */
    bool has_alerts; /* the rule has pending or firing alerts */
} Eval;

/*
 * Whether a subject needs looking at: it matches the rule and its condition
 * holds, or an alert about it exists. Most subjects of a large fleet are fine
 * and never had an alert: they cost a hash, nothing else.
 */
static bool wanted(Eval *ev, const Subject *s, bool holds)
{
    if (!holds && !ev->has_alerts)
        return false;
    if (!ev->matched && !subject_matches(ev->r->match, s))
        return false;
    subject_fingerprint(ev->r->name, s, ev->fp);
    return holds || json_object_get(ev->e->alerts, ev->fp);
}

/*
 * One subject that wanted() took: the value and threshold to report (stolen,
 * may be NULL), whether the condition holds now, and what it is in words.
 */
static void observe(Eval *ev, const Subject *subject, json_t *value, json_t *threshold, bool holds,
                    const char *text)
{
    const Rule *r = ev->r;
    const char *fp = ev->fp;
    json_object_set_new(ev->seen, fp, json_true());
    json_t *a = json_object_get(ev->e->alerts, fp);
    double now = ev->s->now;
    if (!a) {
        json_t *labels = subject_labels(subject);
        char *lt = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
        /* times in answers are whole seconds ("since" rounded up: never fires early) */
        a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:f, s:s++}", "id", fp, "rule", r->name,
                      "kind", alert_kind_names[r->kind], "severity", severity_names[r->severity],
                      "labels", labels, "state", "pending", "since", (json_int_t)ceil(now),
                      "last_true", now, "summary", r->name, " ", lt);
        free(lt);
        json_object_set_new(ev->e->alerts, fp, a);
    }
    json_object_set_new(a, "value", value ? value : json_null());
    json_object_set_new(a, "threshold", threshold ? threshold : json_null());
    json_object_set_new(a, "text", json_string(text ? text : ""));
    const char *state = jsonutil_str(a, "state");
    if (holds) {
        json_object_set_new(a, "last_true", json_real(now));
        if (!strcmp(state, "pending") &&
            now - json_number_value(json_object_get(a, "since")) >= r->for_s) {
            json_object_set_new(a, "state", json_string("firing"));
            json_object_set_new(a, "firing_since", json_integer((json_int_t)now));
            json_array_append(ev->out, a);
        }
    } else if (!strcmp(state, "pending")) {
        json_object_del(ev->e->alerts, fp); /* never fired: back to inactive quietly */
    }
}

static void edge_subject(Subject *s, const json_t *edge)
{
    subject_add(s, "kind", str_or(edge, "kind", ""));
    subject_add(s, "from", str_or(edge, "from", "unknown"));
    subject_add(s, "to", str_or(edge, "to", "unknown"));
    subject_add(s, "subscription", jsonutil_str(edge, "subscription"));
    subject_add(s, "slot", jsonutil_str(edge, "slot"));
    subject_add(s, "database", jsonutil_str(edge, "target_database"));
}

static void eval_lag(Eval *ev)
{
    const Rule *r = ev->r;
    size_t i;
    const json_t *edge;
    json_array_foreach(json_object_get(ev->s->status, "edges"), i, edge)
    {
        const json_t *b = json_object_get(edge, "lag_bytes");
        const json_t *sec = json_object_get(edge, "lag_seconds");
        bool over_b = r->threshold_bytes >= 0 && json_is_integer(b) &&
                      json_integer_value(b) > r->threshold_bytes;
        bool over_s = r->threshold_seconds >= 0 && json_is_number(sec) &&
                      json_number_value(sec) > (double)r->threshold_seconds;
        Subject s = {0};
        edge_subject(&s, edge);
        if (!wanted(ev, &s, over_b || over_s))
            continue;
        json_t *value = json_pack("{s:O, s:O}", "lag_bytes", b ? b : json_null(), "lag_seconds",
                                  sec ? sec : json_null());
        json_t *threshold = json_object();
        if (r->threshold_bytes >= 0)
            json_object_set_new(threshold, "lag_bytes", json_integer(r->threshold_bytes));
        if (r->threshold_seconds >= 0)
            json_object_set_new(threshold, "lag_seconds", json_integer(r->threshold_seconds));
        char text[200];
        snprintf(text, sizeof text, "lag %lld bytes, %.1f s", (long long)json_integer_value(b),
                 json_number_value(sec));
        observe(ev, &s, value, threshold, over_b || over_s, text);
    }
}

/* the initial copy of a logical edge made no progress for the stall time */
static bool copy_stalled(Eval *ev, const json_t *edge)
{
    const json_t *topo_edges = json_object_get(ev->s->topology, "edges");
    const char *to = jsonutil_str(edge, "to"), *sub = jsonutil_str(edge, "subscription");
    size_t i;
    const json_t *t;
    json_array_foreach(topo_edges, i, t)
    {
        if (!to || !sub || jsonutil_str(t, "to") == NULL || strcmp(jsonutil_str(t, "to"), to) ||
            !jsonutil_str(t, "subscription") || strcmp(jsonutil_str(t, "subscription"), sub))
            continue;
        json_int_t ready = json_integer_value(json_object_get(json_object_get(t, "sync"), "ready"));
        char key[400];
        snprintf(key, sizeof key, "%s/%s", to, sub);
        json_t *c = json_object_get(ev->e->copies, key);
        if (!c || json_integer_value(json_object_get(c, "ready")) != ready) {
            json_object_set_new(ev->e->copies, key,
                                json_pack("{s:I, s:f}", "ready", ready, "since", ev->s->now));
            return false;
        }
        double stall = ev->r->inactive_s > 0 ? ev->r->inactive_s : STALL_DEFAULT_S;
        return ev->s->now - json_number_value(json_object_get(c, "since")) >= stall;
    }
    return false;
}

static void eval_edge_down(Eval *ev)
{
    size_t i;
    const json_t *edge;
    json_array_foreach(json_object_get(ev->s->status, "edges"), i, edge)
    {
        const char *state = jsonutil_str(edge, "state");
        const char *kind = jsonutil_str(edge, "kind");
        if (!kind || !strcmp(kind, "rds") || !strcmp(kind, "aurora"))
            continue; /* RDS edges are told by the RDS API, without a live state */
        bool logical = !strcmp(kind, "logical");
        bool down;
        const char *why;
        if (logical && json_is_false(json_object_get(edge, "enabled"))) {
            down = true;
            why = "the subscription is disabled";
        } else if (state && !strcmp(state, "initializing")) {
            down = copy_stalled(ev, edge);
            why = "the initial copy makes no progress";
        } else {
            down = !state || (strcmp(state, "streaming") && strcmp(state, "catchup"));
            why = NULL;
        }
        Subject s = {0};
        edge_subject(&s, edge);
        if (!wanted(ev, &s, down))
            continue;
        char text[200];
        if (why)
            snprintf(text, sizeof text, "%s", why);
        else
            snprintf(text, sizeof text, "state %s", state ? state : "unknown");
        observe(ev, &s, json_string(state ? state : "unknown"), json_string("streaming"), down,
                text);
    }
}

/* bytes per second over the last 30 minutes, by least squares; NAN when too few */
static double growth_rate(const json_t *samples)
{
    size_t n = json_array_size(samples);
    if (n < 3)
        return NAN;
    double t0 = json_number_value(json_array_get(json_array_get(samples, 0), 0));
    double tn = json_number_value(json_array_get(json_array_get(samples, n - 1), 0));
    if (tn - t0 < FORECAST_MIN_SPAN)
        return NAN;
    double st = 0, sy = 0, stt = 0, sty = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(samples, i, p)
    {
        double t = json_number_value(json_array_get(p, 0)) - t0;
        double y = json_number_value(json_array_get(p, 1));
        st += t, sy += y, stt += t * t, sty += t * y;
    }
    double d = (double)n * stt - st * st;
    return d > 0 ? ((double)n * sty - st * sy) / d : NAN;
}

static void slot_sample(Eval *ev, const char *key, const json_t *retained)
{
    json_t *samples = json_object_get(ev->e->samples, key);
    if (!samples) {
        samples = json_array();
        json_object_set_new(ev->e->samples, key, samples);
    }
    const json_t *last = json_array_get(samples, json_array_size(samples) - 1);
    if (last && json_number_value(json_array_get(last, 0)) >= ev->s->now)
        return; /* another forecast rule sampled this collection already */
    json_array_append_new(
        samples, json_pack("[f, I]", ev->s->now, (json_int_t)json_integer_value(retained)));
    while (json_array_size(samples) > 1 &&
           ev->s->now - json_number_value(json_array_get(json_array_get(samples, 0), 0)) >
               FORECAST_WINDOW_S)
        json_array_remove(samples, 0);
}

/* the growth rate of a slot, computed once per collection whatever the number of rules */
static double slot_rate(Eval *ev, const char *key)
{
    json_t *c = json_object_get(ev->e->rates, key);
    if (c && json_number_value(json_array_get(c, 0)) == ev->s->now)
        return json_number_value(json_array_get(c, 1));
    double rate = growth_rate(json_object_get(ev->e->samples, key));
    json_object_set_new(ev->e->rates, key,
                        json_pack("[f, f]", ev->s->now, isnan(rate) ? -1.0 : rate));
    return isnan(rate) ? -1.0 : rate;
}

static void slot_subject(Subject *s, const json_t *slot)
{
    subject_add(s, "node", str_or(slot, "node", ""));
    subject_add(s, "slot", str_or(slot, "name", ""));
    subject_add(s, "type", jsonutil_str(slot, "type"));
    subject_add(s, "database", jsonutil_str(slot, "database"));
}

static void eval_forecast(Eval *ev, const json_t *slot, const char *key)
{
    const Rule *r = ev->r;
    const json_t *retained = json_object_get(slot, "retained_wal_bytes");
    if (json_is_integer(retained))
        slot_sample(ev, key, retained);
    double rate = slot_rate(ev, key);
    const json_t *safe = json_object_get(slot, "safe_wal_size");
    double room = json_is_integer(safe) ? (double)json_integer_value(safe)
                  : r->threshold_bytes >= 0
                      ? (double)(r->threshold_bytes - json_integer_value(retained))
                      : NAN;
    double hours = rate > 0 && !isnan(room) ? room / rate / 3600 : INFINITY;
    Subject s = {0};
    slot_subject(&s, slot);
    if (!wanted(ev, &s, hours < r->forecast_h))
        return;
    char text[240];
    snprintf(text, sizeof text, "grows %.0f bytes/s: full in %.1f h", rate > 0 ? rate : 0.0, hours);
    observe(ev, &s, isinf(hours) ? json_null() : json_pack("{s:f}", "hours_left", hours),
            json_pack("{s:f}", "hours", r->forecast_h), hours < r->forecast_h, text);
}

static void eval_slots(Eval *ev, bool forecast)
{
    const Rule *r = ev->r;
    size_t i;
    const json_t *slot;
    json_array_foreach(json_object_get(ev->s->status, "slots"), i, slot)
    {
        char key[400];
        snprintf(key, sizeof key, "%s/%s", jsonutil_str(slot, "node"), jsonutil_str(slot, "name"));
        if (forecast) {
            eval_forecast(ev, slot, key);
            continue;
        }
        const json_t *retained = json_object_get(slot, "retained_wal_bytes");
        const char *wal = jsonutil_str(slot, "wal_status");
        bool active = json_is_true(json_object_get(slot, "active"));
        bool lost = wal && (!strcmp(wal, "unreserved") || !strcmp(wal, "lost"));
        bool big = r->threshold_bytes >= 0 && json_is_integer(retained) &&
                   json_integer_value(retained) > r->threshold_bytes;
        bool idle = false;
        if (active) {
            json_object_del(ev->e->idle, key);
        } else {
            json_t *since = json_object_get(ev->e->idle, key);
            if (!since)
                json_object_set_new(ev->e->idle, key, since = json_real(ev->s->now));
            idle = r->inactive_s > 0 && ev->s->now - json_number_value(since) >= r->inactive_s;
        }
        Subject s = {0};
        slot_subject(&s, slot);
        if (!wanted(ev, &s, lost || big || idle))
            continue;
        char text[240];
        snprintf(text, sizeof text, "retains %lld bytes, wal_status %s%s",
                 (long long)json_integer_value(retained), wal ? wal : "unknown",
                 idle ? ", inactive" : "");
        observe(ev, &s,
                json_pack("{s:O, s:s?, s:b}", "retained_wal_bytes",
                          retained ? retained : json_null(), "wal_status", wal, "active", active),
                r->threshold_bytes >= 0
                    ? json_pack("{s:I}", "retained_wal_bytes", (json_int_t)r->threshold_bytes)
                    : NULL,
                lost || big || idle, text);
    }
}

static void eval_databases(Eval *ev)
{
    size_t i;
    const json_t *db;
    json_array_foreach(ev->s->databases, i, db)
    {
        const char *h = jsonutil_str(db, "health");
        bool bad = h && (!strcmp(h, "unreachable") || !strcmp(h, "degraded"));
        Subject s = {0};
        subject_add(&s, "database", str_or(db, "id", ""));
        if (!h || !strcmp(h, "unknown")) {
            /* not probed yet (a start, or another instance took it over): what fires holds */
            subject_fingerprint(ev->r->name, &s, ev->fp);
            json_t *a = json_object_get(ev->e->alerts, ev->fp);
            if (a) {
                json_object_set_new(ev->seen, ev->fp, json_true());
                json_object_set_new(a, "last_true", json_real(ev->s->now));
            }
            continue;
        }
        if (!wanted(ev, &s, bad))
            continue;
        char text[120];
        snprintf(text, sizeof text, "health %s", h ? h : "unknown");
        observe(ev, &s, json_string(h ? h : "unknown"), json_string("ok"), bad, text);
    }
}

static void eval_log_events(Eval *ev)
{
    json_t *counts = json_object(); /* node -> count */
    size_t i;
    const json_t *x;
    json_array_foreach(ev->s->events, i, x)
    {
        if (ev->s->now - json_number_value(json_object_get(x, "epoch")) > ev->r->window_s)
            continue;
        Subject s = {0};
        subject_add(&s, "node", str_or(x, "node", ""));
        subject_add(&s, "severity", str_or(x, "severity", ""));
        subject_add(&s, "event", str_or(x, "kind", ""));
        if (subject_matches(ev->r->match, &s)) {
            const char *node = subject_get(&s, "node");
            json_object_set_new(
                counts, node, json_integer(json_integer_value(json_object_get(counts, node)) + 1));
        }
    }
    /* nodes seen before keep a subject, so their alert can resolve */
    const char *fp;
    json_t *a;
    json_object_foreach(ev->has_alerts ? ev->e->alerts : NULL, fp, a)
    {
        const char *node = jsonutil_str(json_object_get(a, "labels"), "node");
        if (!strcmp(jsonutil_str(a, "rule"), ev->r->name) && node && !json_object_get(counts, node))
            json_object_set_new(counts, node, json_integer(0));
    }
    ev->matched = true; /* the matchers named event labels, applied above */
    const char *node;
    json_t *n;
    json_object_foreach(counts, node, n)
    {
        bool over = json_integer_value(n) >= ev->r->threshold_count;
        Subject s = {0};
        subject_add(&s, "node", node);
        if (!wanted(ev, &s, over))
            continue;
        char text[120];
        snprintf(text, sizeof text, "%lld events in %.0f s", (long long)json_integer_value(n),
                 ev->r->window_s);
        observe(ev, &s, json_integer(json_integer_value(n)), json_integer(ev->r->threshold_count),
                over, text);
    }
    json_decref(counts);
}

static void eval_migrations(Eval *ev)
{
    size_t i;
    const json_t *m;
    json_array_foreach(ev->s->migrations, i, m)
    {
        bool recent = ev->s->now - json_number_value(json_object_get(m, "epoch")) <
                      (ev->r->resolve_s > 0 ? ev->r->resolve_s : 3600);
        Subject s = {0};
        subject_add(&s, "execution", str_or(m, "execution_id", ""));
        subject_add(&s, "migration", str_or(m, "name", ""));
        if (!wanted(ev, &s, recent))
            continue;
        char text[400];
        snprintf(text, sizeof text, "migration %s: %s%s%s", str_or(m, "name", ""),
                 str_or(m, "status", ""), jsonutil_str(m, "error") ? ": " : "",
                 str_or(m, "error", ""));
        observe(ev, &s, json_string(str_or(m, "status", "")), NULL, recent, text);
    }
}

static void eval_streams(Eval *ev)
{
    const char *id;
    const json_t *st;
    json_object_foreach(jsonutil_unconst(ev->s->streams), id, st)
    {
        const char *state = jsonutil_str(st, "state");
        bool bad = state && !strcmp(state, "error");
        Subject s = {0};
        subject_add(&s, "stream", id);
        if (!wanted(ev, &s, bad))
            continue;
        char text[400];
        snprintf(text, sizeof text, "stream %s: %s%s%s", id, state ? state : "unknown",
                 jsonutil_str(st, "error") ? ": " : "", str_or(st, "error", ""));
        observe(ev, &s, json_string(state ? state : "unknown"), NULL, bad, text);
    }
}

static void eval_stale(Eval *ev)
{
    double since = ev->s->collected_epoch > 0 ? ev->s->collected_epoch : ev->s->started_epoch;
    double age = ev->s->now - since;
    bool stale = age > (double)ev->r->threshold_seconds;
    Subject s = {0};
    subject_add(&s, "component", "collector");
    if (!wanted(ev, &s, stale))
        return;
    char text[120];
    snprintf(text, sizeof text, "the last collection is %.0f s old", age);
    observe(ev, &s, json_real(age), json_integer(ev->r->threshold_seconds), stale, text);
}

static void to_resolved(json_t *a, double now, const char *text, json_t *out)
{
    json_object_set_new(a, "state", json_string("resolved"));
    json_object_set_new(a, "resolved_at", json_integer((json_int_t)now));
    if (text)
        json_object_set_new(a, "text", json_string(text));
    json_array_append(out, a);
}

/* alerts whose rule was disabled or removed (not in live: name -> index): firing ones resolve
 * (receivers close them), pending ones go quietly */
static void retire(AlertEngine *e, const json_t *live, double now, json_t *out)
{
    const char *fp;
    json_t *a;
    void *tmp;
    json_object_foreach_safe(e->alerts, tmp, fp, a)
    {
        if (json_object_get(live, jsonutil_str(a, "rule")))
            continue;
        if (!strcmp(jsonutil_str(a, "state"), "firing"))
            to_resolved(a, now, "its rule was disabled or removed", out);
        json_object_del(e->alerts, fp);
    }
}

/*
 * After every rule looked: a pending alert whose subject was not seen goes; a
 * firing one whose condition has not held for its rule's resolve_after resolves.
 */
static void settle(AlertEngine *e, const Rule *rules, const json_t *live, const json_t *seen,
                   double now, json_t *out)
{
    const char *fp;
    json_t *a;
    void *tmp;
    json_object_foreach_safe(e->alerts, tmp, fp, a)
    {
        const Rule *r = &rules[json_integer_value(json_object_get(live, jsonutil_str(a, "rule")))];
        bool firing = !strcmp(jsonutil_str(a, "state"), "firing");
        if (!json_object_get(seen, fp)) {
            if (!firing) {
                json_object_del(e->alerts, fp);
                continue;
            }
            json_object_set_new(a, "text", json_string("its subject is gone"));
        }
        double last = json_number_value(json_object_get(a, "last_true"));
        if (firing && last < now && now - last >= fmax(r->resolve_s, 0)) {
            to_resolved(a, now, NULL, out);
            json_object_del(e->alerts, fp);
        }
    }
}

/* what is remembered of slots and initial copies that are gone from the snapshot goes too */
static void forget_gone(AlertEngine *e, const json_t *status)
{
    if (!status)
        return;
    json_t *now = json_object();
    char key[400];
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(status, "slots"), i, x)
    {
        snprintf(key, sizeof key, "%s/%s", jsonutil_str(x, "node"), jsonutil_str(x, "name"));
        json_object_set_new(now, key, json_true());
    }
    json_array_foreach(json_object_get(status, "edges"), i, x)
    {
        snprintf(key, sizeof key, "%s/%s", str_or(x, "to", ""), str_or(x, "subscription", ""));
        json_object_set_new(now, key, json_true());
    }
    json_t *maps[] = {e->idle, e->samples, e->copies, e->rates};
    for (size_t m = 0; m < 4; m++) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(maps[m], tmp, k, v)
        {
            if (!json_object_get(now, k))
                json_object_del(maps[m], k);
        }
    }
    json_decref(now);
}

void engine_evaluate(AlertEngine *e, const Rule *rules, size_t nrules, const AlertSnapshot *s,
                     json_t *transitions)
{
    json_t *live = json_object(); /* name -> index of the enabled rules */
    for (size_t i = 0; i < nrules; i++)
        if (rules[i].enabled)
            json_object_set_new(live, rules[i].name, json_integer((json_int_t)i));
    retire(e, live, s->now, transitions);
    forget_gone(e, s->status);
    json_t *seen = json_object();
    json_t *with_alerts = json_object(); /* rule names */
    const char *fp;
    json_t *a;
    json_object_foreach(e->alerts, fp, a)
        json_object_set_new(with_alerts, jsonutil_str(a, "rule"), json_true());
    for (size_t i = 0; i < nrules; i++) {
        const Rule *r = &rules[i];
        if (!r->enabled)
            continue;
        Eval ev = {.e = e,
                   .r = r,
                   .s = s,
                   .seen = seen,
                   .out = transitions,
                   .has_alerts = json_object_get(with_alerts, r->name) != NULL};
        switch (r->kind) {
        case AK_REPLICATION_LAG:
            eval_lag(&ev);
            break;
        case AK_EDGE_DOWN:
            eval_edge_down(&ev);
            break;
        case AK_SLOT_RETENTION:
            eval_slots(&ev, false);
            break;
        case AK_SLOT_FORECAST:
            eval_slots(&ev, true);
            break;
        case AK_DATABASE_DOWN:
            eval_databases(&ev);
            break;
        case AK_LOG_EVENTS:
            eval_log_events(&ev);
            break;
        case AK_MIGRATION_FAILED:
            eval_migrations(&ev);
            break;
        case AK_STREAM_ERROR:
            eval_streams(&ev);
            break;
        case AK_COLLECTOR_STALE:
            eval_stale(&ev);
            break;
        case AK_COUNT:
            break;
        }
    }
    settle(e, rules, live, seen, s->now, transitions);
    json_decref(with_alerts);
    json_decref(seen);
    json_decref(live);
}

json_t *engine_active(const AlertEngine *e)
{
    json_t *out = json_array();
    const char *fp;
    json_t *a;
    json_object_foreach(e->alerts, fp, a) json_array_append(out, a);
    return out;
}

bool engine_restore(AlertEngine *e, const json_t *alert, double now)
{
    const char *id = jsonutil_str(alert, "id"), *rule = jsonutil_str(alert, "rule");
    const char *state = jsonutil_str(alert, "state");
    if (!id || !rule || !state || strcmp(state, "firing") ||
        !json_is_object(json_object_get(alert, "labels")) ||
        !json_is_number(json_object_get(alert, "since")))
        return false;
    char fp[17];
    alert_fingerprint(rule, json_object_get(alert, "labels"), fp);
    if (strcmp(fp, id))
        return false; /* not what this rule and these labels make */
    if (json_object_get(e->alerts, fp))
        return true;
    json_t *a = json_deep_copy(alert);
    json_object_set_new(a, "last_true", json_real(now));
    json_object_set_new(e->alerts, fp, a);
    return true;
}
