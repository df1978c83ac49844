/*
 * share: what each instance polls, shared with the others through Redis.
 *
 * After each collection cycle, every shard this instance holds gets its part
 * written, fenced by the shard's lease (cluster_fenced_set):
 *
 *   cluster:snapshot:<n>  {"instance", "at", "servers": [the servers whose
 *                          database with the lowest id is in n, as collected],
 *                          "health": {database id: health}}
 *   cluster:rds           the leader's last RDS answer
 *
 * for three collection intervals. Then every part is read back in one MGET;
 * what other instances wrote becomes the servers to merge into the topology
 * and the health of the databases polled elsewhere (with "polled_by"). A
 * part whose writer lost the shard stops being renewed and expires.
 */
#ifndef PGFLEET_SHARE_H
#define PGFLEET_SHARE_H

#include <jansson.h>

#include "cluster/cluster.h"
#include "registry/registry.h"
#include "store/store.h"

/*
 * servers: other instances' server snapshots; health: database id -> health
 * (both new, NULL when Redis did not answer); rds: the leader's RDS answer
 * (borrowed during the call, may be NULL).
 */
typedef void (*ShareDone)(void *ud, json_t *servers, json_t *health, const json_t *rds);

/* local: the servers collected here (borrowed); rds: this leader's RDS answer (stolen, or NULL) */
void share_cycle(Cluster *c, const Registry *reg, Store *st, long ttl_ms, const json_t *local,
                 json_t *rds, ShareDone cb, void *ud);

#endif
