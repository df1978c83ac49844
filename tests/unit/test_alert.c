/* alerting without I/O: rule and channel validation, the engine's state machine, payloads */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/engine.h"
#include "alert/guidance.h"
#include "alert/notify.h"
#include "alert/rules.h"
#include "test_util.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static bool has_error(const Validation *v, const char *field, const char *rule)
{
    for (size_t i = 0; i < v->count; i++)
        if (!strcmp(v->errors[i].field, field) && (!rule || !strcmp(v->errors[i].rule, rule)))
            return true;
    return false;
}

static Rule rule_of(const char *text)
{
    json_t *j = parse(text);
    Rule r;
    Validation v;
    validation_init(&v);
    if (!rule_from_json(&r, j, &v))
        fail_msg("rule rejected: %s", v.count ? v.errors[0].message : "?");
    json_decref(j);
    return r;
}

static void test_durations(void **state)
{
    (void)state;
    assert_true(duration_parse("30s") == 30);
    assert_true(duration_parse("2m") == 120);
    assert_true(duration_parse("1h30m") == 5400);
    assert_true(duration_parse("1d") == 86400);
    assert_true(duration_parse("90") == 90);
    assert_true(duration_parse("") < 0);
    assert_true(duration_parse("2x") < 0);
    assert_true(duration_parse("-1s") < 0);
    assert_true(duration_parse("5m10") < 0); /* a bare number only alone */
    assert_true(duration_parse("400d") < 0); /* at most a year */
    assert_true(duration_parse("nan") < 0);
    char buf[32];
    assert_string_equal(duration_format(120, buf, sizeof buf), "2m");
    assert_string_equal(duration_format(90, buf, sizeof buf), "90s");
    assert_string_equal(duration_format(7200, buf, sizeof buf), "2h");
    assert_string_equal(duration_format(0, buf, sizeof buf), "0s");
}

static void test_rule_validation(void **state)
{
    (void)state;
    json_t *j = parse("{\"name\": \"bad name!\", \"kind\": \"lag\", \"severity\": \"panic\","
                      " \"for\": \"soon\", \"colour\": \"red\", \"channels\": [\"a b\"],"
                      " \"match\": {\"from\": 3}}");
    Rule r;
    Validation v;
    validation_init(&v);
    assert_false(rule_from_json(&r, j, &v));
    assert_true(has_error(&v, "name", NULL));
    assert_true(has_error(&v, "kind", NULL));
    assert_true(has_error(&v, "severity", NULL));
    assert_true(has_error(&v, "for", "pattern"));
    assert_true(has_error(&v, "colour", NULL));
    assert_true(has_error(&v, "match.from", NULL));
    json_decref(j);

    /* what each kind needs */
    const char *needs[][2] = {
        {"{\"name\": \"l\", \"kind\": \"replication_lag\"}", "threshold_bytes"},
        {"{\"name\": \"s\", \"kind\": \"slot_retention\"}", "threshold_bytes"},
        {"{\"name\": \"f\", \"kind\": \"slot_forecast\"}", "forecast_hours"},
        {"{\"name\": \"e\", \"kind\": \"log_events\"}", "threshold_count"},
        {"{\"name\": \"c\", \"kind\": \"collector_stale\"}", "threshold_seconds"},
    };
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        j = parse(needs[i][0]);
        validation_init(&v);
        assert_false(rule_from_json(&r, j, &v));
        assert_true(has_error(&v, needs[i][1], "required"));
        json_decref(j);
    }

    /* a rule goes out as it came in */
    r = rule_of("{\"name\": \"lag\", \"kind\": \"replication_lag\", \"for\": \"2m\","
                " \"threshold_bytes\": 1000, \"channels\": [\"ops\"],"
                " \"match\": {\"from\": \"db-*\"}}");
    json_t *out = rule_to_json(&r);
    assert_string_equal(json_string_value(json_object_get(out, "for")), "2m");
    assert_int_equal(json_integer_value(json_object_get(out, "threshold_bytes")), 1000);
    assert_false(json_object_get(out, "threshold_seconds") != NULL);
    assert_string_equal(json_string_value(json_object_get(out, "severity")), "warning");
    Rule again;
    validation_init(&v);
    assert_true(rule_from_json(&again, out, &v));
    rule_free(&again);
    json_decref(out);
    rule_free(&r);

    /* every built-in rule is valid */
    json_t *defaults = rule_defaults();
    size_t i;
    json_t *d;
    json_array_foreach(defaults, i, d)
    {
        validation_init(&v);
        assert_true(rule_from_json(&r, d, &v));
        assert_true(r.builtin);
        rule_free(&r);
    }
    assert_int_equal(json_array_size(defaults), AK_COUNT);
    json_decref(defaults);
}

