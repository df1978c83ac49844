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
/* merges the last answer into topo (a built topology) */
void rdswatch_merge(const RdsWatch *w, json_t *topo);

#endif
