#include "aws/elasticache.h"

#include <stdlib.h>
#include <string.h>

#include "aws/awsxml.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"

static json_t *endpoint(const xmlNode *n)
{
    if (!n)
        return json_null();
    char *addr = awsxml_text(n, "Address");
    char *port = awsxml_text(n, "Port");
    json_t *o = addr ? json_pack("{s:s, s:I}", "address", addr, "port",
                                 (json_int_t)(port ? strtol(port, NULL, 10) : 6379))
                     : json_null();
    free(addr);
    free(port);
    return o;
}

static bool flag(const xmlNode *n, const char *name)
{
    char *s = awsxml_text(n, name);
    bool t = s && strcmp(s, "true") == 0;
    free(s);
    return t;
}

json_t *elasticache_parse_group(const xmlNode *n)
{
    char *id = awsxml_text(n, "ReplicationGroupId");
    char *status = awsxml_text(n, "Status");
    json_t *o = json_object();
    json_object_set_new(o, "id", jsonutil_string_or_null(id));
    json_object_set_new(o, "status", jsonutil_string_or_null(status));
    json_object_set_new(o, "cluster_enabled", json_boolean(flag(n, "ClusterEnabled")));
    json_object_set_new(o, "tls", json_boolean(flag(n, "TransitEncryptionEnabled")));
    json_object_set_new(o, "auth_token", json_boolean(flag(n, "AuthTokenEnabled")));
    xmlNode *ng = awsxml_path(n, "NodeGroups/NodeGroup");
    json_object_set_new(o, "primary_endpoint", endpoint(awsxml_child(ng, "PrimaryEndpoint")));
    json_object_set_new(o, "reader_endpoint", endpoint(awsxml_child(ng, "ReaderEndpoint")));
    json_object_set_new(o, "configuration_endpoint",
                        endpoint(awsxml_child(n, "ConfigurationEndpoint")));
    json_t *members = json_array();
    xmlNode *list = awsxml_child(n, "MemberClusters");
    for (xmlNode *m = list ? list->children : NULL; m; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        char *t = awsxml_text(m, "");
        json_array_append_new(members, json_string(t));
        free(t);
    }
    json_object_set_new(o, "members", members);
    free(id);
    free(status);
    return o;
}

void elasticache_describe_groups(AwsClient *c, const char *group_id, AwsJsonCb cb, void *ud)
{
    StrBuf params = STRBUF_INIT;
    if (group_id)
        aws_query_add(&params, "ReplicationGroupId", group_id);
    AwsPagedQuery q = {.svc = &aws_elasticache,
                       .action = "DescribeReplicationGroups",
                       .params = params.data,
                       .result_path = "DescribeReplicationGroupsResult",
                       .list_name = "ReplicationGroups",
                       .parse = elasticache_parse_group};
    aws_query_paged(c, &q, cb, ud);
    strbuf_free(&params);
}

char *elasticache_redis_url(const json_t *group)
{
    const json_t *ep = json_object_get(group, "configuration_endpoint");
    if (!json_is_object(ep))
        ep = json_object_get(group, "primary_endpoint");
    const char *addr = jsonutil_str(ep, "address");
    if (!addr)
        return NULL;
    bool tls = json_is_true(json_object_get(group, "tls"));
    return xasprintf("%s://%s:%lld/0", tls ? "rediss" : "redis", addr,
                     (long long)json_integer_value(json_object_get(ep, "port")));
}
