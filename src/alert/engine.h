/*
 * engine: alert evaluation, a pure function of the rules, a snapshot and the
 * engine's memory (no I/O, so it is tested and benchmarked alone).
 *
 * At each collection every enabled rule looks at the snapshot and finds its
 * subjects (an edge, a slot, a database, a node's log events ...), each with
 * labels, a value and whether its condition holds. A subject's alert goes
 *   inactive -> pending (the condition holds) -> firing (it held `for`)
 *            -> resolved (it did not hold for `resolve_after`)
 * A pending alert whose condition stops holding goes back to inactive quietly;
 * a firing alert whose rule is disabled or removed resolves.
 * Each alert has a fingerprint: a hash of the rule's name and the labels.
 * Transitions (to firing, to resolved) are appended to the caller's array:
 *   {"id", "rule", "kind", "severity", "state", "labels", "value", "threshold",
 *    "since", "summary"}
 */
#ifndef PGFLEET_ENGINE_H
#define PGFLEET_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "alert/rules.h"

typedef struct AlertSnapshot {
    const json_t *status;     /* replication status: nodes, edges (lag), slots; or NULL */
    const json_t *topology;   /* the topology (initial-copy progress of logical edges); or NULL */
    const json_t *databases;  /* [{"id", "health"}] */
    const json_t *events;     /* classified log events, each with "epoch" (unix s) */
    const json_t *streams;    /* {"<id>": {"state", "error", "source", "target"}} */
    const json_t *migrations; /* [{"execution_id", "name", "status", "error", "epoch"}] failed */
    double collected_epoch;   /* when status was collected; 0: never */
    double started_epoch;     /* when the daemon started (collector_stale before any) */
    double now;               /* unix s */
} AlertSnapshot;

typedef struct AlertEngine AlertEngine;

AlertEngine *engine_new(void);
void engine_free(AlertEngine *e);

void engine_evaluate(AlertEngine *e, const Rule *rules, size_t nrules, const AlertSnapshot *s,
                     json_t *transitions);

/* pending and firing alerts (new reference): [{"id", "rule", "state", ...}] */
json_t *engine_active(const AlertEngine *e);
/*
 * takes back a firing alert this or another instance recorded (a restart keeps
 * what fires, so it resolves and is notified when its condition stops holding);
 * false when the record is not a firing alert whose id matches its rule and labels
 */
bool engine_restore(AlertEngine *e, const json_t *alert, double now);

/* the fingerprint of rule + labels (hex, 16 digits) into out */
void alert_fingerprint(const char *rule, const json_t *labels, char out[17]);

#endif
