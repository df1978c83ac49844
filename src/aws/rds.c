#include "aws/rds.h"

#include <stdlib.h>
#include <string.h>

#include "aws/awsxml.h"
#include "aws/sigv4.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"

/* the text at path as a JSON string (or null), freeing the C string */
static json_t *text_or_null(const xmlNode *n, const char *path)
{
    char *s = awsxml_text(n, path);
    json_t *j = jsonutil_string_or_null(s);
    free(s);
    return j;
}

static bool text_true(const xmlNode *n, const char *path)
{
    char *s = awsxml_text(n, path);
    bool t = s && strcmp(s, "true") == 0;
    free(s);
    return t;
}

static json_t *int_or_null(const xmlNode *n, const char *path)
{
    char *s = awsxml_text(n, path);
    json_t *j = s ? json_integer(strtoll(s, NULL, 10)) : json_null();
    free(s);
    return j;
}

json_t *rds_parse_instance(const xmlNode *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", text_or_null(n, "DBInstanceIdentifier"));
    json_object_set_new(o, "class", text_or_null(n, "DBInstanceClass"));
    json_object_set_new(o, "engine", text_or_null(n, "Engine"));
    json_object_set_new(o, "engine_version", text_or_null(n, "EngineVersion"));
    json_object_set_new(o, "status", text_or_null(n, "DBInstanceStatus"));
    xmlNode *ep = awsxml_child(n, "Endpoint");
    json_object_set_new(o, "endpoint",
                        ep ? json_pack("{s:o, s:o}", "address", text_or_null(ep, "Address"), "port",
                                       int_or_null(ep, "Port"))
                           : json_null());
    json_object_set_new(o, "source_instance_id",
                        text_or_null(n, "ReadReplicaSourceDBInstanceIdentifier"));
    json_t *replicas = json_array();
    xmlNode *list = awsxml_child(n, "ReadReplicaDBInstanceIdentifiers");
    for (xmlNode *r = list ? list->children : NULL; r; r = r->next) {
        if (r->type != XML_ELEMENT_NODE)
            continue;
        char *t = awsxml_text(r, "");
        json_array_append_new(replicas, json_string(t));
        free(t);
    }
    json_object_set_new(o, "read_replica_ids", replicas);
    json_object_set_new(o, "cluster_id", text_or_null(n, "DBClusterIdentifier"));
    json_object_set_new(o, "iam_auth",
                        json_boolean(text_true(n, "IAMDatabaseAuthenticationEnabled")));
    json_object_set_new(o, "availability_zone", text_or_null(n, "AvailabilityZone"));
    return o;
}

json_t *rds_parse_cluster(const xmlNode *n)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", text_or_null(n, "DBClusterIdentifier"));
    json_object_set_new(o, "engine", text_or_null(n, "Engine"));
    json_object_set_new(o, "engine_version", text_or_null(n, "EngineVersion"));
    json_object_set_new(o, "status", text_or_null(n, "Status"));
    json_object_set_new(o, "endpoint", text_or_null(n, "Endpoint"));
    json_object_set_new(o, "reader_endpoint", text_or_null(n, "ReaderEndpoint"));
    json_object_set_new(o, "port", int_or_null(n, "Port"));
    json_t *members = json_array();
    xmlNode *list = awsxml_child(n, "DBClusterMembers");
    for (xmlNode *m = list ? list->children : NULL; m; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        json_array_append_new(members, json_pack("{s:o, s:b}", "instance_id",
                                                 text_or_null(m, "DBInstanceIdentifier"), "writer",
                                                 text_true(m, "IsClusterWriter")));
    }
    json_object_set_new(o, "members", members);
    return o;
}

static void describe(AwsClient *c, const char *action, const char *id_param, const char *id,
                     const char *result_path, const char *list_name, AwsItemParser parse,
                     AwsJsonCb cb, void *ud)
{
    StrBuf params = STRBUF_INIT;
    if (id)
        aws_query_add(&params, id_param, id);
    AwsPagedQuery q = {.svc = &aws_rds,
                       .action = action,
                       .params = params.data,
                       .result_path = result_path,
                       .list_name = list_name,
                       .parse = parse};
    aws_query_paged(c, &q, cb, ud);
    strbuf_free(&params);
}

