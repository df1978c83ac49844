/*
 * eventlog: replication events from the log sources (logs/logsource.h).
 *
 * Each event gets an id and received_at, goes to the publisher (topic
 * "events", and "database:<id>"), into Redis (list replication:events,
 * newest first, the last EVENTLOG_KEEP) and into a small ring in memory,
 * which answers reads when Redis cannot.
 */
#ifndef PGFLEET_EVENTLOG_H
#define PGFLEET_EVENTLOG_H

#include <jansson.h>

#include "common/failure.h"
#include "common/publish.h"
#include "store/store.h"

#define EVENTLOG_KEEP 1000

typedef struct EventLog EventLog;

typedef struct EventQuery {
    long limit;                                /* 1..EVENTLOG_KEEP */
    const char *node, *database_id, *severity; /* NULL or "": any */
} EventQuery;

EventLog *eventlog_new(Store *store, Publisher pub);
void eventlog_free(EventLog *l);
/* records an event (stolen) */
void eventlog_add(EventLog *l, json_t *ev);
/* newest first: {"count","source":"redis"|"memory","events":[...]} */
void eventlog_read(EventLog *l, const EventQuery *q, DoneCb cb, void *ud);

#endif
