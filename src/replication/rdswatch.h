/*
 * rdswatch: RDS instances and Aurora clusters, described on a slow timer
 * while a registered database names an RDS instance, and merged into the
 * collector's topology (topology_merge_rds). A failed call keeps the last
 * answer and says so.
 */
#ifndef PGFLEET_RDSWATCH_H
#define PGFLEET_RDSWATCH_H

#include <jansson.h>
#include <uv.h>

#include "aws/aws.h"
#include "registry/registry.h"

typedef struct RdsWatch RdsWatch;

RdsWatch *rdswatch_new(uv_loop_t *loop, AwsClient *aws, const Registry *registry, long interval_ms);
void rdswatch_free(RdsWatch *w);
/*
 * Scale-out: only the leader calls AWS (active); the others import what it
 * shared. export: the last answer to share (new, NULL before one); import
 * takes a shared one (borrowed) while not active.
 */
void rdswatch_set_active(RdsWatch *w, bool active);
json_t *rdswatch_export(const RdsWatch *w);
void rdswatch_import(RdsWatch *w, const json_t *shared);
/* merges the last answer into topo (a built topology) */
void rdswatch_merge(const RdsWatch *w, json_t *topo);

#endif
