/*
 * rules: what alerting is told to watch, where it sends what it finds, and what
 * it must keep quiet about. Each is JSON from the API or Redis, validated like
 * every model (every problem named, with its field and rule).
 *
 * A rule: {"name", "kind", "severity", "for", "channels", "enabled", "match",
 *          "threshold_bytes" | "threshold_seconds" | "threshold_count",
 *          "window", "forecast_hours", "resolve_after", "group_by"}
 * A channel: {"name", "type": sns|webhook|slack|pagerduty|alertmanager,
 *             "url" | "topic_arn", "min_severity", "match",
 *             "secret" (write-only: HMAC key, Slack URL, PagerDuty routing key)}
 * A silence: {"id", "match", "until", "comment", "created_by"}
 *
 * Durations are "30s", "2m", "1h", "1d" (or plain seconds).
 */
#ifndef PGFLEET_RULES_H
#define PGFLEET_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "model/validate.h"

typedef enum AlertKind {
    AK_REPLICATION_LAG,
    AK_EDGE_DOWN,
    AK_SLOT_RETENTION,
    AK_SLOT_FORECAST,
    AK_DATABASE_DOWN,
    AK_LOG_EVENTS,
    AK_MIGRATION_FAILED,
    AK_STREAM_ERROR,
    AK_COLLECTOR_STALE,
    AK_COUNT
} AlertKind;

typedef enum Severity { SEV_INFO, SEV_WARNING, SEV_CRITICAL } Severity;

typedef enum ChannelType {
    CH_SNS,
    CH_WEBHOOK,
    CH_SLACK,
    CH_PAGERDUTY,
    CH_ALERTMANAGER
} ChannelType;

extern const char *const alert_kind_names[];
extern const char *const severity_names[];
extern const char *const channel_type_names[];

typedef struct Rule {
    char *name;
    AlertKind kind;
    Severity severity;
    double for_s;      /* held this long before firing */
    double resolve_s;  /* false this long before resolving (flapping damped) */
    double window_s;   /* log_events: counted over this window */
    double inactive_s; /* slot_retention: an inactive slot older than this */
    double forecast_h; /* slot_forecast: fires when full within this many hours */
    long long threshold_bytes, threshold_seconds, threshold_count; /* -1: unset */
    char **channels;
    size_t nchannels;
    json_t *match;  /* {"label": "value"}: exact, or a prefix ending in '*' */
    char *group_by; /* the label one notification gathers alerts by, or NULL */
    bool enabled;
    bool builtin;
} Rule;

typedef struct Channel {
    char *name;
    ChannelType type;
    char *url;       /* webhook, alertmanager (slack, pagerduty: in the secret) */
    char *topic_arn; /* sns */
    Severity min_severity;
    json_t *match;
    bool has_secret; /* kept in Secrets Manager, never in Redis or an answer */
} Channel;

typedef struct Silence {
    char *id;
    json_t *match;
    double until; /* unix s */
    char *comment;
    char *created_by;
} Silence;

/* "30s", "2m", "1h", "1d", "90" (seconds); -1 when not one */
double duration_parse(const char *s);
/* "2m", "1h30m" ... into buf */
const char *duration_format(double seconds, char *buf, size_t len);

bool rule_from_json(Rule *r, const json_t *obj, Validation *v) __attribute__((warn_unused_result));
json_t *rule_to_json(const Rule *r);
void rule_free(Rule *r);
/* the rules alerting starts with (a user may change or disable them): new array */
json_t *rule_defaults(void);

/* secret: set when the body carried one (write-only; the caller stores it elsewhere) */
bool channel_from_json(Channel *c, const json_t *obj, char **secret, Validation *v)
    __attribute__((warn_unused_result));
json_t *channel_to_json(const Channel *c);
void channel_free(Channel *c);

bool silence_from_json(Silence *s, const json_t *obj, Validation *v)
    __attribute__((warn_unused_result));
json_t *silence_to_json(const Silence *s);
void silence_free(Silence *s);

/* labels match every matcher (exact, or a prefix when the matcher ends in '*') */
bool labels_match(const json_t *matchers, const json_t *labels);
/* the same, with the labels read through get (NULL: no such label) */
typedef const char *(*LabelGet)(const char *key, const void *ud);
bool matchers_match(const json_t *matchers, LabelGet get, const void *ud);

#endif
