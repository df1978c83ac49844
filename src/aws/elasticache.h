/*
 * elasticache: DescribeReplicationGroups (all pages).
 *
 * Each group becomes {"id","status","cluster_enabled":bool,"tls":bool,
 * "auth_token":bool,"primary_endpoint":{"address","port"}|null,
 * "reader_endpoint":{...}|null,"configuration_endpoint":{...}|null,
 * "members":[...]}.
 */
#ifndef PGFLEET_ELASTICACHE_H
#define PGFLEET_ELASTICACHE_H

#include "aws/aws.h"

/* group_id NULL: every group */
void elasticache_describe_groups(AwsClient *c, const char *group_id, AwsJsonCb cb, void *ud);
json_t *elasticache_parse_group(const xmlNode *n);
/* "rediss://host:port/0" or "redis://..." for a parsed group; NULL without endpoint */
char *elasticache_redis_url(const json_t *group);

#endif