void rds_describe_instances(AwsClient *c, const char *instance_id, AwsJsonCb cb, void *ud)
{
    describe(c, "DescribeDBInstances", "DBInstanceIdentifier", instance_id,
             "DescribeDBInstancesResult", "DBInstances", rds_parse_instance, cb, ud);
}

void rds_describe_clusters(AwsClient *c, const char *cluster_id, AwsJsonCb cb, void *ud)
{
    describe(c, "DescribeDBClusters", "DBClusterIdentifier", cluster_id, "DescribeDBClustersResult",
             "DBClusters", rds_parse_cluster, cb, ud);
}

json_t *rds_parse_log_file(const xmlNode *n)
{
    return json_pack("{s:o, s:o, s:o}", "name", text_or_null(n, "LogFileName"), "size",
                     int_or_null(n, "Size"), "last_written", int_or_null(n, "LastWritten"));
}

void rds_describe_log_files(AwsClient *c, const char *instance_id, AwsJsonCb cb, void *ud)
{
    describe(c, "DescribeDBLogFiles", "DBInstanceIdentifier", instance_id,
             "DescribeDBLogFilesResult", "DescribeDBLogFiles", rds_parse_log_file, cb, ud);
}

json_t *rds_parse_log_portion(const char *body, size_t len)
{
    xmlDoc *doc = awsxml_parse(body, len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNode *res = root ? awsxml_child(root, "DownloadDBLogFilePortionResult") : NULL;
    json_t *o = NULL;
    if (res) {
        char *data = awsxml_text(res, "LogFileData");
        o = json_pack("{s:s, s:o, s:b}", "data", data ? data : "", "marker",
                      text_or_null(res, "Marker"), "pending",
                      text_true(res, "AdditionalDataPending"));
        free(data);
    }
    if (doc)
        xmlFreeDoc(doc);
    return o;
}

typedef struct Portion {
    AwsJsonCb cb;
    void *ud;
} Portion;

static void portion_done(void *ud, const AwsResult *r)
{
    Portion *p = ud;
    json_t *o = r->ok ? rds_parse_log_portion(r->body, r->body_len) : NULL;
    if (r->ok && !o) {
        AwsResult bad = *r;
        bad.ok = false;
        bad.code = "malformed";
        bad.message = "DownloadDBLogFilePortion answered without a DownloadDBLogFilePortionResult";
        bad.hint = NULL;
        p->cb(p->ud, NULL, &bad);
    } else
        p->cb(p->ud, o, r);
    json_decref(o);
    free(p);
}

void rds_download_log_portion(AwsClient *c, const char *instance_id, const char *file,
                              const char *marker, AwsJsonCb cb, void *ud)
{
    StrBuf params = STRBUF_INIT;
    aws_query_add(&params, "DBInstanceIdentifier", instance_id);
    aws_query_add(&params, "LogFileName", file);
    aws_query_add(&params, "Marker", marker ? marker : "0");
    Portion *p = xmalloc(sizeof *p);
    p->cb = cb;
    p->ud = ud;
    aws_call(c, &aws_rds, "DownloadDBLogFilePortion", params.data, portion_done, p);
    strbuf_free(&params);
}

char *rds_iam_token(const AwsCredentials *creds, const char *region, const char *host, int port,
                    const char *user, time_t now)
{
    char hostport[600];
    snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    StrBuf q = STRBUF_INIT;
    aws_query_add(&q, "Action", "connect");
    aws_query_add(&q, "DBUser", user);
    SigV4Header h[] = {{"Host", hostport}};
    SigV4Input in = {.method = "GET",
                     .path = "/",
                     .query = q.data,
                     .headers = h,
                     .nheaders = 1,
                     .access_key = creds->access_key,
                     .secret_key = creds->secret_key,
                     .session_token = creds->session_token,
                     .region = region,
                     .service = "rds-db",
                     .now = now,
                     .normalize_path = true,
                     .expires = 900};
    SigV4Output out;
    char *token = NULL;
    if (sigv4_presign(&in, &out))
        token = xasprintf("%s/?%s", hostport, out.query);
    sigv4_output_free(&out);
    strbuf_free(&q);
    return token;
}
