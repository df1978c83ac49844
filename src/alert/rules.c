#include "alert/rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

const char *const alert_kind_names[] = {
    "replication_lag", "edge_down",        "slot_retention", "slot_forecast",   "database_down",
    "log_events",      "migration_failed", "stream_error",   "collector_stale", NULL};
const char *const severity_names[] = {"info", "warning", "critical", NULL};
const char *const channel_type_names[] = {"sns",       "webhook",      "slack",
                                          "pagerduty", "alertmanager", NULL};

#define MAX_CHANNELS 16
#define MAX_MATCHERS 16

double duration_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    double total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double n = strtod(p, &end);
        if (end == p || n < 0 || !isfinite(n))
            return -1;
        double unit = 1;
        switch (*end) {
        case 's':
            end++;
            break;
        case 'm':
            unit = 60;
            end++;
            break;
        case 'h':
            unit = 3600;
            end++;
            break;
        case 'd':
            unit = 86400;
            end++;
            break;
        case '\0':
            if (p != s) /* a bare number only on its own */
                return -1;
            break;
        default:
            return -1;
        }
        total += n * unit;
        p = end;
    }
    return total > 366 * 86400.0 ? -1 : total;
}

const char *duration_format(double seconds, char *buf, size_t len)
{
    long s = lround(seconds);
    if (s % 86400 == 0 && s)
        snprintf(buf, len, "%ldd", s / 86400);
    else if (s % 3600 == 0 && s)
        snprintf(buf, len, "%ldh", s / 3600);
    else if (s % 60 == 0 && s)
        snprintf(buf, len, "%ldm", s / 60);
    else
        snprintf(buf, len, "%lds", s);
    return buf;
}

/* a duration member; dflt when absent */
static double v_duration(Validation *v, const json_t *obj, const char *key, double dflt)
{
    const json_t *j = json_object_get(obj, key);
    if (!j || json_is_null(j))
        return dflt;
    double d = json_is_number(j) ? json_number_value(j) : duration_parse(json_string_value(j));
    if (d < 0 || (!json_is_string(j) && !json_is_number(j))) {
        validation_add(v, NULL, key, "pattern",
                       "must be a duration such as \"30s\", \"2m\", \"1h\" (at most a year)");
        return dflt;
    }
    return d;
}

/* {"label": "value" | "prefix*"} */
static json_t *v_matchers(Validation *v, const json_t *obj, const char *key)
{
    const json_t *m = json_object_get(obj, key);
    if (!m || json_is_null(m))
        return json_object();
    if (!json_is_object(m) || json_object_size(m) > MAX_MATCHERS) {
        validation_add(v, NULL, key, "type", "must be an object of at most %d label: value",
                       MAX_MATCHERS);
        return json_object();
    }
    const char *k;
    const json_t *val;
    json_object_foreach(jsonutil_unconst(m), k, val)
    {
        const char *s = json_string_value(val);
        if (!validate_string_rule(k, STR_IDENT) || !s || strlen(s) > 256 ||
            !validate_string_rule(s, STR_ANY)) {
            char path[160];
            snprintf(path, sizeof path, "%s.%.100s", key, k);
            validation_add(v, NULL, path, "type", "must map a label name to a string");
        }
    }
    return json_deep_copy(m);
}

static long long v_threshold(Validation *v, const json_t *obj, const char *key)
{
    long long n = -1;
    if (json_object_get(obj, key) && !json_is_null(json_object_get(obj, key)))
        v_int(v, obj, NULL, key, false, 0, (long long)1 << 52, &n);
    return n;
}

static const char *const rule_fields[] = {"name",
                                          "kind",
                                          "severity",
                                          "for",
                                          "resolve_after",
                                          "window",
                                          "inactive_for",
                                          "forecast_hours",
                                          "threshold_bytes",
                                          "threshold_seconds",
                                          "threshold_count",
                                          "channels",
                                          "match",
                                          "group_by",
                                          "enabled",
                                          "builtin",
                                          NULL};

