/*
 * cluster: several pgfleet instances on one Redis share the fleet.
 *
 * Membership: every instance renews its entry in the sorted set
 * cluster:members (score: when it expires, by Redis's clock) with its
 * description in cluster:info, every quarter of the lease time. An entry not
 * renewed for a lease time is gone, and its description with it.
 *
 * Leases: cluster:leader and cluster:shard:<n> (n < CLUSTER_SHARDS) hold
 * "<instance id>:<fencing token>"; a token comes from INCR cluster:fence when
 * a lease is taken, so a later holder always has a larger one. The leader
 * runs what must run once (alert evaluation and notification, the RDS watch,
 * the history, recovery of the work of dead instances). Shard n belongs to
 * the live member with the highest sha1(member "/" n) (rendezvous hashing):
 * a member joining or leaving moves only the shards that must move. A
 * database belongs to shard fnv1a(id) mod CLUSTER_SHARDS; its owner polls it
 * (health probes, collection, log sources, inventory).
 *
 * All of it is one Lua script per beat: members renewed and expired, the
 * leader lease taken or renewed, each shard taken, renewed or released. What
 * this instance holds counts only until its lease time has passed since the
 * last beat Redis answered (less a margin): with Redis down nothing is acted
 * on after that, and on_change says so.
 *
 * Writes that must come from a lease's holder go through cluster_fenced_set,
 * which checks the lease and its token in Redis in the same script.
 */
#ifndef PGFLEET_CLUSTER_H
#define PGFLEET_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "common/config.h"
#include "store/store.h"

#define CLUSTER_SHARDS 64

typedef struct Cluster Cluster;

typedef struct ClusterDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    /* leadership or held shards changed (also when they lapse with Redis down) */
    void (*on_change)(void *ud);
    /* more of this instance's description for the others (a new object, may be NULL) */
    json_t *(*describe)(void *ud);
    void *ud;
} ClusterDeps;

/* NULL with err filled when PGFLEET_INSTANCE_ID is not a valid name */
Cluster *cluster_new(const ClusterDeps *deps, char *err, size_t errlen);
void cluster_free(Cluster *c);
/*
 * Stopping: leaves the members and lets every lease go at once (the others
 * take over at their next beat instead of after a lease time); beats stop.
 */
void cluster_leave(Cluster *c);
/* the leave was answered (or could not be sent) */
bool cluster_leave_done(const Cluster *c);
/* the store is ready: beat now */
void cluster_store_ready(Cluster *c);

const char *cluster_id(const Cluster *c);
bool cluster_is_leader(const Cluster *c);
/* the shard of a database (or any key) */
unsigned cluster_shard_of(const char *key);
/* this instance holds shard n now; *token (may be NULL) gets its fencing token */
bool cluster_holds(const Cluster *c, unsigned shard, uint64_t *token);
/* this instance polls the database with this id now */
bool cluster_owns(const Cluster *c, const char *database_id);
size_t cluster_shards_held(const Cluster *c);
/* the last beat saw instance_id holding shard */
bool cluster_holder_is(const Cluster *c, unsigned shard, const char *instance_id);
/* an instance with this id renewed its membership within the lease time (per the last beat) */
bool cluster_alive(const Cluster *c, const char *instance_id);
/* live members as of the last beat (this one included once it beat) */
size_t cluster_members(const Cluster *c);
/* true once a beat was answered since the start */
bool cluster_settled(const Cluster *c);

/*
 * {"instance": id, "leader": id|null, "instances": [{"id","version","started_at","host",
 * "listen","leader","shards","self"}...], "shards": n, "lease_ms"} as of the last beat (new).
 */
json_t *cluster_json(const Cluster *c);

/*
 * SET key value PX ttl_ms in Redis only while the lease (a shard, or
 * CLUSTER_LEADER) is this instance's with the token it was taken with; cb
 * (may be NULL) gets whether it was written.
 */
#define CLUSTER_LEADER (-1)
void cluster_fenced_set(Cluster *c, int lease, const char *key, const char *value, long ttl_ms,
                        void (*cb)(void *ud, bool written), void *ud);

#endif
