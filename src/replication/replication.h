/*
 * replication: the replication service of the daemon.
 *
 * Owns the collector (one pipelined round trip per server every interval,
 * folded into a topology snapshot), the RDS watch merged into it, and the
 * slower inventory sweep. After each collection the topology (when its shape
 * changed) and the metrics are published (topic "topology"; topic "metrics"
 * as {"diff": what changed since the last (metricsdiff.h), "full": all of
 * it}), recorded in Redis (history.h), and handed to on_collected (alerting
 * hangs there). Reads are served from the snapshot, never by querying databases.
 * Replication events from the logs are kept by the event log (eventlog.h),
 * which this service reads for the API.
 */
#ifndef PGFLEET_REPLICATION_H
#define PGFLEET_REPLICATION_H

#include <jansson.h>
#include <uv.h>

#include "aws/aws.h"
#include "common/config.h"
#include "common/failure.h"
#include "common/publish.h"
#include "registry/registry.h"
#include "replication/eventlog.h"
#include "store/store.h"

typedef struct Replication Replication;

/*
 * Scale-out: after each cycle the servers collected here (borrowed) are
 * handed to share, which must call replication_merge with what the other
 * instances collected, at once or later; the topology is published then.
 */
typedef void (*ReplicationShare)(void *ud, Replication *r, const json_t *local);

typedef struct ReplicationDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    AwsClient *aws; /* may be NULL: no RDS watch */
    const Registry *registry;
    EventLog *events;
    Publisher pub;
    /* after each collection, with the topology (RDS merged) and the metrics (borrowed) */
    void (*on_collected)(void *ud, const json_t *topology, const json_t *metrics);
    void *collected_ud;
    ReplicationShare share; /* NULL: nothing to share, merge at once */
    void *share_ud;
} ReplicationDeps;

Replication *replication_new(const ReplicationDeps *deps);
void replication_free(Replication *r);

/*
 * The leader (the default) records the history and calls AWS for RDS; the
 * others import the RDS answer the leader shared (replication_merge's rds).
 */
void replication_set_leader(Replication *r, bool leader);
/* others (stolen, may be NULL): servers collected elsewhere; rds (borrowed, may be NULL) */
void replication_merge(Replication *r, json_t *others, const json_t *rds);
/* the RDS answer to share (new), NULL before one */
json_t *replication_rds_export(const Replication *r);
/* collects now (this instance's share changed) */
void replication_kick(Replication *r);

/* the topology with RDS merged in (new reference); NULL before the first collection */
json_t *replication_topology(const Replication *r);
/* per-edge and per-slot metrics with their age (new reference); NULL before the first */
json_t *replication_status(const Replication *r);
/* Prometheus text (new string) */
char *replication_prometheus(const Replication *r);
/* lag and retained WAL samples of the last minutes, oldest first */
void replication_history(const Replication *r, long minutes, DoneCb cb, void *ud);
/* classified events from the logs, newest first */
void replication_events(const Replication *r, const EventQuery *q, DoneCb cb, void *ud);

#endif
