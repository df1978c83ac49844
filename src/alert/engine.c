#include "alert/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

#define FORECAST_WINDOW_S  1800.0 /* growth measured over the last 30 minutes */
#define FORECAST_MIN_SPAN  300.0  /* ... once there are at least 5 of them */
#define STALL_DEFAULT_S    900.0

struct AlertEngine {
    json_t *alerts;  /* fingerprint -> {"rule", "state", "labels", "since", "last_true", ...} */
    json_t *samples; /* "node/slot" -> [[t, retained_bytes], ...] (slot_forecast) */
    json_t *copies;  /* "to/subscription" -> {"ready", "since"} (stalled initial copies) */
};

AlertEngine *engine_new(void)
{
    AlertEngine *e = xcalloc(1, sizeof *e);
    e->alerts = json_object();
    e->samples = json_object();
    e->copies = json_object();
    return e;
}

void engine_free(AlertEngine *e)
{
    if (!e)
        return;
    json_decref(e->alerts);
    json_decref(e->samples);
    json_decref(e->copies);
    free(e);
}

void alert_fingerprint(const char *rule, const json_t *labels, char out[17])
{
    char *text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    crypto_generichash_state st;
    unsigned char h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)rule, strlen(rule) + 1);
    crypto_generichash_update(&st, (const unsigned char *)text, strlen(text));
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 17, h, sizeof h);
    free(text);
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
    bool matched; /* the rule's matchers were applied to something else (log events) */
} Eval;

static void summarize(json_t *a)
{
    const char *rule = jsonutil_str(a, "rule");
    const json_t *l = json_object_get(a, "labels");
    char *labels = json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_set_new(a, "summary", json_sprintf("%s %s", rule, labels ? labels : "{}"));
    free(labels);
}

/*
 * One subject: labels (stolen), the value and threshold to report (stolen,
 * may be NULL), and whether the condition holds now.
 */
static void observe(Eval *ev, json_t *labels, json_t *value, json_t *threshold, bool holds,
                    const char *text)
{
    const Rule *r = ev->r;
    if (!ev->matched && !labels_match(r->match, labels)) {
        json_decref(labels);
        json_decref(value);
        json_decref(threshold);
        return;
    }
    char fp[17];
    alert_fingerprint(r->name, labels, fp);
    json_object_set_new(ev->seen, fp, json_true());
    json_t *a = json_object_get(ev->e->alerts, fp);
    double now = ev->s->now;
    if (holds && !a) {
        a = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:f, s:f}", "id", fp, "rule", r->name, "kind",
                      alert_kind_names[r->kind], "severity", severity_names[r->severity],
                      "labels", labels, "state", "pending", "since", now, "last_true", now);
        json_object_set_new(ev->e->alerts, fp, a);
    }
    if (a) {
        json_object_set(a, "value", value ? value : json_null());
        json_object_set(a, "threshold", threshold ? threshold : json_null());
        json_object_set_new(a, "text", json_string(text ? text : ""));
        summarize(a);
    }
    json_decref(labels);
    json_decref(value);
    json_decref(threshold);
    if (!a)
        return;
    const char *state = jsonutil_str(a, "state");
    if (holds) {
        json_object_set_new(a, "last_true", json_real(now));
        if (!strcmp(state, "pending") &&
            now - json_number_value(json_object_get(a, "since")) >= r->for_s) {
            json_object_set_new(a, "state", json_string("firing"));
            json_object_set_new(a, "firing_since", json_real(now));
            json_array_append(ev->out, a);
        }
    } else if (!strcmp(state, "pending")) {
        json_object_del(ev->e->alerts, fp); /* never fired: back to inactive quietly */
    }
}