/* what each kind needs to be meaningful */
static void rule_needs(Validation *v, const Rule *r)
{
    switch (r->kind) {
    case AK_REPLICATION_LAG:
        if (r->threshold_bytes < 0 && r->threshold_seconds < 0)
            validation_add(v, NULL, "threshold_bytes", "required",
                           "replication_lag needs threshold_bytes or threshold_seconds");
        break;
    case AK_SLOT_RETENTION:
        if (r->threshold_bytes < 0 && r->inactive_s <= 0)
            validation_add(v, NULL, "threshold_bytes", "required",
                           "slot_retention needs threshold_bytes or inactive_for (wal_status "
                           "unreserved/lost fires either way)");
        break;
    case AK_SLOT_FORECAST:
        if (r->forecast_h <= 0)
            validation_add(v, NULL, "forecast_hours", "required",
                           "slot_forecast needs forecast_hours (> 0)");
        break;
    case AK_LOG_EVENTS:
        if (r->threshold_count < 1)
            validation_add(v, NULL, "threshold_count", "required",
                           "log_events needs threshold_count (>= 1)");
        break;
    case AK_COLLECTOR_STALE:
        if (r->threshold_seconds < 1)
            validation_add(v, NULL, "threshold_seconds", "required",
                           "collector_stale needs threshold_seconds");
        break;
    default:
        break;
    }
}

bool rule_from_json(Rule *r, const json_t *obj, Validation *v)
{
    memset(r, 0, sizeof *r);
    r->enabled = true;
    r->threshold_bytes = r->threshold_seconds = r->threshold_count = -1;
    if (!json_is_object(obj)) {
        validation_add(v, NULL, "rule", "type", "must be an object");
        return false;
    }
    size_t before = v->count + v->dropped;
    v_no_unknown(v, obj, NULL, rule_fields);
    v_string(v, obj, NULL, "name", true, STR_IDENT, 1, 64, &r->name);
    int k = 0, sev = 1;
    if (v_enum(v, obj, NULL, "kind", true, alert_kind_names, &k))
        r->kind = (AlertKind)k;
    if (!json_object_get(obj, "severity") ||
        v_enum(v, obj, NULL, "severity", false, severity_names, &sev))
        r->severity = (Severity)sev;
    r->for_s = v_duration(v, obj, "for", 0);
    r->resolve_s = v_duration(v, obj, "resolve_after", 0);
    r->window_s = v_duration(v, obj, "window", 600);
    r->inactive_s = v_duration(v, obj, "inactive_for", 0);
    const json_t *fh = json_object_get(obj, "forecast_hours");
    if (fh && !json_is_null(fh)) {
        if (!json_is_number(fh) || json_number_value(fh) <= 0 || json_number_value(fh) > 8760)
            validation_add(v, NULL, "forecast_hours", "range", "must be a number of hours, 0-8760");
        else
            r->forecast_h = json_number_value(fh);
    }
    r->threshold_bytes = v_threshold(v, obj, "threshold_bytes");
    r->threshold_seconds = v_threshold(v, obj, "threshold_seconds");
    r->threshold_count = v_threshold(v, obj, "threshold_count");
    v_string_array(v, obj, NULL, "channels", false, STR_IDENT, 64, MAX_CHANNELS, &r->channels,
                   &r->nchannels);
    r->match = v_matchers(v, obj, "match");
    v_string(v, obj, NULL, "group_by", false, STR_IDENT, 1, 64, &r->group_by);
    v_bool(v, obj, NULL, "enabled", false, &r->enabled);
    v_bool(v, obj, NULL, "builtin", false, &r->builtin);
    if (v->count + v->dropped == before)
        rule_needs(v, r);
    if (v->count + v->dropped == before)
        return true;
    rule_free(r);
    return false;
}

static void add_duration(json_t *o, const char *key, double s)
{
    char buf[32];
    json_object_set_new(o, key, json_string(duration_format(s, buf, sizeof buf)));
}

json_t *rule_to_json(const Rule *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "name", r->name, "kind", alert_kind_names[r->kind],
                          "severity", severity_names[r->severity]);
    add_duration(o, "for", r->for_s);
    add_duration(o, "resolve_after", r->resolve_s);
    if (r->kind == AK_LOG_EVENTS)
        add_duration(o, "window", r->window_s);
    if (r->inactive_s > 0)
        add_duration(o, "inactive_for", r->inactive_s);
    if (r->forecast_h > 0)
        json_object_set_new(o, "forecast_hours", json_real(r->forecast_h));
    const char *tk[] = {"threshold_bytes", "threshold_seconds", "threshold_count"};
    long long tv[] = {r->threshold_bytes, r->threshold_seconds, r->threshold_count};
    for (int i = 0; i < 3; i++)
        if (tv[i] >= 0)
            json_object_set_new(o, tk[i], json_integer(tv[i]));
    json_t *ch = json_array();
    for (size_t i = 0; i < r->nchannels; i++)
        json_array_append_new(ch, json_string(r->channels[i]));
    json_object_set_new(o, "channels", ch);
    json_object_set(o, "match", r->match);
    if (r->group_by)
        json_object_set_new(o, "group_by", json_string(r->group_by));
    json_object_set_new(o, "enabled", json_boolean(r->enabled));
    json_object_set_new(o, "builtin", json_boolean(r->builtin));
    return o;
}