static void test_channel_validation(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"{\"name\": \"w\", \"type\": \"webhook\"}", "url"},
        {"{\"name\": \"w\", \"type\": \"webhook\", \"url\": \"file:///etc/passwd\"}", "url"},
        {"{\"name\": \"s\", \"type\": \"sns\", \"topic_arn\": \"topic-without-arn\"}", "topic_arn"},
        {"{\"name\": \"k\", \"type\": \"slack\"}", "secret"},
        {"{\"name\": \"k\", \"type\": \"slack\", \"secret\": \"not a url\"}", "secret"},
        {"{\"name\": \"p\", \"type\": \"pagerduty\"}", "secret"},
        {"{\"name\": \"a\", \"type\": \"alertmanager\"}", "url"},
        {"{\"name\": \"x\", \"type\": \"email\"}", "type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = parse(bad[i][0]);
        Channel c;
        char *secret;
        Validation v;
        validation_init(&v);
        assert_false(channel_from_json(&c, j, &secret, &v));
        assert_null(secret);
        if (!has_error(&v, bad[i][1], NULL))
            fail_msg("%s: no error on %s", bad[i][0], bad[i][1]);
        json_decref(j);
    }
    /* the secret is taken out and never goes back */
    json_t *j = parse("{\"name\": \"hook\", \"type\": \"webhook\", \"url\": \"http://h/x\","
                      " \"secret\": \"s3cr3t-hmac\"}");
    Channel c;
    char *secret;
    Validation v;
    validation_init(&v);
    assert_true(channel_from_json(&c, j, &secret, &v));
    assert_string_equal(secret, "s3cr3t-hmac");
    assert_true(c.has_secret);
    json_t *out = channel_to_json(&c);
    char *text = json_dumps(out, 0);
    assert_null(strstr(text, "s3cr3t"));
    assert_true(json_is_true(json_object_get(out, "has_secret")));
    free(text);
    json_decref(out);
    channel_free(&c);
    free(secret);
    json_decref(j);
}

static void test_labels_match(void **state)
{
    (void)state;
    json_t *l = parse("{\"from\": \"db-1:5432\", \"to\": \"db-2:5432\"}");
    json_t *m = parse("{\"from\": \"db-*\"}");
    assert_true(labels_match(m, l));
    json_decref(m);
    m = parse("{\"from\": \"db-1\"}");
    assert_false(labels_match(m, l)); /* exact unless it ends in * */
    json_decref(m);
    m = parse("{\"slot\": \"*\"}");
    assert_false(labels_match(m, l)); /* a label the alert lacks never matches */
    json_decref(m);
    m = json_object();
    assert_true(labels_match(m, l));
    json_decref(m);
    json_decref(l);
}

static void test_fingerprint(void **state)
{
    (void)state;
    json_t *a = parse("{\"from\": \"p\", \"to\": \"s\"}");
    json_t *b = parse("{\"to\": \"s\", \"from\": \"p\"}");
    char fa[17], fb[17], fc[17];
    alert_fingerprint("lag", a, fa);
    alert_fingerprint("lag", b, fb);
    alert_fingerprint("lag2", b, fc);
    assert_string_equal(fa, fb); /* label order does not matter */
    assert_string_not_equal(fa, fc);
    assert_int_equal(strlen(fa), 16);
    json_decref(a);
    json_decref(b);
}

