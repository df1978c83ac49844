/*
 * history: the replication numbers over time, in Redis.
 *
 * After each collection the latest status is kept with a TTL of three
 * intervals (replication:latest) and a compact sample (lag per edge,
 * retained WAL per slot) is pushed to a list trimmed to an hour at the
 * collector's interval (replication:history).
 */
#ifndef PGFLEET_HISTORY_H
#define PGFLEET_HISTORY_H

#include <jansson.h>

#include "common/failure.h"
#include "store/store.h"

/* records the metrics of one collection */
void history_record(Store *store, long interval_seconds, const json_t *metrics);
/* oldest first: {"minutes","interval_seconds","count","samples":[...]} */
void history_read(Store *store, long interval_seconds, long minutes, DoneCb cb, void *ud);

#endif
