/*
 * discover: one catalog snapshot per server, one connection and one
 * pipelined round trip each, all servers at once on the loop.
 *
 * The snapshot is JSON: {"id":"host:port","host","port","reached":bool,
 * "error":{...}|null,"instance":{...},"replication":[...],"wal_receiver":{...}|null,
 * "slots":[...],"subscriptions":[...],"subscription_stats":[...],
 * "databases":[...]} with LSNs as text ("0/3000148"). topology.c turns
 * snapshots into the graph. Instance-wide views only: pg_subscription is a
 * shared catalog, so one connection sees the subscriptions of every database.
 */
#ifndef PGFLEET_DISCOVER_H
#define PGFLEET_DISCOVER_H

#include <jansson.h>
#include <uv.h>

#include "pg/pgconn.h"

/* snapshots: an array in the order of the targets (borrowed during the call) */
typedef void (*DiscoverCb)(void *ud, const json_t *snapshots);

/* the pipelined catalog queries, in order (exported for the benchmark baseline) */
extern const char *const discover_queries[];
extern const int discover_nqueries;
/* the subscriptions of every database, with their conninfo when the role may read it */
#define discover_subscriptions_sql (discover_queries[4])

/* parses a libpq URI or key=value string into params (strings point into *owner) */
bool discover_parse_conninfo(const char *conninfo, PgConnParams *p, void **owner, char *err,
                             size_t errlen) __attribute__((warn_unused_result));
void discover_free_conninfo(void *owner);

/* an empty snapshot for host:port (not reached yet) */
json_t *discover_snapshot_new(const char *host, int port);
/* fills snap from the results of discover_queries (or records err) */
void discover_snapshot_fill(json_t *snap, PGresult *const *res, int n, const PgError *err);

/* connects to every target and snapshots it; cb runs once with all of them */
void discover_run(uv_loop_t *loop, const PgConnParams *targets, int n, DiscoverCb cb, void *ud);

/*
 * Adds "inventory": {dbname: {"publications":[{name,all_tables,tables}],
 * "subscription_tables":[{subscription,table_name,state,lsn}]} | {"error"}} to
 * each reached snapshot: for the databases with subscriptions (their sync
 * states), or every database when all (publications too). One connection
 * per database, a few at a time. targets[i] belongs to snapshots[i]; cb gets
 * the same snapshots.
 */
void discover_inventory(uv_loop_t *loop, const PgConnParams *targets, const json_t *snapshots,
                        bool all, DiscoverCb cb, void *ud);

#endif
