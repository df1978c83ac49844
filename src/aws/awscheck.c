#include "aws/awscheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aws/elasticache.h"
#include "aws/rds.h"
#include "aws/secrets.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"

enum { CHECK_SM, CHECK_RDS, CHECK_EC, CHECK_COUNT };

typedef struct Check {
    AwsClient *c;
    json_t *report;
    json_t *checks[CHECK_COUNT];
    int pending;
    AwsCheckCb cb;
    void *ud;
} Check;

typedef struct CheckRef {
    Check *k;
    int idx;
} CheckRef;

static const char *const services[CHECK_COUNT] = {"secretsmanager", "rds", "elasticache"};
static const char *const actions[CHECK_COUNT] = {"ListSecrets", "DescribeDBInstances",
                                                 "DescribeReplicationGroups"};
static const char *const nouns[CHECK_COUNT] = {"secret", "db instance", "replication group"};

static void done_one(void *ud, const json_t *result, const AwsResult *r)
{
    CheckRef *ref = ud;
    Check *k = ref->k;
    int i = ref->idx;
    free(ref);
    json_t *o = json_pack("{s:s, s:s, s:b, s:f, s:i}", "service", services[i], "action", actions[i],
                          "ok", r->ok, "latency_ms", r->latency_ms, "attempts", r->attempts);
    if (r->ok) {
        size_t n = json_array_size(result);
        json_object_set_new(o, "count", json_integer((json_int_t)n));
        json_object_set_new(o, "summary", json_sprintf("%zu %s%s", n, nouns[i], n == 1 ? "" : "s"));
    } else {
        json_t *e = json_pack("{s:s, s:s}", "code", r->code ? r->code : "unknown", "message",
                              r->message ? r->message : "");
        json_object_set_new(e, "hint", jsonutil_string_or_null(r->hint));
        if (r->http_status)
            json_object_set_new(e, "http_status", json_integer(r->http_status));
        json_object_set_new(o, "error", e);
    }
    k->checks[i] = o;
    if (--k->pending > 0)
        return;

    bool all = true;
    json_t *arr = json_array();
    for (int j = 0; j < CHECK_COUNT; j++) {
        all = all && json_is_true(json_object_get(k->checks[j], "ok"));
        json_array_append_new(arr, k->checks[j]);
    }
    AwsCreds *creds = aws_client_creds(k->c);
    char masked[40];
    json_t *cred = json_object_get(k->report, "credentials");
    json_object_set_new(
        cred, "source",
        jsonutil_string_or_null(*awscreds_source(creds) ? awscreds_source(creds) : NULL));
    json_object_set_new(cred, "access_key_id",
                        jsonutil_string_or_null(
                            *awscreds_masked_key(creds, masked, sizeof masked) ? masked : NULL));
    json_object_set_new(k->report, "checks", arr);
    json_object_set_new(k->report, "ok", json_boolean(all));
    k->cb(k->ud, k->report);
    json_decref(k->report);
    free(k);
}

static CheckRef *ref(Check *k, int idx)
{
    CheckRef *r = xmalloc(sizeof *r);
    r->k = k;
    r->idx = idx;
    return r;
}

void awscheck_run(AwsClient *c, AwsCheckCb cb, void *ud)
{
    Check *k = xcalloc(1, sizeof *k);
    k->c = c;
    k->cb = cb;
    k->ud = ud;
    k->pending = CHECK_COUNT;
    json_t *endpoints = json_object();
    const AwsService *svcs[CHECK_COUNT] = {&aws_secretsmanager, &aws_rds, &aws_elasticache};
    for (int i = 0; i < CHECK_COUNT; i++) {
        char *ep = aws_client_endpoint(c, svcs[i]);
        json_object_set_new(endpoints, services[i], jsonutil_string_or_null(ep));
        free(ep);
    }
    k->report = json_pack("{s:b, s:o, s:o, s:{}}", "ok", 0, "region",
                          jsonutil_string_or_null(aws_client_region(c)), "endpoints", endpoints,
                          "credentials");
    secrets_list(c, done_one, ref(k, CHECK_SM));
    rds_describe_instances(c, NULL, done_one, ref(k, CHECK_RDS));
    elasticache_describe_groups(c, NULL, done_one, ref(k, CHECK_EC));
}