/* one physical edge with this lag */
static json_t *lag_status(long long bytes)
{
    return json_pack("{s:[{s:s, s:s, s:s, s:s, s:I, s:f}], s:[]}", "edges", "kind", "physical",
                     "from", "p:5432", "to", "s:5432", "state", "streaming", "lag_bytes",
                     (json_int_t)bytes, "lag_seconds", 1.0, "slots");
}

static size_t run(AlertEngine *e, const Rule *r, size_t n, const json_t *status, double now,
                  json_t **transitions)
{
    AlertSnapshot s = {.status = status, .now = now, .collected_epoch = now, .started_epoch = 0};
    json_decref(*transitions);
    *transitions = json_array();
    engine_evaluate(e, r, n, &s, *transitions);
    return json_array_size(*transitions);
}

static const char *state_of(const AlertEngine *e)
{
    static char buf[32];
    json_t *active = engine_active(e);
    snprintf(buf, sizeof buf, "%s",
             json_array_size(active)
                 ? json_string_value(json_object_get(json_array_get(active, 0), "state"))
                 : "inactive");
    json_decref(active);
    return buf;
}

static void test_lag_fires_after_for_and_resolves_after_quiet(void **state)
{
    (void)state;
    Rule r = rule_of("{\"name\": \"lag\", \"kind\": \"replication_lag\", \"for\": \"2m\","
                     " \"resolve_after\": \"1m\", \"threshold_bytes\": 1000}");
    AlertEngine *e = engine_new();
    json_t *t = NULL, *hi = lag_status(5000), *lo = lag_status(10);

    assert_int_equal(run(e, &r, 1, lo, 1000, &t), 0);
    assert_string_equal(state_of(e), "inactive");
    assert_int_equal(run(e, &r, 1, hi, 1010, &t), 0);
    assert_string_equal(state_of(e), "pending");
    assert_int_equal(run(e, &r, 1, hi, 1129, &t), 0); /* 119 s: not yet */
    assert_string_equal(state_of(e), "pending");
    assert_int_equal(run(e, &r, 1, hi, 1130, &t), 1); /* 120 s: fires */
    const json_t *x = json_array_get(t, 0);
    assert_string_equal(json_string_value(json_object_get(x, "state")), "firing");
    assert_string_equal(json_string_value(json_object_get(json_object_get(x, "labels"), "to")),
                        "s:5432");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(x, "value"), "lag_bytes")),
                     5000);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(x, "threshold"), "lag_bytes")), 1000);
    assert_true(json_number_value(json_object_get(x, "since")) == 1010);
    char id[17];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(x, "id")));
    assert_int_equal(run(e, &r, 1, hi, 1140, &t), 0); /* still firing: no new transition */

    /* flapping damped: false for less than resolve_after, then true again */
    assert_int_equal(run(e, &r, 1, lo, 1150, &t), 0);
    assert_int_equal(run(e, &r, 1, lo, 1195, &t), 0);
    assert_int_equal(run(e, &r, 1, hi, 1205, &t), 0);
    assert_string_equal(state_of(e), "firing");
    assert_int_equal(run(e, &r, 1, lo, 1210, &t), 0);
    assert_int_equal(run(e, &r, 1, lo, 1265, &t), 1); /* quiet 60 s since 1205 */
    x = json_array_get(t, 0);
    assert_string_equal(json_string_value(json_object_get(x, "state")), "resolved");
    assert_string_equal(json_string_value(json_object_get(x, "id")), id);
    assert_string_equal(state_of(e), "inactive");

    /* pending that stops holding goes back quietly */
    assert_int_equal(run(e, &r, 1, hi, 2000, &t), 0);
    assert_string_equal(state_of(e), "pending");
    assert_int_equal(run(e, &r, 1, lo, 2010, &t), 0);
    assert_string_equal(state_of(e), "inactive");

    json_decref(t);
    json_decref(hi);
    json_decref(lo);
    engine_free(e);
    rule_free(&r);
}

