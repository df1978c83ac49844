/*
 * metricsdiff: what changed between two metrics documents (collector_status),
 * so a WebSocket "metrics" event carries only that.
 *
 * Every element of "nodes", "edges" and "slots" has a "key". The diff is
 * {"full": false, the scalars of next, "nodes"/"edges"/"slots": the elements
 * that are new or differ, "removed": {"nodes"/"edges"/"slots": [keys gone]}};
 * a client applies it to the full document it holds by key. Pure.
 */
#ifndef PGFLEET_METRICSDIFF_H
#define PGFLEET_METRICSDIFF_H

#include <jansson.h>

/* prev may be NULL (everything is new); a new reference */
json_t *metrics_diff(const json_t *prev, const json_t *next);
/* prev with diff applied (what a client does; for tests), a new reference */
json_t *metrics_apply(const json_t *prev, const json_t *diff);

#endif