void rule_free(Rule *r)
{
    free(r->name);
    for (size_t i = 0; i < r->nchannels; i++)
        free(r->channels[i]);
    free(r->channels);
    json_decref(r->match);
    free(r->group_by);
    memset(r, 0, sizeof *r);
}

json_t *rule_defaults(void)
{
    static const char defaults[] =
        "["
        "{\"name\":\"replication-lag\",\"kind\":\"replication_lag\",\"severity\":\"warning\","
        "\"for\":\"2m\",\"resolve_after\":\"1m\",\"threshold_bytes\":1073741824,"
        "\"threshold_seconds\":300,\"group_by\":\"from\"},"
        "{\"name\":\"edge-down\",\"kind\":\"edge_down\",\"severity\":\"critical\",\"for\":\"1m\","
        "\"resolve_after\":\"1m\"},"
        "{\"name\":\"slot-retention\",\"kind\":\"slot_retention\",\"severity\":\"warning\","
        "\"for\":\"5m\",\"threshold_bytes\":10737418240,\"inactive_for\":\"1d\","
        "\"group_by\":\"node\"},"
        "{\"name\":\"slot-forecast\",\"kind\":\"slot_forecast\",\"severity\":\"critical\","
        "\"for\":\"10m\",\"forecast_hours\":6},"
        "{\"name\":\"database-down\",\"kind\":\"database_down\",\"severity\":\"critical\","
        "\"for\":\"1m\",\"resolve_after\":\"1m\"},"
        "{\"name\":\"log-errors\",\"kind\":\"log_events\",\"severity\":\"warning\","
        "\"threshold_count\":5,\"window\":\"10m\",\"match\":{\"severity\":\"error\"}},"
        "{\"name\":\"migration-failed\",\"kind\":\"migration_failed\",\"severity\":\"warning\","
        "\"resolve_after\":\"1h\"},"
        "{\"name\":\"stream-error\",\"kind\":\"stream_error\",\"severity\":\"critical\"},"
        "{\"name\":\"collector-stale\",\"kind\":\"collector_stale\",\"severity\":\"critical\","
        "\"threshold_seconds\":120}"
        "]";
    json_error_t e;
    json_t *arr = json_loads(defaults, 0, &e);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) json_object_set_new(r, "builtin", json_true());
    return arr;
}

/* ---- channels ---- */

static const char *const channel_fields[] = {
    "name", "type", "url", "topic_arn", "match", "secret", "min_severity", "has_secret", NULL};

static bool url_ok(const char *u)
{
    return u && (!strncmp(u, "https://", 8) || !strncmp(u, "http://", 7)) && !strchr(u, ' ');
}

bool channel_from_json(Channel *c, const json_t *obj, char **secret, Validation *v)
{
    memset(c, 0, sizeof *c);
    *secret = NULL;
    if (!json_is_object(obj)) {
        validation_add(v, NULL, "channel", "type", "must be an object");
        return false;
    }
    size_t before = v->count + v->dropped;
    v_no_unknown(v, obj, NULL, channel_fields);
    v_string(v, obj, NULL, "name", true, STR_IDENT, 1, 64, &c->name);
    int t = 0, sev = 0;
    if (v_enum(v, obj, NULL, "type", true, channel_type_names, &t))
        c->type = (ChannelType)t;
    if (v_enum(v, obj, NULL, "min_severity", false, severity_names, &sev))
        c->min_severity = (Severity)sev;
    v_string(v, obj, NULL, "url", false, STR_ANY, 8, 2048, &c->url);
    v_string(v, obj, NULL, "topic_arn", false, STR_ANY, 20, 256, &c->topic_arn);
    v_string(v, obj, NULL, "secret", false, STR_ANY, 1, 2048, secret);
    v_bool(v, obj, NULL, "has_secret", false, &c->has_secret);
    c->match = v_matchers(v, obj, "match");
    if (v->count + v->dropped == before) {
        bool needs_url = c->type == CH_WEBHOOK || c->type == CH_ALERTMANAGER;
        if (needs_url && !url_ok(c->url))
            validation_add(v, NULL, "url", "required", "%s needs url (http:// or https://)",
                           channel_type_names[c->type]);
        if (c->type == CH_SNS && (!c->topic_arn || strncmp(c->topic_arn, "arn:", 4)))
            validation_add(v, NULL, "topic_arn", "required",
                           "sns needs topic_arn (arn:aws:sns:...)");
        bool needs_secret = c->type == CH_SLACK || c->type == CH_PAGERDUTY;
        if (needs_secret && !*secret && !c->has_secret)
            validation_add(v, NULL, "secret", "required",
                           c->type == CH_SLACK ? "slack needs secret: the incoming webhook URL"
                                               : "pagerduty needs secret: the integration's "
                                                 "routing key");
        if (c->type == CH_SLACK && *secret && !url_ok(*secret))
            validation_add(v, NULL, "secret", "pattern",
                           "must be the Slack incoming webhook URL (https://hooks.slack.com/...)");
        if (*secret)
            c->has_secret = true;
    }
    if (v->count + v->dropped == before)
        return true;
    channel_free(c);
    xfree_secret(*secret);
    *secret = NULL;
    return false;
}