/* one database with this health, as evaluated at now */
static size_t run_health(AlertEngine *e, const Rule *r, const char *health, double now,
                         json_t **transitions)
{
    json_t *dbs = json_pack("[{s:s, s:s}]", "id", "orders", "health", health);
    AlertSnapshot s = {.databases = dbs, .now = now, .collected_epoch = now};
    json_decref(*transitions);
    *transitions = json_array();
    engine_evaluate(e, r, 1, &s, *transitions);
    json_decref(dbs);
    return json_array_size(*transitions);
}

/* a database nobody has probed yet (another instance took it over) neither fires nor resolves */
static void test_unknown_health_holds(void **state)
{
    (void)state;
    Rule r = rule_of("{\"name\": \"down\", \"kind\": \"database_down\", \"for\": \"10s\","
                     " \"resolve_after\": \"5s\"}");
    AlertEngine *e = engine_new();
    json_t *t = NULL;
    assert_int_equal(run_health(e, &r, "unknown", 100, &t), 0);
    assert_string_equal(state_of(e), "inactive");
    assert_int_equal(run_health(e, &r, "unreachable", 110, &t), 0);
    assert_int_equal(run_health(e, &r, "unreachable", 120, &t), 1);
    assert_string_equal(state_of(e), "firing");
    assert_int_equal(run_health(e, &r, "unknown", 130, &t), 0); /* 10 s without a probe */
    assert_int_equal(run_health(e, &r, "unknown", 140, &t), 0);
    assert_string_equal(state_of(e), "firing");
    assert_int_equal(run_health(e, &r, "ok", 142, &t), 0);
    assert_int_equal(run_health(e, &r, "ok", 146, &t), 1); /* quiet 5 s since 140 */
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "state")),
                        "resolved");
    json_decref(t);
    engine_free(e);
    rule_free(&r);
}

static void test_disabled_rule_resolves_and_restore(void **state)
{
    (void)state;
    Rule r = rule_of("{\"name\": \"lag\", \"kind\": \"replication_lag\", \"threshold_bytes\": 1}");
    AlertEngine *e = engine_new();
    json_t *t = NULL, *hi = lag_status(5000);
    assert_int_equal(run(e, &r, 1, hi, 100, &t), 1); /* for 0: fires at once */
    json_t *fired = json_deep_copy(json_array_get(t, 0));
    r.enabled = false;
    assert_int_equal(run(e, &r, 1, hi, 110, &t), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "state")),
                        "resolved");
    assert_int_equal(run(e, NULL, 0, hi, 120, &t), 0);

    /* a restart takes back what fired, and resolves it when the condition is gone */
    AlertEngine *e2 = engine_new();
    assert_true(engine_restore(e2, fired, 200));
    assert_string_equal(state_of(e2), "firing");
    json_t *forged = json_deep_copy(fired);
    json_object_set_new(forged, "id", json_string("0000000000000000"));
    assert_false(engine_restore(e2, forged, 200)); /* the id must be its rule's and labels' */
    json_object_set_new(forged, "id", json_object_get(fired, "id"));
    json_object_set_new(forged, "state", json_string("pending"));
    assert_false(engine_restore(e2, forged, 200));
    r.enabled = true;
    json_t *lo = lag_status(0);
    assert_int_equal(run(e2, &r, 1, lo, 201, &t), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "state")),
                        "resolved");
    json_decref(forged);
    json_decref(fired);
    json_decref(lo);
    json_decref(t);
    json_decref(hi);
    engine_free(e);
    engine_free(e2);
    rule_free(&r);
}

static json_t *slot_status(long long retained, const char *wal, bool active, long long safe)
{
    json_t *s = json_pack("{s:[], s:[{s:s, s:s, s:s, s:I, s:s, s:b}]}", "edges", "slots", "node",
                          "p:5432", "name", "orphan", "type", "logical", "retained_wal_bytes",
                          (json_int_t)retained, "wal_status", wal, "active", active);
    if (safe >= 0)
        json_object_set_new(json_array_get(json_object_get(s, "slots"), 0), "safe_wal_size",
                            json_integer(safe));
    return s;
}

