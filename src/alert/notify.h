/*
 * notify: one notification to one channel, delivered at least once.
 *
 * A notification is a group of alerts of one rule that changed state together
 * (firing, resolved, or a repeat of firing), each with its guidance:
 *   {"key", "rule", "severity", "status": "firing"|"resolved", "repeat": bool,
 *    "alerts": [{"id", "state", "labels", "value", "threshold", "since", "summary",
 *                "text", "guidance"}]}
 * The payload each channel type gets is built by a pure function (tested against
 * the receivers' documented schemas). Delivery retries transport errors, 429
 * and 5xx with exponential backoff (PGFLEET_ALERT_RETRY_MS doubling, 5
 * attempts); each attempt is recorded in the delivery record the callback gets
 * after every attempt:
 *   {"id", "channel", "type", "key", "status": "pending"|"delivered"|"failed",
 *    "attempts": [{"at", "http_status", "error", "ms"}]}
 * Secrets (the webhook HMAC key, Slack's URL, PagerDuty's routing key) are used
 * for the request and never put in a record or a log line.
 */
#ifndef PGFLEET_NOTIFY_H
#define PGFLEET_NOTIFY_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "alert/rules.h"
#include "aws/aws.h"
#include "httpc/httpc.h"

#define NOTIFY_MAX_ATTEMPTS  5
#define PAGERDUTY_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"

/* ---- payloads ---- */

json_t *notify_webhook_body(const json_t *group);
json_t *notify_slack_body(const json_t *group, const char *public_url);
/* one Events API v2 event for one alert of the group */
json_t *notify_pagerduty_event(const json_t *alert, const json_t *group, const char *routing_key);
/* POST /api/v2/alerts: an array of postable alerts */
json_t *notify_alertmanager_body(const json_t *group, const char *public_url);
/* SNS: a subject (at most 100 characters) and a text message (new strings) */
char *notify_sns_subject(const json_t *group);
char *notify_sns_message(const json_t *group);
/* "sha256=<hex>" of body keyed with secret, into out */
void notify_signature(const char *secret, const char *body, size_t len, char out[72]);

/* ---- delivery ---- */

typedef struct Notifier Notifier;

Notifier *notifier_new(uv_loop_t *loop, Httpc *http, AwsClient *aws, const char *public_url,
                       long retry_ms);
/* deliveries in flight stop retrying; their callbacks run once more with status "failed" */
void notifier_free(Notifier *n);

/* after each attempt; delivery borrowed; final when its status is not "pending" */
typedef void (*DeliveryCb)(void *ud, const json_t *delivery, bool final);
/* secret may be NULL; the channel is copied */
void notifier_send(Notifier *n, const Channel *c, const char *secret, const json_t *group,
                   DeliveryCb cb, void *ud);

#endif