static json_t *edge_labels(const json_t *edge)
{
    json_t *l = json_pack("{s:s, s:s, s:s}", "kind", str_or(edge, "kind", ""),
                          "from", str_or(edge, "from", "unknown"),
                          "to", str_or(edge, "to", "unknown"));
    const char *sub = jsonutil_str(edge, "subscription");
    const char *slot = jsonutil_str(edge, "slot");
    if (sub)
        json_object_set_new(l, "subscription", json_string(sub));
    if (slot)
        json_object_set_new(l, "slot", json_string(slot));
    const char *db = jsonutil_str(edge, "target_database");
    if (db)
        json_object_set_new(l, "database", json_string(db));
    return l;
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
        json_t *value = json_pack("{s:O, s:O}", "lag_bytes", b ? b : json_null(), "lag_seconds",
                                  sec ? sec : json_null());
        json_t *threshold = json_object();
        if (r->threshold_bytes >= 0)
            json_object_set_new(threshold, "lag_bytes", json_integer(r->threshold_bytes));
        if (r->threshold_seconds >= 0)
            json_object_set_new(threshold, "lag_seconds", json_integer(r->threshold_seconds));
        char text[200];
        snprintf(text, sizeof text, "lag %lld bytes, %.1f s",
                 (long long)json_integer_value(b), json_number_value(sec));
        observe(ev, edge_labels(edge), value, threshold, over_b || over_s, text);
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
        bool logical = kind && !strcmp(kind, "logical");
        bool down;
        char text[200];
        if (logical && json_is_false(json_object_get(edge, "enabled"))) {
            down = true;
            snprintf(text, sizeof text, "the subscription is disabled");
        } else if (state && !strcmp(state, "initializing")) {
            down = copy_stalled(ev, edge);
            snprintf(text, sizeof text, "the initial copy makes no progress");
        } else {
            down = !state || (strcmp(state, "streaming") && strcmp(state, "catchup"));
            snprintf(text, sizeof text, "state %s", state ? state : "unknown");
        }
        if (!kind || !strcmp(kind, "rds") || !strcmp(kind, "aurora"))
            continue; /* RDS edges are told by the RDS API, without a live state */
        observe(ev, edge_labels(edge), json_string(state ? state : "unknown"),
                json_string("streaming"), down, text);
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
    json_array_append_new(samples, json_pack("[f, I]", ev->s->now,
                                             (json_int_t)json_integer_value(retained)));
    while (json_array_size(samples) > 1 &&
           ev->s->now - json_number_value(json_array_get(json_array_get(samples, 0), 0)) >
               FORECAST_WINDOW_S)
        json_array_remove(samples, 0);
}

static json_t *slot_labels(const json_t *slot)
{
    json_t *l = json_pack("{s:s, s:s}", "node", str_or(slot, "node", ""),
                          "slot", str_or(slot, "name", ""));
    if (jsonutil_str(slot, "type"))
        json_object_set_new(l, "type", json_string(jsonutil_str(slot, "type")));
    if (jsonutil_str(slot, "database"))
        json_object_set_new(l, "database", json_string(jsonutil_str(slot, "database")));
    return l;
}