static void test_slots(void **state)
{
    (void)state;
    Rule r = rule_of("{\"name\": \"slot\", \"kind\": \"slot_retention\","
                     " \"threshold_bytes\": 1000000, \"inactive_for\": \"1h\"}");
    AlertEngine *e = engine_new();
    json_t *t = NULL;
    json_t *ok = slot_status(10, "reserved", false, -1);
    assert_int_equal(run(e, &r, 1, ok, 0, &t), 0);
    assert_int_equal(run(e, &r, 1, ok, 3599, &t), 0);
    assert_int_equal(run(e, &r, 1, ok, 3600, &t), 1); /* inactive for an hour */
    json_decref(ok);
    engine_free(e);

    e = engine_new();
    json_t *lost = slot_status(10, "lost", true, -1);
    assert_int_equal(run(e, &r, 1, lost, 0, &t), 1);
    json_t *g = guidance_for(AK_SLOT_RETENTION, json_object_get(json_array_get(t, 0), "labels"));
    char *text = json_dumps(g, 0);
    assert_non_null(strstr(text, "pg_drop_replication_slot('orphan')"));
    free(text);
    json_decref(g);
    json_decref(lost);
    engine_free(e);
    rule_free(&r);

    /* the forecast: 1 MB a minute, 100 MB of room: 1.7 h, fires under 2 h */
    r = rule_of("{\"name\": \"fc\", \"kind\": \"slot_forecast\", \"forecast_hours\": 2}");
    e = engine_new();
    size_t fired = 0;
    for (int m = 0; m <= 10; m++) {
        json_t *s = slot_status(m * 1000000LL, "reserved", true, 100000000LL);
        fired += run(e, &r, 1, s, m * 60.0, &t);
        json_decref(s);
        if (m < 5)
            assert_int_equal(fired, 0); /* under 5 minutes of samples: no forecast */
    }
    assert_int_equal(fired, 1);
    json_t *active = engine_active(e);
    double hours = json_number_value(
        json_object_get(json_object_get(json_array_get(active, 0), "value"), "hours_left"));
    assert_true(fabs(hours - 100.0 / 60) < 0.01);
    json_decref(active);
    engine_free(e);
    rule_free(&r);
    json_decref(t);
}

static void test_log_events_and_stale(void **state)
{
    (void)state;
    Rule r[2] = {rule_of("{\"name\": \"errs\", \"kind\": \"log_events\", \"threshold_count\": 3,"
                         " \"window\": \"10m\", \"match\": {\"severity\": \"error\"}}"),
                 rule_of("{\"name\": \"stale\", \"kind\": \"collector_stale\","
                         " \"threshold_seconds\": 60}")};
    AlertEngine *e = engine_new();
    json_t *ev = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(ev, json_pack("{s:s, s:s, s:s, s:f}", "node", "p:5432", "severity",
                                            i == 2 ? "warning" : "error", "kind", "slot_missing",
                                            "epoch", 990.0));
    json_t *t = json_array();
    AlertSnapshot s = {.events = ev, .now = 1000, .collected_epoch = 995};
    engine_evaluate(e, r, 2, &s, t);
    assert_int_equal(json_array_size(t), 0); /* two errors: the warning does not count */
    json_array_append_new(ev, json_pack("{s:s, s:s, s:s, s:f}", "node", "p:5432", "severity",
                                        "error", "kind", "slot_missing", "epoch", 1000.0));
    engine_evaluate(e, r, 2, &s, t);
    assert_int_equal(json_array_size(t), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "value")), 3);
    /* the window moves past them: resolved; the collector has not run for 61 s: stale */
    json_array_clear(t);
    s.now = 1056 + 600;
    engine_evaluate(e, r, 2, &s, t);
    assert_int_equal(json_array_size(t), 2);
    json_decref(t);
    json_decref(ev);
    engine_free(e);
    rule_free(&r[0]);
    rule_free(&r[1]);
}

