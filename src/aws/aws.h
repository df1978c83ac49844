/*
 * aws: signed calls to AWS services, asynchronous on the loop.
 *
 * One AwsClient holds the HTTP client, the credential chain, the region and
 * the endpoint of each service: AWS_ENDPOINT_URL_<SERVICE> (e.g.
 * AWS_ENDPOINT_URL_SECRETS_MANAGER), else AWS_ENDPOINT_URL, else
 * https://<service>.<region>.amazonaws.com. A call signs with SigV4, sends,
 * and turns the answer into an AwsResult: AWS error codes (AccessDenied,
 * ResourceNotFound, ExpiredToken, Throttling ...) get a message and a hint.
 * Throttling, 5xx and transport failures are retried with decorrelated
 * jitter inside a bounded budget (attempts and total time); ExpiredToken
 * makes the credentials be fetched again once.
 */
#ifndef PGFLEET_AWS_H
#define PGFLEET_AWS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libxml/tree.h>
#include <uv.h>

#include "aws/awscreds.h"
#include "common/strbuf.h"
#include "httpc/httpc.h"

typedef enum AwsProtocol { AWS_PROTO_QUERY, AWS_PROTO_JSON } AwsProtocol;

typedef struct AwsService {
    const char *signing_name; /* "secretsmanager", "rds", "elasticache", "sns", "identitystore" */
    const char *env_suffix;   /* AWS_ENDPOINT_URL_<suffix> */
    AwsProtocol protocol;
    const char *api_version; /* Query protocol: Version= */
    const char *json_target; /* JSON protocol: X-Amz-Target prefix */
} AwsService;

extern const AwsService aws_secretsmanager;
extern const AwsService aws_rds;
extern const AwsService aws_elasticache;
extern const AwsService aws_sns;
extern const AwsService aws_identitystore;

typedef struct AwsResult {
    bool ok;
    long http_status;    /* 0 when no answer */
    const char *code;    /* AWS error code, "transport", "credentials", "config"; NULL if ok */
    const char *message; /* NULL if ok */
    const char *hint;    /* NULL if ok or nothing to add */
    const char *body;    /* the response body (XML or JSON) */
    size_t body_len;
    const char *request_id;
    double latency_ms; /* all attempts */
    int attempts;
} AwsResult;

/* called once, from the loop; r is valid during the call */
typedef void (*AwsDoneCb)(void *ud, const AwsResult *r);

typedef struct AwsRetryPolicy {
    int max_attempts; /* default 4 */
    long base_ms;     /* default 100 */
    long cap_ms;      /* default 2000 */
    long budget_ms;   /* stop retrying past this total; default 15000 */
    long timeout_ms;  /* per attempt; default 5000 */
} AwsRetryPolicy;

typedef struct AwsClient AwsClient;

/* getenv_fn NULL: the process environment */
AwsClient *aws_client_new(uv_loop_t *loop, AwsGetenv getenv_fn, void *ud);
void aws_client_free(AwsClient *c);
void aws_client_set_retry(AwsClient *c, const AwsRetryPolicy *p);
/* MaxRecords of paginated calls (20-100; default 100) */
void aws_client_set_page_size(AwsClient *c, int n);

AwsCreds *aws_client_creds(AwsClient *c);
uv_loop_t *aws_client_loop(AwsClient *c);
Httpc *aws_client_http(AwsClient *c);
/* the region, or NULL when none is configured */
const char *aws_client_region(const AwsClient *c);
/* the endpoint URL a service is reached at (new string), NULL without region */
char *aws_client_endpoint(const AwsClient *c, const AwsService *svc);

/*
 * Calls action on svc. params: for the Query protocol, "Key=value&..."
 * already URL-encoded (Action and Version are added); for JSON, the request
 * object (NULL for {}). params is copied.
 */
void aws_call(AwsClient *c, const AwsService *svc, const char *action, const char *params,
              AwsDoneCb cb, void *ud);

/* "Key=value" with value form-encoded, appended to sb with '&' when needed */
void aws_query_add(StrBuf *sb, const char *key, const char *value);

/* result is borrowed (valid during the call); NULL when r->ok is false */
typedef void (*AwsJsonCb)(void *ud, const json_t *result, const AwsResult *r);
/* turns one list item of a Query-protocol answer into JSON (new reference) */
typedef json_t *(*AwsItemParser)(const xmlNode *item);

typedef struct AwsPagedQuery {
    const AwsService *svc;
    const char *action;
    const char *params;      /* extra "K=v&..." or NULL */
    const char *result_path; /* "DescribeDBInstancesResult" */
    const char *list_name;   /* "DBInstances" */
    AwsItemParser parse;
    int max_pages; /* safety stop; 0: 100 */
} AwsPagedQuery;

/*
 * Runs a paginated Query-protocol call (Marker/MaxRecords) to the end and
 * answers with one JSON array of every item. The AwsResult describes the last
 * page (attempts and latency add up over pages).
 */
void aws_query_paged(AwsClient *c, const AwsPagedQuery *q, AwsJsonCb cb, void *ud);

#endif
