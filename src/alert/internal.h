/*
 * alert internals: the service's state, shared by alert.c (evaluation and
 * notification) and settings.c (rules, channels, silences, acks over the API).
 */
#ifndef PGFLEET_ALERT_INTERNAL_H
#define PGFLEET_ALERT_INTERNAL_H

#include "alert/alert.h"
#include "alert/engine.h"
#include "alert/notify.h"
#include "alert/rules.h"

#define CHANNEL_SECRET "pgfleet/channel/"

struct Alert {
    AlertDeps deps;
    double history_s, repeat_s;
    Rule *rules;
    size_t nrules;
    Channel *channels;
    size_t nchannels;
    Silence *silences;
    size_t nsilences;
    json_t *acks; /* id -> {"by", "at"} */
    json_t *topology, *status;
    double collected_epoch, started_epoch;
    json_t *events;     /* recent log events with "epoch" */
    json_t *streams;    /* id -> {"state", "error"} */
    json_t *migrations; /* failed runs with "epoch" */
    AlertEngine *engine;
    Notifier *notifier;
    uv_timer_t tick, reload;
    uint64_t last_repeat_check;
    bool loaded;
    bool restored; /* the firing alerts of alert:active were read once */
    bool active;   /* this instance evaluates and notifies (the leader); else it mirrors */
    bool mirroring;
    int refs;
    bool closing;
};

typedef enum What { W_RULES, W_CHANNELS, W_SILENCES, W_ACKS } What;
extern const char *const alert_hash_keys[];

double alert_now(void);
void alert_unref(Alert *a);
void alert_load_all(Alert *a);
const Channel *alert_channel_named(const Alert *a, const char *name);
const Rule *alert_rule_named(const Alert *a, const char *name);
/* the alert's labels plus rule and severity: what silences and channels match */
json_t *alert_match_labels(const json_t *alert);
const Silence *alert_silenced_by(const Alert *a, const json_t *alert);
/* the alert with its guidance (new reference) */
json_t *alert_with_guidance(const json_t *alert);
/* one group to one channel; test_cb, when set, gets the first attempt's record */
void alert_send_to(Alert *a, const Channel *c, const json_t *group, DoneCb test_cb, void *test_ud);

#endif