static json_t *sample_group(const char *state)
{
    json_t *g = parse("{\"key\": \"k\", \"rule\": \"replication-lag\", \"severity\": \"warning\","
                      " \"status\": \"firing\", \"repeat\": false, \"alerts\": [{\"id\":"
                      " \"0123456789abcdef\", \"kind\": \"replication_lag\", \"state\": \"firing\","
                      " \"labels\": {\"from\": \"p:5432\", \"to\": \"s:5432\"}, \"value\":"
                      " {\"lag_bytes\": 5000}, \"threshold\": {\"lag_bytes\": 1000}, \"since\":"
                      " 1764590000, \"resolved_at\": 1764590600, \"summary\": \"lag\", \"text\":"
                      " \"lag 5000 bytes\"}]}");
    json_object_set_new(g, "status", json_string(state));
    json_object_set_new(json_array_get(json_object_get(g, "alerts"), 0), "state",
                        json_string(state));
    json_t *a = json_array_get(json_object_get(g, "alerts"), 0);
    json_object_set_new(a, "guidance",
                        guidance_for(AK_REPLICATION_LAG, json_object_get(a, "labels")));
    return g;
}

static void test_payloads(void **state)
{
    (void)state;
    json_t *g = sample_group("firing");
    const json_t *a = json_array_get(json_object_get(g, "alerts"), 0);
    json_t *pd = notify_pagerduty_event(a, g, "R0UTINGKEY");
    assert_string_equal(json_string_value(json_object_get(pd, "event_action")), "trigger");
    assert_string_equal(json_string_value(json_object_get(pd, "dedup_key")),
                        "pgfleet-0123456789abcdef");
    const json_t *p = json_object_get(pd, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "severity")), "warning");
    assert_string_equal(json_string_value(json_object_get(p, "source")), "p:5432");
    assert_true(strlen(json_string_value(json_object_get(p, "summary"))) <= 1024);
    json_decref(pd);

    json_t *am = notify_alertmanager_body(g, "http://pgfleet.test");
    const json_t *x = json_array_get(am, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(x, "labels"), "alertname")),
        "replication-lag");
    assert_string_equal(json_string_value(json_object_get(json_object_get(x, "labels"), "to")),
                        "s:5432");
    assert_string_equal(json_string_value(json_object_get(x, "startsAt")), "2025-12-01T11:53:20Z");
    assert_null(json_object_get(x, "endsAt"));
    json_decref(am);

    char *msg = notify_sns_message(g);
    assert_non_null(strstr(msg, "lag 5000 bytes"));
    free(msg);
    char *subject = notify_sns_subject(g);
    assert_true(strlen(subject) <= 100);
    free(subject);
    json_decref(g);

    g = sample_group("resolved");
    a = json_array_get(json_object_get(g, "alerts"), 0);
    pd = notify_pagerduty_event(a, g, "R0UTINGKEY");
    assert_string_equal(json_string_value(json_object_get(pd, "event_action")), "resolve");
    json_decref(pd);
    am = notify_alertmanager_body(g, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(am, 0), "endsAt")),
                        "2025-12-01T12:03:20Z");
    json_decref(am);
    json_decref(g);

    /* RFC 4231-style known answer for HMAC-SHA256 */
    char sig[72];
    const char *body = "The quick brown fox jumps over the lazy dog";
    notify_signature("key", body, strlen(body), sig);
    assert_string_equal(sig,
                        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rule_validation),
        cmocka_unit_test(test_channel_validation),
        cmocka_unit_test(test_labels_match),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_lag_fires_after_for_and_resolves_after_quiet),
        cmocka_unit_test(test_unknown_health_holds),
        cmocka_unit_test(test_disabled_rule_resolves_and_restore),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_log_events_and_stale),
        cmocka_unit_test(test_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
