/*
 * awstool: drives pgfleet's AWS library for the integration tests. Reads one
 * command per line on stdin, runs it on a libuv loop, prints one JSON line.
 * State (credential cache, secrets cache) persists across commands, so tests
 * can read a secret, rotate it, wait, and read it again.
 *
 *   get ID | invalidate ID | list | instances [ID] | clusters [ID] | groups [ID]
 *   publish TOPIC MESSAGE | creds | endpoint SERVICE | call SERVICE ACTION [PARAMS]
 *   token HOST PORT USER EPOCH | sign {json} | quit
 *
 * Env: AWSTOOL_TTL (secrets cache seconds), AWSTOOL_MAX_ATTEMPTS,
 * AWSTOOL_BUDGET_MS, AWSTOOL_TIMEOUT_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include "aws/elasticache.h"
#include "aws/rds.h"
#include "aws/secrets.h"
#include "aws/sigv4.h"
#include "aws/sns.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"

static uv_loop_t loop;
static AwsClient *client;
static SecretsCache *cache;
static json_t *out;
static bool done;

static void emit(json_t *o)
{
    char *s = jsonutil_dumps(o);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static json_t *error_json(const AwsResult *r)
{
    json_t *o = json_pack("{s:b, s:s, s:s, s:i, s:I}", "ok", 0, "code", r->code ? r->code : "",
                          "message", r->message ? r->message : "", "attempts", r->attempts,
                          "http_status", (json_int_t)r->http_status);
    json_object_set_new(o, "hint", jsonutil_string_or_null(r->hint));
    return o;
}

static void json_done(void *ud, const json_t *result, const AwsResult *r)
{
    (void)ud;
    if (!r->ok) {
        out = error_json(r);
    } else {
        out = json_pack("{s:b, s:O, s:i}", "ok", 1, "result", result, "attempts", r->attempts);
    }
    done = true;
}

static void raw_done(void *ud, const AwsResult *r)
{
    (void)ud;
    out = r->ok ? json_pack("{s:b, s:i, s:s%}", "ok", 1, "attempts", r->attempts, "body", r->body,
                            r->body_len)
                : error_json(r);
    done = true;
}

static void creds_done(void *ud, const AwsCredentials *c, const char *error)
{
    (void)ud;
    if (!c) {
        out = json_pack("{s:b, s:s}", "ok", 0, "error", error);
    } else {
        char sk[65];
        sigv4_sha256_hex(c->secret_key, strlen(c->secret_key), sk);
        out = json_pack("{s:b, s:s, s:s, s:s, s:b, s:I}", "ok", 1, "source", c->source,
                        "access_key_id", c->access_key, "secret_sha256", sk, "has_token",
                        c->session_token != NULL, "expiration", (json_int_t)c->expiration);
    }
    done = true;
}

typedef struct TokenReq {
    const char *host, *user;
    int port;
    time_t when;
} TokenReq;

static void token_creds(void *ud, const AwsCredentials *c, const char *error)
{
    TokenReq *t = ud;
    if (!c) {
        out = json_pack("{s:b, s:s}", "ok", 0, "error", error);
    } else {
        char *tok = rds_iam_token(c, aws_client_region(client), t->host, t->port, t->user, t->when);
        out = json_pack("{s:b, s:s}", "ok", 1, "token", tok);
        free(tok);
    }
    done = true;
}

static const AwsService *service(const char *name)
{
    if (strcmp(name, "secretsmanager") == 0)
        return &aws_secretsmanager;
    if (strcmp(name, "rds") == 0)
        return &aws_rds;
    if (strcmp(name, "elasticache") == 0)
        return &aws_elasticache;
    if (strcmp(name, "sns") == 0)
        return &aws_sns;
    return NULL;
}

static void run_until_done(void)
{
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
}

static void sign(const char *text)
{
    char err[128];
    json_t *j = jsonutil_parse(text, strlen(text), err, sizeof err);
    if (!j) {
        emit(json_pack("{s:b, s:s}", "ok", 0, "error", err));
        return;
    }
    SigV4Header hs[32];
    size_t nh = 0;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(j, "headers"), i, h)
    {
        if (nh < 32) {
            hs[nh].name = json_string_value(json_array_get(h, 0));
            hs[nh].value = json_string_value(json_array_get(h, 1));
            nh++;
        }
    }
    const char *body = jsonutil_str(j, "body");
    SigV4Input in = {.method = jsonutil_str(j, "method"),
                     .path = jsonutil_str(j, "path"),
                     .query = jsonutil_str(j, "query"),
                     .headers = hs,
                     .nheaders = nh,
                     .payload = body,
                     .payload_len = body ? strlen(body) : 0,
                     .access_key = jsonutil_str(j, "access_key"),
                     .secret_key = jsonutil_str(j, "secret_key"),
                     .session_token = jsonutil_str(j, "token"),
                     .region = jsonutil_str(j, "region"),
                     .service = jsonutil_str(j, "service"),
                     .now = (time_t)json_integer_value(json_object_get(j, "time")),
                     .normalize_path = true,
                     .expires = (long)json_integer_value(json_object_get(j, "expires"))};
    SigV4Output o;
    bool presign = in.expires > 0;
    if (!(presign ? sigv4_presign(&in, &o) : sigv4_sign_headers(&in, &o))) {
        emit(json_pack("{s:b, s:s}", "ok", 0, "error", "bad input"));
    } else {
        json_t *r = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "signature", o.signature,
                              "canonical_request", o.canonical_request, "string_to_sign",
                              o.string_to_sign);
        if (o.authorization)
            json_object_set_new(r, "authorization", json_string(o.authorization));
        if (o.query)
            json_object_set_new(r, "query", json_string(o.query));
        emit(r);
    }
    sigv4_output_free(&o);
    json_decref(j);
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    log_setup(getenv("AWSTOOL_LOG") ? LOG_DEBUG : LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_init(&loop);
    client = aws_client_new(&loop, NULL, NULL);
    AwsRetryPolicy p = {.max_attempts = (int)env_long("AWSTOOL_MAX_ATTEMPTS", 4),
                        .base_ms = 20,
                        .cap_ms = 200,
                        .budget_ms = env_long("AWSTOOL_BUDGET_MS", 10000),
                        .timeout_ms = env_long("AWSTOOL_TIMEOUT_MS", 3000)};
    aws_client_set_retry(client, &p);
    aws_client_set_page_size(client, (int)env_long("AWSTOOL_PAGE_SIZE", 100));
    cache = secrets_new(client, env_long("AWSTOOL_TTL", 300));

    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *cmd = line;
        char *arg = strchr(line, ' ');
        if (arg)
            *arg++ = '\0';
        done = false;
        out = NULL;
        if (strcmp(cmd, "quit") == 0)
            break;
        if (strcmp(cmd, "get") == 0 && arg) {
            secrets_get(cache, arg, json_done, NULL);
        } else if (strcmp(cmd, "invalidate") == 0 && arg) {
            secrets_invalidate(cache, arg);
            emit(json_pack("{s:b}", "ok", 1));
            continue;
        } else if (strcmp(cmd, "list") == 0) {
            secrets_list(client, json_done, NULL);
        } else if (strcmp(cmd, "create") == 0 && arg && strchr(arg, ' ')) {
            char *v = strchr(arg, ' ');
            *v++ = '\0';
            secrets_create(client, arg, v, json_done, NULL);
        } else if (strcmp(cmd, "instances") == 0) {
            rds_describe_instances(client, arg, json_done, NULL);
        } else if (strcmp(cmd, "clusters") == 0) {
            rds_describe_clusters(client, arg, json_done, NULL);
        } else if (strcmp(cmd, "groups") == 0) {
            elasticache_describe_groups(client, arg, json_done, NULL);
        } else if (strcmp(cmd, "publish") == 0 && arg && strchr(arg, ' ')) {
            char *msg = strchr(arg, ' ');
            *msg++ = '\0';
            sns_publish(client, arg, "pgfleet test", msg, json_done, NULL);
        } else if (strcmp(cmd, "creds") == 0) {
            awscreds_get(aws_client_creds(client), creds_done, NULL);
        } else if (strcmp(cmd, "endpoint") == 0 && arg && service(arg)) {
            char *ep = aws_client_endpoint(client, service(arg));
            emit(json_pack("{s:b, s:o}", "ok", 1, "endpoint", jsonutil_string_or_null(ep)));
            free(ep);
            continue;
        } else if (strcmp(cmd, "call") == 0 && arg) {
            char *action = strchr(arg, ' ');
            if (action)
                *action++ = '\0';
            char *params = action ? strchr(action, ' ') : NULL;
            if (params)
                *params++ = '\0';
            if (!service(arg) || !action) {
                emit(json_pack("{s:b, s:s}", "ok", 0, "error", "usage: call SERVICE ACTION"));
                continue;
            }
            aws_call(client, service(arg), action, params, raw_done, NULL);
        } else if (strcmp(cmd, "token") == 0 && arg) {
            char host[256], user[128];
            int port;
            long long when;
            if (sscanf(arg, "%255s %d %127s %lld", host, &port, user, &when) != 4) {
                emit(json_pack("{s:b, s:s}", "ok", 0, "error", "usage: token HOST PORT USER EPOCH"));
                continue;
            }
            TokenReq t = {.host = host, .port = port, .user = user, .when = (time_t)when};
            awscreds_get(aws_client_creds(client), token_creds, &t);
            run_until_done();
            emit(out);
            continue;
        } else if (strcmp(cmd, "sign") == 0 && arg) {
            sign(arg);
            continue;
        } else {
            emit(json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command"));
            continue;
        }
        run_until_done();
        emit(out);
    }
    secrets_free(cache);
    aws_client_free(client);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