static void eval_slots(Eval *ev, bool forecast)
{
    const Rule *r = ev->r;
    size_t i;
    const json_t *slot;
    json_array_foreach(json_object_get(ev->s->status, "slots"), i, slot)
    {
        const json_t *retained = json_object_get(slot, "retained_wal_bytes");
        const char *wal = jsonutil_str(slot, "wal_status");
        char key[400], text[240];
        snprintf(key, sizeof key, "%s/%s", jsonutil_str(slot, "node"), jsonutil_str(slot, "name"));
        if (forecast) {
            if (json_is_integer(retained))
                slot_sample(ev, key, retained);
            double rate = growth_rate(json_object_get(ev->e->samples, key));
            const json_t *safe = json_object_get(slot, "safe_wal_size");
            double room = json_is_integer(safe) ? (double)json_integer_value(safe)
                          : r->threshold_bytes >= 0
                              ? (double)(r->threshold_bytes - json_integer_value(retained))
                              : NAN;
            double hours = rate > 0 && !isnan(room) ? room / rate / 3600 : INFINITY;
            snprintf(text, sizeof text, "grows %.0f bytes/s: full in %.1f h", isnan(rate) ? 0 : rate,
                     hours);
            observe(ev, slot_labels(slot),
                    isinf(hours) ? json_null() : json_pack("{s:f}", "hours_left", hours),
                    json_pack("{s:f}", "hours", r->forecast_h), hours < r->forecast_h, text);
            continue;
        }
        bool lost = wal && (!strcmp(wal, "unreserved") || !strcmp(wal, "lost"));
        bool big = r->threshold_bytes >= 0 && json_is_integer(retained) &&
                   json_integer_value(retained) > r->threshold_bytes;
        bool idle = false;
        if (r->inactive_s > 0 && !json_is_true(json_object_get(slot, "active"))) {
            json_t *c = json_object_get(ev->e->copies, key); /* reused: inactive since */
            if (!c)
                json_object_set_new(ev->e->copies, key, c = json_pack("{s:f}", "since", ev->s->now));
            idle = ev->s->now - json_number_value(json_object_get(c, "since")) >= r->inactive_s;
        } else {
            json_object_del(ev->e->copies, key);
        }
        snprintf(text, sizeof text, "retains %lld bytes, wal_status %s%s",
                 (long long)json_integer_value(retained), wal ? wal : "unknown",
                 idle ? ", inactive" : "");
        observe(ev, slot_labels(slot),
                json_pack("{s:O, s:s?, s:b}", "retained_wal_bytes", retained ? retained : json_null(),
                          "wal_status", wal, "active", json_is_true(json_object_get(slot, "active"))),
                r->threshold_bytes >= 0 ? json_pack("{s:I}", "retained_wal_bytes",
                                                    (json_int_t)r->threshold_bytes)
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
        char text[120];
        snprintf(text, sizeof text, "health %s", h ? h : "unknown");
        observe(ev, json_pack("{s:s}", "database", str_or(db, "id", "")),
                json_string(h ? h : "unknown"), json_string("ok"),
                h && (!strcmp(h, "unreachable") || !strcmp(h, "degraded")), text);
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
        json_t *l = json_pack("{s:s, s:s, s:s}", "node", str_or(x, "node", ""),
                              "severity", str_or(x, "severity", ""),
                              "event", str_or(x, "kind", ""));
        if (labels_match(ev->r->match, l)) {
            const char *node = jsonutil_str(l, "node");
            json_object_set_new(counts, node,
                                json_integer(json_integer_value(json_object_get(counts, node)) + 1));
        }
        json_decref(l);
    }
    /* nodes seen before keep a subject, so their alert can resolve */
    const char *fp;
    json_t *a;
    json_object_foreach(ev->e->alerts, fp, a)
    {
        const char *node = jsonutil_str(json_object_get(a, "labels"), "node");
        if (!strcmp(jsonutil_str(a, "rule"), ev->r->name) && node && !json_object_get(counts, node))
            json_object_set_new(counts, node, json_integer(0));
    }
    const char *node;
    json_t *n;
    void *tmp;
    json_object_foreach_safe(counts, tmp, node, n)
    {
        char text[120];
        snprintf(text, sizeof text, "%lld events in %.0f s", (long long)json_integer_value(n),
                 ev->r->window_s);
        ev->matched = true; /* the matchers named event labels, applied above */
        observe(ev, json_pack("{s:s}", "node", node), json_integer(json_integer_value(n)),
                json_integer(ev->r->threshold_count),
                json_integer_value(n) >= ev->r->threshold_count, text);
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
        char text[400];
        snprintf(text, sizeof text, "migration %s: %s%s%s", jsonutil_str(m, "name"),
                 jsonutil_str(m, "status"), jsonutil_str(m, "error") ? ": " : "",
                 str_or(m, "error", ""));
        observe(ev, json_pack("{s:s, s:s}", "execution", str_or(m, "execution_id", ""),
                              "migration", str_or(m, "name", "")),
                json_string(str_or(m, "status", "")), NULL,
                recent, text);
    }
}

static void eval_streams(Eval *ev)
{
    const char *id;
    const json_t *st;
    json_object_foreach(jsonutil_unconst(ev->s->streams), id, st)
    {
        const char *state = jsonutil_str(st, "state");
        char text[400];
        snprintf(text, sizeof text, "stream %s: %s%s%s", id, state ? state : "unknown",
                 jsonutil_str(st, "error") ? ": " : "",
                 str_or(st, "error", ""));
        observe(ev, json_pack("{s:s}", "stream", id), json_string(state ? state : "unknown"),
                NULL, state && !strcmp(state, "error"), text);
    }
}

static void eval_stale(Eval *ev)
{
    double since = ev->s->collected_epoch > 0 ? ev->s->collected_epoch : ev->s->started_epoch;
    double age = ev->s->now - since;
    char text[120];
    snprintf(text, sizeof text, "the last collection is %.0f s old", age);
    observe(ev, json_pack("{s:s}", "component", "collector"), json_real(age),
            json_integer(ev->r->threshold_seconds), age > (double)ev->r->threshold_seconds, text);
}

/* alerts of this rule whose subject was not seen: their condition does not hold */
static void unseen(Eval *ev)
{
    const char *fp;
    json_t *a;
    void *tmp;
    json_object_foreach_safe(ev->e->alerts, tmp, fp, a)
    {
        if (strcmp(jsonutil_str(a, "rule"), ev->r->name) || json_object_get(ev->seen, fp))
            continue;
        if (!strcmp(jsonutil_str(a, "state"), "pending"))
            json_object_del(ev->e->alerts, fp);
        else
            json_object_set_new(a, "text", json_string("its subject is gone"));
    }
}

/* firing alerts whose condition has not held for resolve_after resolve */
static void resolve(AlertEngine *e, const Rule *r, double now, json_t *out)
{
    const char *fp;
    json_t *a;
    void *tmp;
    json_object_foreach_safe(e->alerts, tmp, fp, a)
    {
        if (strcmp(jsonutil_str(a, "rule"), r->name) || strcmp(jsonutil_str(a, "state"), "firing"))
            continue;
        if (now - json_number_value(json_object_get(a, "last_true")) < fmax(r->resolve_s, 0) ||
            json_number_value(json_object_get(a, "last_true")) >= now)
            continue;
        json_object_set_new(a, "state", json_string("resolved"));
        json_object_set_new(a, "resolved_at", json_real(now));
        json_array_append(out, a);
        json_object_del(e->alerts, fp);
    }
}

/* alerts whose rule was disabled or removed: firing ones resolve (receivers close them), pending
 * ones go quietly */
static void retire(AlertEngine *e, const Rule *rules, size_t nrules, double now, json_t *out)
{
    const char *fp;
    json_t *a;
    void *tmp;
    json_object_foreach_safe(e->alerts, tmp, fp, a)
    {
        const char *rule = jsonutil_str(a, "rule");
        bool live = false;
        for (size_t i = 0; i < nrules && !live; i++)
            live = rules[i].enabled && !strcmp(rules[i].name, rule);
        if (live)
            continue;
        if (!strcmp(jsonutil_str(a, "state"), "firing")) {
            json_object_set_new(a, "state", json_string("resolved"));
            json_object_set_new(a, "resolved_at", json_real(now));
            json_object_set_new(a, "text", json_string("its rule was disabled or removed"));
            json_array_append(out, a);
        }
        json_object_del(e->alerts, fp);
    }
}

void engine_evaluate(AlertEngine *e, const Rule *rules, size_t nrules, const AlertSnapshot *s,
                     json_t *transitions)
{
    retire(e, rules, nrules, s->now, transitions);
    for (size_t i = 0; i < nrules; i++) {
        const Rule *r = &rules[i];
        if (!r->enabled)
            continue;
        Eval ev = {.e = e, .r = r, .s = s, .seen = json_object(), .out = transitions};
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
        unseen(&ev);
        resolve(e, r, s->now, transitions);
        json_decref(ev.seen);
    }
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
