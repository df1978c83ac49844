/*
 * topology: the replication graph, built from discovery snapshots.
 *
 * A pure function: snapshots in, graph out (so it is unit-tested on recorded
 * snapshots). Nodes are keyed "host:port" as reached; a standby's upstream and
 * a subscription's publisher that were not given appear with "managed": false.
 * Physical edges come from the standby's WAL receiver (or, when that is not
 * running, its primary_conninfo), logical edges from pg_subscription. Lag is
 * null, never 0, when it cannot be known: the receiver is not streaming, the
 * upstream was not reached, the publisher's slot was not seen.
 */
#ifndef PGFLEET_TOPOLOGY_H
#define PGFLEET_TOPOLOGY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* {"nodes":[...],"edges":[...],"slots":[...],"unreachable":["id",...]} (new reference) */
json_t *topology_build(const json_t *snapshots);

/*
 * For the list answers of a large fleet: keeps in doc (a topology or a status) the nodes,
 * edges and slots of one server (node "host:port", NULL: all), then the slice
 * [offset, offset + limit) of edges and of slots (limit 0: all), and says how many
 * matched ("edges_total", "slots_total") and where the next slice starts
 * ("next_offset", null at the end).
 */
void topology_page(json_t *doc, const char *node, long offset, long limit);

/*
 * Merges RDS into a built topology: instances are rds_parse_instance objects;
 * node_rds maps node id -> the rds_instance_id its DatabaseConfig names.
 * Those nodes get "rds":{instance_id,class,status,...}; their source and
 * replicas are found by mapping or by endpoint (unmanaged nodes when not
 * reached); each replica link marks the physical edge pgfleet saw
 * ("rds_replica": true) or, when none was seen, is added with state
 * "rds_replica" and unknown lag. Aurora clusters (rds_parse_cluster objects) with a
 * member among those instances give each member node "aurora":{cluster_id, role} and
 * an edge of kind "aurora" from the writer to each reader (shared storage: lag null).
 */
void topology_merge_rds(json_t *topo, const json_t *instances, const json_t *clusters,
                        const json_t *node_rds);

/* "16/B374D848" -> bytes; false when malformed */
bool topology_parse_lsn(const char *s, uint64_t *out);

#endif
