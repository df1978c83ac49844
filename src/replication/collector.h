/*
 * collector: the daemon's replication snapshot, refreshed on a timer.
 *
 * Every interval it asks its source for one target per server, runs the
 * discovery queries through each target's pool (persistent connections, one
 * pipelined round trip per server), folds the snapshots into a topology and
 * keeps it. API reads are served from that snapshot, never by querying the
 * databases per request. After each cycle the callback learns whether the
 * shape of the graph (nodes, edges, their states) changed.
 */
#ifndef PGFLEET_COLLECTOR_H
#define PGFLEET_COLLECTOR_H

#include <jansson.h>
#include <uv.h>

#include "pg/target.h"

typedef struct Collector Collector;

/* one target per server to follow; returns how many were put in out */
typedef size_t (*CollectorServers)(void *ud, PgTarget **out, size_t max);
/* after each cycle: the topology and the metrics (borrowed) */
typedef void (*CollectorCb)(void *ud, const json_t *topology, const json_t *metrics,
                            bool shape_changed);

Collector *collector_new(uv_loop_t *loop, long interval_ms, CollectorServers servers,
                         void *servers_ud, CollectorCb cb, void *cb_ud);
void collector_free(Collector *c);
/* runs a cycle now (unless one is running) */
void collector_kick(Collector *c);

/*
 * Scale-out: after each cycle the servers collected here (borrowed) go to
 * cb, which shares them and calls collector_merge with what the other
 * instances collected; the topology is built from both and the cycle's
 * callback runs then. Without it a cycle merges nothing at once.
 */
typedef void (*CollectorLocalCb)(void *ud, const json_t *local);
void collector_on_local(Collector *c, CollectorLocalCb cb, void *ud);
/* builds the topology from the last cycle's servers and others (stolen, may be NULL) */
void collector_merge(Collector *c, json_t *others);

/* the last topology, or NULL before the first cycle */
const json_t *collector_topology(const Collector *c);
/* per-edge and per-slot metrics with the time they were collected (new reference) */
json_t *collector_status(const Collector *c);
/* the last cycle's discovery snapshots of the servers collected here (borrowed), NULL before */
const json_t *collector_snapshots(const Collector *c);
/* per-database details of a server ("host:port"), merged into every later cycle */
void collector_set_inventory(Collector *c, const char *server_id, const json_t *inventory);

/* Prometheus text exposition format (new string) */
char *collector_prometheus(const Collector *c);

#endif
