/*
 * rds: DescribeDBInstances and DescribeDBClusters (all pages), and the RDS
 * IAM authentication token used as a PostgreSQL password.
 *
 * Instances become {"id","class","engine","engine_version","status",
 * "endpoint":{"address","port"}|null,"source_instance_id"|null,
 * "read_replica_ids":[...],"cluster_id"|null,"iam_auth":bool,"availability_zone"};
 * clusters {"id","engine","engine_version","status","endpoint","reader_endpoint",
 * "port","members":[{"instance_id","writer":bool}]}.
 */
#ifndef PGFLEET_RDS_H
#define PGFLEET_RDS_H

#include <time.h>

#include "aws/aws.h"

/* instance_id NULL: every instance */
void rds_describe_instances(AwsClient *c, const char *instance_id, AwsJsonCb cb, void *ud);
void rds_describe_clusters(AwsClient *c, const char *cluster_id, AwsJsonCb cb, void *ud);

/*
 * The token: "host:port/?Action=connect&DBUser=user&X-Amz-...": a presigned
 * rds-db connect request, valid 15 minutes from now. New string.
 */
char *rds_iam_token(const AwsCredentials *creds, const char *region, const char *host, int port,
                    const char *user, time_t now);

/*
 * DescribeDBLogFiles: [{"name","size","last_written"(ms epoch)}], all pages.
 * DownloadDBLogFilePortion from marker (NULL: the start of the file):
 * {"data":"...","marker":"...","pending":bool}.
 */
void rds_describe_log_files(AwsClient *c, const char *instance_id, AwsJsonCb cb, void *ud);
void rds_download_log_portion(AwsClient *c, const char *instance_id, const char *file,
                              const char *marker, AwsJsonCb cb, void *ud);

json_t *rds_parse_instance(const xmlNode *n);
json_t *rds_parse_log_file(const xmlNode *n);
/* a DownloadDBLogFilePortion answer (the XML body) -> the object above, NULL if malformed */
json_t *rds_parse_log_portion(const char *body, size_t len);
json_t *rds_parse_cluster(const xmlNode *n);

#endif
