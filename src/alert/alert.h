/*
 * alert: the alerting service. Rules, channels and silences live in Redis
 * (hashes alert:rules, alert:channels, alert:silences; the defaults are written
 * once, so a user's change or removal sticks), read again every 30 s so every
 * instance follows an edit made on another.
 *
 * Every collection interval the engine (engine.h) evaluates the enabled rules
 * on the last snapshot: the replication status and topology, the databases'
 * health, the log events of the last day, streams in error and failed
 * migrations (these last three arrive through alert_observe). A transition is
 * handled by the one instance that claims it in Redis (SET NX on
 * alert:sent:<id>:<state>), so several instances notify once: that instance
 * writes it to the history (stream alert:history, PGFLEET_ALERT_HISTORY_DAYS),
 * publishes it on topic "alerts", and, unless a silence matches, notifies.
 * Notifications group the alerts of one rule that changed together by the
 * rule's group_by label, go to the rule's channels (or, when it names none,
 * to every channel whose min_severity and matchers take them), and repeat
 * every PGFLEET_ALERT_REPEAT_MINUTES while firing and not acknowledged (the
 * firing claim expires then). Channel secrets live in Secrets Manager
 * (pgfleet/channel/<name>); delivery records in alert:delivery:<id>.
 */
#ifndef PGFLEET_ALERT_H
#define PGFLEET_ALERT_H

#include <jansson.h>
#include <uv.h>

#include "aws/aws.h"
#include "aws/secrets.h"
#include "common/config.h"
#include "common/failure.h"
#include "common/publish.h"
#include "registry/registry.h"
#include "store/store.h"

typedef struct Alert Alert;

typedef struct AlertDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    AwsClient *aws;
    SecretsCache *secrets;
    const Registry *registry;
    Publisher pub;
    /* a rule, channel, silence or acknowledgement was saved here (others reload theirs) */
    void (*on_settings)(void *ud);
    void *settings_ud;
} AlertDeps;

Alert *alert_new(const AlertDeps *deps);
void alert_free(Alert *a);
/* the store (re)connected: load rules, channels, silences (defaults the first time) */
void alert_store_ready(Alert *a);

/*
 * Scale-out: only the leader evaluates and notifies (active, the default);
 * the others mirror the firing alerts from Redis every interval, so their
 * answers match and a new leader starts from what was firing.
 */
void alert_set_active(Alert *a, bool active);
/* reads rules, channels, silences and acknowledgements again (changed through another instance) */
void alert_reload(Alert *a);
/* the collector's latest snapshot (borrowed; copied) */
void alert_collected(Alert *a, const json_t *topology, const json_t *status);
/* what other services publish: log events, stream states, migration outcomes */
void alert_observe(Alert *a, const char *topic, const json_t *data);

/* {"alerts": [...]} pending and firing, with guidance, ack and silence */
json_t *alert_active(const Alert *a);
/* Prometheus text: pgfleet_alerts_firing per rule (new string) */
char *alert_prometheus(const Alert *a);

typedef struct AlertHistoryQuery {
    const char *rule, *state, *severity;
    double since, until;
    long limit;
} AlertHistoryQuery;

void alert_history(Alert *a, const AlertHistoryQuery *q, DoneCb cb, void *ud);
void alert_ack(Alert *a, const char *id, const char *by, DoneCb cb, void *ud);

/* rules, channels, silences: {"rules": [...]} ... (sync, from memory) */
json_t *alert_rules(const Alert *a);
json_t *alert_channels(const Alert *a);
json_t *alert_silences(const Alert *a);
/* name NULL: create (409 when it exists); else replace that one (404 when absent) */
void alert_rule_put(Alert *a, const char *name, const json_t *body, DoneCb cb, void *ud);
void alert_rule_delete(Alert *a, const char *name, DoneCb cb, void *ud);
void alert_channel_put(Alert *a, const char *name, const json_t *body, DoneCb cb, void *ud);
void alert_channel_delete(Alert *a, const char *name, DoneCb cb, void *ud);
/* a made-up alert through the channel; answers the delivery after its first attempt */
void alert_channel_test(Alert *a, const char *name, DoneCb cb, void *ud);
void alert_silence_create(Alert *a, const json_t *body, const char *by, DoneCb cb, void *ud);
void alert_silence_delete(Alert *a, const char *id, DoneCb cb, void *ud);
/* the last deliveries, newest first: {"deliveries": [...]} */
void alert_deliveries(Alert *a, long limit, DoneCb cb, void *ud);

#endif