json_t *channel_to_json(const Channel *c)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:b}", "name", c->name, "type", channel_type_names[c->type],
                  "min_severity", severity_names[c->min_severity], "has_secret", c->has_secret);
    if (c->url)
        json_object_set_new(o, "url", json_string(c->url));
    if (c->topic_arn)
        json_object_set_new(o, "topic_arn", json_string(c->topic_arn));
    json_object_set(o, "match", c->match);
    return o;
}

void channel_free(Channel *c)
{
    free(c->name);
    free(c->url);
    free(c->topic_arn);
    json_decref(c->match);
    memset(c, 0, sizeof *c);
}

/* ---- silences ---- */

static const char *const silence_fields[] = {"id",      "match",      "until", "for",
                                             "comment", "created_by", NULL};

bool silence_from_json(Silence *s, const json_t *obj, Validation *v)
{
    memset(s, 0, sizeof *s);
    if (!json_is_object(obj)) {
        validation_add(v, NULL, "silence", "type", "must be an object");
        return false;
    }
    size_t before = v->count + v->dropped;
    v_no_unknown(v, obj, NULL, silence_fields);
    v_string(v, obj, NULL, "id", false, STR_IDENT, 1, 64, &s->id);
    s->match = v_matchers(v, obj, "match");
    if (json_object_size(s->match) == 0)
        validation_add(v, NULL, "match", "required",
                       "a silence needs at least one matcher (e.g. {\"rule\": \"edge-down\"})");
    const json_t *until = json_object_get(obj, "until");
    if (json_is_number(until)) {
        s->until = json_number_value(until);
    } else if (json_object_get(obj, "for")) {
        double d = v_duration(v, obj, "for", -1);
        s->until = d > 0 ? (double)time(NULL) + d : 0;
    }
    if (s->until <= 0)
        validation_add(v, NULL, "for", "required",
                       "a silence needs for (a duration such as \"2h\") or until (unix seconds)");
    v_string(v, obj, NULL, "comment", false, STR_TEXT, 0, 500, &s->comment);
    v_string(v, obj, NULL, "created_by", false, STR_ANY, 0, 128, &s->created_by);
    if (v->count + v->dropped == before)
        return true;
    silence_free(s);
    return false;
}

json_t *silence_to_json(const Silence *s)
{
    return json_pack("{s:s?, s:O, s:I, s:s?, s:s?}", "id", s->id, "match", s->match, "until",
                     (json_int_t)s->until, "comment", s->comment, "created_by", s->created_by);
}

void silence_free(Silence *s)
{
    free(s->id);
    json_decref(s->match);
    free(s->comment);
    free(s->created_by);
    memset(s, 0, sizeof *s);
}

bool matchers_match(const json_t *matchers, LabelGet get, const void *ud)
{
    const char *k;
    const json_t *want;
    json_object_foreach(jsonutil_unconst(matchers), k, want)
    {
        const char *w = json_string_value(want), *have = get(k, ud);
        if (!w || !have)
            return false;
        size_t n = strlen(w);
        if (n && w[n - 1] == '*' ? strncmp(have, w, n - 1) != 0 : strcmp(have, w) != 0)
            return false;
    }
    return true;
}

static const char *json_label(const char *key, const void *labels)
{
    return jsonutil_str(labels, key);
}

bool labels_match(const json_t *matchers, const json_t *labels)
{
    return matchers_match(matchers, json_label, labels);
}
