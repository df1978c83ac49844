/*
 * awscheck: what `pgfleet aws check` and GET /api/aws/test report: which
 * credential source is in use (never the secret; the access key id masked),
 * the region and endpoints, and a live call to Secrets Manager, RDS and
 * ElastiCache each, with latency, attempts, and the error and hint of a
 * failure.
 */
#ifndef PGFLEET_AWSCHECK_H
#define PGFLEET_AWSCHECK_H

#include "aws/aws.h"

/* report is borrowed; "ok" is true when every check passed */
typedef void (*AwsCheckCb)(void *ud, const json_t *report);

void awscheck_run(AwsClient *c, AwsCheckCb cb, void *ud);

#endif
