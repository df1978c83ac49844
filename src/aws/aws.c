#include "aws/aws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/awsxml.h"
#include "aws/sigv4.h"
#include "common/backoff.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

const AwsService aws_secretsmanager = {"secretsmanager", "SECRETS_MANAGER", AWS_PROTO_JSON, NULL,
                                       "secretsmanager"};
const AwsService aws_rds = {"rds", "RDS", AWS_PROTO_QUERY, "2014-10-31", NULL};
const AwsService aws_elasticache = {"elasticache", "ELASTICACHE", AWS_PROTO_QUERY, "2015-02-02",
                                    NULL};
const AwsService aws_sns = {"sns", "SNS", AWS_PROTO_QUERY, "2010-03-31", NULL};
const AwsService aws_identitystore = {"identitystore", "IDENTITYSTORE", AWS_PROTO_JSON, NULL,
                                      "AWSIdentityStore"};

struct AwsCall;
static void finish(struct AwsCall *k, bool ok);

struct AwsClient {
    uv_loop_t *loop;
    Httpc *http;
    AwsCreds *creds;
    AwsGetenv getenv_fn;
    void *getenv_ud;
    char *region;
    AwsRetryPolicy retry;
    int page_size;
    int calls; /* in flight */
    struct AwsCall *head;
    bool closing;
};

typedef struct AwsCall {
    AwsClient *c;
    const AwsService *svc;
    char *action;
    char *params;
    AwsDoneCb cb;
    void *ud;
    int attempts;
    bool refreshed_creds;
    uint64_t started_ns;
    Backoff backoff;
    uv_timer_t retry_timer;
    bool timer_used;
    /* the last outcome, for the final callback */
    char *code;
    char *message;
    char *body;
    size_t body_len;
    char *request_id;
    long status;
    bool waiting_retry;
    struct AwsCall *prev, *next;
} AwsCall;

static const char *env(const AwsClient *c, const char *name)
{
    const char *v = c->getenv_fn ? c->getenv_fn(name, c->getenv_ud) : getenv(name);
    return v && *v ? v : NULL;
}

AwsClient *aws_client_new(uv_loop_t *loop, AwsGetenv getenv_fn, void *ud)
{
    AwsClient *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->getenv_fn = getenv_fn;
    c->getenv_ud = ud;
    c->http = httpc_new(loop);
    c->creds = awscreds_new(loop, c->http, getenv_fn, ud);
    c->region = awscreds_region(c->creds);
    c->page_size = 100;
    c->retry = (AwsRetryPolicy){
        .max_attempts = 4, .base_ms = 100, .cap_ms = 2000, .budget_ms = 15000, .timeout_ms = 5000};
    return c;
}

void aws_client_free(AwsClient *c)
{
    if (!c)
        return;
    c->closing = true;
    /* calls sleeping before a retry end now; the others end through the two frees below */
    AwsCall *k = c->head;
    while (k) {
        AwsCall *next = k->next;
        if (k->waiting_retry) {
            uv_timer_stop(&k->retry_timer);
            k->waiting_retry = false;
            free(k->code);
            free(k->message);
            k->code = xstrdup("cancelled");
            k->message = xstrdup("shutting down");
            finish(k, false);
        }
        k = next;
    }
    awscreds_free(c->creds);
    httpc_free(c->http); /* in-flight calls finish with "cancelled" */
    free(c->region);
    free(c);
}

void aws_client_set_retry(AwsClient *c, const AwsRetryPolicy *p)
{
    c->retry = *p;
}

void aws_client_set_page_size(AwsClient *c, int n)
{
    c->page_size = n < 20 ? 20 : n > 100 ? 100 : n;
}

AwsCreds *aws_client_creds(AwsClient *c)
{
    return c->creds;
}

uv_loop_t *aws_client_loop(AwsClient *c)
{
    return c->loop;
}

Httpc *aws_client_http(AwsClient *c)
{
    return c->http;
}

const char *aws_client_region(const AwsClient *c)
{
    return c->region;
}

char *aws_client_endpoint(const AwsClient *c, const AwsService *svc)
{
    char var[64];
    snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", svc->env_suffix);
    const char *e = env(c, var);
    if (!e)
        e = env(c, "AWS_ENDPOINT_URL");
    if (e) {
        char *s = xstrdup(e);
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
            s[--n] = '\0';
        return s;
    }
    if (!c->region)
        return NULL;
    return xasprintf("https://%s.%s.amazonaws.com", svc->signing_name, c->region);
}

void aws_query_add(StrBuf *sb, const char *key, const char *value)
{
    char *k = sigv4_uri_encode(key, strlen(key), false);
    char *v = sigv4_uri_encode(value, strlen(value), false);
    strbuf_printf(sb, "%s%s=%s", sb->len ? "&" : "", k, v);
    free(k);
    free(v);
}

/* ---- errors ---- */

static bool retryable(const char *code, long status)
{
    static const char *const codes[] = {"Throttling",
                                        "ThrottlingException",
                                        "ThrottledException",
                                        "RequestThrottledException",
                                        "TooManyRequestsException",
                                        "ProvisionedThroughputExceededException",
                                        "TransactionInProgressException",
                                        "RequestLimitExceeded",
                                        "BandwidthLimitExceeded",
                                        "LimitExceededException",
                                        "RequestThrottled",
                                        "SlowDown",
                                        "PriorRequestNotComplete",
                                        "EC2ThrottledException",
                                        "RequestTimeout",
                                        "RequestTimeoutException",
                                        "InternalError",
                                        "InternalFailure",
                                        "ServiceUnavailable",
                                        "transport",
                                        NULL};
    if (status >= 500 || status == 429)
        return true;
    for (const char *const *c = codes; code && *c; c++)
        if (strcmp(code, *c) == 0)
            return true;
    return false;
}

static bool expired_token(const char *code)
{
    return code &&
           (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0 ||
            strcmp(code, "RequestExpired") == 0);
}

static const char *hint_for(const AwsCall *k, const char *code, char *buf, size_t len)
{
    AwsClient *c = k->c;
    if (!code)
        return NULL;
    if (strcmp(code, "transport") == 0) {
        char *ep = aws_client_endpoint(c, k->svc);
        snprintf(buf, len, "could not reach %s; check the network and AWS_ENDPOINT_URL%s",
                 ep ? ep : "the endpoint", env(c, "AWS_ENDPOINT_URL") ? "" : " (unset)");
        free(ep);
        return buf;
    }
    if (strcmp(code, "credentials") == 0)
        return "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an ECS "
               "task role or EC2 instance role";
    if (strcmp(code, "config") == 0)
        return "set AWS_REGION (or AWS_DEFAULT_REGION)";
    if (strstr(code, "AccessDenied") || strcmp(code, "UnrecognizedClientException") == 0 ||
        strcmp(code, "InvalidClientTokenId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0 ||
        strcmp(code, "AuthFailure") == 0 || strcmp(code, "IncompleteSignature") == 0 ||
        strcmp(code, "MissingAuthenticationToken") == 0) {
        snprintf(buf, len, "check the credentials (from %s) and that their IAM policy allows %s:%s",
                 awscreds_source(c->creds)[0] ? awscreds_source(c->creds) : "the chain",
                 k->svc->signing_name, k->action);
        return buf;
    }
    if (expired_token(code))
        return "the credentials expired and fetching new ones did not help; renew the session "
               "(AWS_SESSION_TOKEN) or the role";
    if (strstr(code, "NotFound") || strstr(code, "NoSuch")) {
        snprintf(buf, len, "check the name or ARN, and the region (%s)",
                 c->region ? c->region : "unset");
        return buf;
    }
    if (retryable(code, 0)) {
        snprintf(buf, len,
                 "AWS kept refusing after %d attempts; try again later or raise the "
                 "service quota",
                 k->attempts);
        return buf;
    }
    return NULL;
}

/* fills code/message from an error body of either protocol */
static void parse_error(AwsCall *k, const HttpcResponse *r)
{
    free(k->code);
    free(k->message);
    k->code = k->message = NULL;
    /* by the body, not the protocol: auth errors come as XML even from JSON services */
    const char *p = r->body;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    if (*p == '{') {
        char err[64];
        json_t *j = jsonutil_parse(r->body, r->body_len, err, sizeof err);
        const char *type = j ? jsonutil_str(j, "__type") : NULL;
        if (!type && j)
            type = jsonutil_str(j, "code");
        const char *msg = j ? jsonutil_str(j, "Message") : NULL;
        if (!msg && j)
            msg = jsonutil_str(j, "message");
        if (type) {
            const char *hash = strrchr(type, '#');
            k->code = xstrdup(hash ? hash + 1 : type);
        }
        if (msg)
            k->message = xstrdup(msg);
        json_decref(j);
    } else if (*p == '<') {
        xmlDoc *doc = awsxml_parse(r->body, r->body_len);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        xmlNode *e = root ? awsxml_child(root, "Error") : NULL;
        if (!e && root && strcmp((const char *)root->name, "Error") == 0)
            e = root;
        if (!e && root)
            e = awsxml_path(root, "Errors/Error");
        if (e) {
            k->code = awsxml_text(e, "Code");
            k->message = awsxml_text(e, "Message");
        }
        if (doc)
            xmlFreeDoc(doc);
    }
    if (!k->code)
        k->code = xasprintf("HTTP%ld", r->status);
    if (!k->message)
        k->message = xasprintf("HTTP %ld from %s", r->status, k->svc->signing_name);
}

/* ---- the call ---- */

static void attempt(AwsCall *k);

static void call_free(AwsCall *k)
{
    free(k->action);
    free(k->params);
    free(k->code);
    free(k->message);
    free(k->body);
    free(k->request_id);
    free(k);
}

static void timer_closed(uv_handle_t *h)
{
    call_free(h->data);
}

static void finish(AwsCall *k, bool ok)
{
    char hintbuf[512];
    AwsResult r = {
        .ok = ok,
        .http_status = k->status,
        .code = ok ? NULL : k->code,
        .message = ok ? NULL : k->message,
        .hint = ok ? NULL : hint_for(k, k->code, hintbuf, sizeof hintbuf),
        .body = k->body ? k->body : "",
        .body_len = k->body_len,
        .request_id = k->request_id,
        .latency_ms = (double)(uv_hrtime() - k->started_ns) / 1e6,
        .attempts = k->attempts,
    };
    if (!ok)
        log_event(LOG_WARN, NULL,
                  json_pack("{s:s, s:s, s:s, s:I, s:i}", "service", k->svc->signing_name, "action",
                            k->action, "code", k->code ? k->code : "", "status",
                            (json_int_t)k->status, "attempts", k->attempts),
                  "aws %s %s failed: %s", k->svc->signing_name, k->action,
                  k->message ? k->message : "");
    AwsClient *c = k->c;
    c->calls--;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->cb(k->ud, &r);
    if (k->timer_used)
        uv_close((uv_handle_t *)&k->retry_timer, timer_closed);
    else
        call_free(k);
}

static void retry_cb(uv_timer_t *t)
{
    AwsCall *k = t->data;
    k->waiting_retry = false;
    attempt(k);
}

/* schedules another attempt when the policy allows; false when it does not */
static bool maybe_retry(AwsCall *k)
{
    AwsRetryPolicy *p = &k->c->retry;
    if (k->c->closing || k->attempts >= p->max_attempts)
        return false;
    uint64_t delay = backoff_next(&k->backoff);
    double spent = (double)(uv_hrtime() - k->started_ns) / 1e6;
    if (spent + (double)delay + (double)p->timeout_ms > (double)p->budget_ms)
        return false;
    log_event(LOG_DEBUG, NULL, NULL, "aws %s %s: %s; retry %d in %llu ms", k->svc->signing_name,
              k->action, k->code ? k->code : "?", k->attempts + 1, (unsigned long long)delay);
    if (!k->timer_used) {
        uv_timer_init(k->c->loop, &k->retry_timer);
        k->retry_timer.data = k;
        k->timer_used = true;
    }
    k->waiting_retry = true;
    uv_timer_start(&k->retry_timer, retry_cb, delay, 0);
    return true;
}

static void http_done(void *ud, const HttpcResponse *r)
{
    AwsCall *k = ud;
    k->status = r->status;
    free(k->body);
    k->body = xstrndup(r->body, r->body_len);
    k->body_len = r->body_len;
    free(k->request_id);
    k->request_id = r->request_id ? xstrdup(r->request_id) : NULL;
    if (r->curl_code) {
        free(k->code);
        free(k->message);
        k->code = xstrdup(strcmp(r->error, "cancelled") == 0 ? "cancelled" : "transport");
        k->message = xasprintf("%s %s: %s", k->svc->signing_name, k->action, r->error);
        if (strcmp(k->code, "transport") == 0 && maybe_retry(k))
            return;
        finish(k, false);
        return;
    }
    if (r->status >= 200 && r->status < 300) {
        finish(k, true);
        return;
    }
    parse_error(k, r);
    if (expired_token(k->code) && !k->refreshed_creds) {
        k->refreshed_creds = true;
        awscreds_invalidate(k->c->creds);
        attempt(k);
        return;
    }
    if (retryable(k->code, r->status) && maybe_retry(k))
        return;
    finish(k, false);
}

/* host[:port] and path of an endpoint URL */
static bool split_url(const char *url, char *host, size_t hostlen, const char **path)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= hostlen)
        return false;
    memcpy(host, p, n);
    host[n] = '\0';
    *path = p[n] ? p + n : "/";
    return true;
}

static void creds_ready(void *ud, const AwsCredentials *creds, const char *error)
{
    AwsCall *k = ud;
    if (!creds) {
        free(k->code);
        free(k->message);
        k->code = xstrdup("credentials");
        k->message = xstrdup(error);
        finish(k, false);
        return;
    }
    char *endpoint = aws_client_endpoint(k->c, k->svc);
    char host[512];
    const char *path;
    if (!endpoint || !split_url(endpoint, host, sizeof host, &path)) {
        free(k->code);
        free(k->message);
        k->code = xstrdup("config");
        k->message = endpoint ? xasprintf("bad endpoint URL '%s'", endpoint)
                              : xstrdup("no AWS region configured");
        free(endpoint);
        finish(k, false);
        return;
    }
    StrBuf body = STRBUF_INIT;
    char *target = NULL;
    const char *ctype;
    if (k->svc->protocol == AWS_PROTO_QUERY) {
        aws_query_add(&body, "Action", k->action);
        aws_query_add(&body, "Version", k->svc->api_version);
        if (k->params && *k->params)
            strbuf_printf(&body, "&%s", k->params);
        ctype = "application/x-www-form-urlencoded; charset=utf-8";
    } else {
        strbuf_puts(&body, k->params && *k->params ? k->params : "{}");
        target = xasprintf("%s.%s", k->svc->json_target, k->action);
        ctype = "application/x-amz-json-1.1";
    }
    SigV4Header sh[3] = {{"Host", host}, {"Content-Type", ctype}, {"X-Amz-Target", target}};
    SigV4Input in = {.method = "POST",
                     .path = path,
                     .headers = sh,
                     .nheaders = target ? 3 : 2,
                     .payload = body.data,
                     .payload_len = body.len,
                     .access_key = creds->access_key,
                     .secret_key = creds->secret_key,
                     .session_token = creds->session_token,
                     .region = k->c->region,
                     .service = k->svc->signing_name,
                     .now = time(NULL),
                     .normalize_path = true};
    SigV4Output out;
    if (!sigv4_sign_headers(&in, &out)) {
        free(k->code);
        free(k->message);
        k->code = xstrdup("config");
        k->message = xstrdup("could not sign the request");
        strbuf_free(&body);
        free(target);
        free(endpoint);
        finish(k, false);
        return;
    }
    char *h_ctype = xasprintf("Content-Type: %s", ctype);
    char *h_date = xasprintf("X-Amz-Date: %s", out.amz_date);
    char *h_auth = xasprintf("Authorization: %s", out.authorization);
    char *h_token =
        out.security_token ? xasprintf("X-Amz-Security-Token: %s", out.security_token) : NULL;
    char *h_target = target ? xasprintf("X-Amz-Target: %s", target) : NULL;
    const char *headers[6] = {h_ctype, h_date, h_auth, NULL, NULL, NULL};
    int nh = 3;
    if (h_token)
        headers[nh++] = h_token;
    if (h_target)
        headers[nh++] = h_target;
    HttpcRequest req = {.method = "POST",
                        .url = endpoint,
                        .headers = headers,
                        .body = body.data,
                        .body_len = body.len,
                        .timeout_ms = k->c->retry.timeout_ms,
                        .connect_timeout_ms = 3000};
    if (!httpc_send(k->c->http, &req, http_done, k)) {
        free(k->code);
        free(k->message);
        k->code = xstrdup("cancelled");
        k->message = xstrdup("shutting down");
        finish(k, false);
    }
    sigv4_output_free(&out);
    free(h_ctype);
    free(h_date);
    free(h_auth);
    free(h_token);
    free(h_target);
    free(target);
    free(endpoint);
    strbuf_free(&body);
}

static void attempt(AwsCall *k)
{
    k->attempts++;
    awscreds_get(k->c->creds, creds_ready, k);
}

void aws_call(AwsClient *c, const AwsService *svc, const char *action, const char *params,
              AwsDoneCb cb, void *ud)
{
    AwsCall *k = xcalloc(1, sizeof *k);
    k->c = c;
    k->svc = svc;
    k->action = xstrdup(action);
    k->params = params ? xstrdup(params) : NULL;
    k->cb = cb;
    k->ud = ud;
    k->started_ns = uv_hrtime();
    backoff_init(&k->backoff, (uint64_t)c->retry.base_ms, (uint64_t)c->retry.cap_ms);
    c->calls++;
    k->next = c->head;
    if (c->head)
        c->head->prev = k;
    c->head = k;
    attempt(k);
}

/* ---- paginated Query-protocol calls ---- */

typedef struct Paged {
    AwsClient *c;
    AwsPagedQuery q;
    char *params;
    char *marker;
    json_t *items;
    int pages;
    int attempts;
    double latency_ms;
    AwsJsonCb cb;
    void *ud;
} Paged;

static void paged_next(Paged *p);

static void paged_done(void *ud, const AwsResult *r)
{
    Paged *p = ud;
    p->pages++;
    p->attempts += r->attempts;
    p->latency_ms += r->latency_ms;
    AwsResult total = *r;
    total.attempts = p->attempts;
    total.latency_ms = p->latency_ms;
    if (!r->ok) {
        p->cb(p->ud, NULL, &total);
        goto out;
    }
    xmlDoc *doc = awsxml_parse(r->body, r->body_len);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNode *result = root ? awsxml_child(root, p->q.result_path) : NULL;
    if (!result) {
        total.ok = false;
        total.code = "InvalidResponse";
        total.message = "the answer is not the XML document expected";
        total.hint = "check that AWS_ENDPOINT_URL points at AWS or an emulator of it";
        p->cb(p->ud, NULL, &total);
        if (doc)
            xmlFreeDoc(doc);
        goto out;
    }
    xmlNode *list = awsxml_child(result, p->q.list_name);
    for (xmlNode *it = list ? list->children : NULL; it; it = it->next)
        if (it->type == XML_ELEMENT_NODE)
            json_array_append_new(p->items, p->q.parse(it));
    free(p->marker);
    p->marker = awsxml_text(result, "Marker");
    xmlFreeDoc(doc);
    int max_pages = p->q.max_pages > 0 ? p->q.max_pages : 100;
    if (p->marker && *p->marker && p->pages < max_pages) {
        paged_next(p);
        return;
    }
    p->cb(p->ud, p->items, &total);
out:
    json_decref(p->items);
    free(p->params);
    free(p->marker);
    free(p);
}

static void paged_next(Paged *p)
{
    StrBuf b = STRBUF_INIT;
    if (p->params)
        strbuf_puts(&b, p->params);
    char n[16];
    snprintf(n, sizeof n, "%d", p->c->page_size);
    aws_query_add(&b, "MaxRecords", n);
    if (p->marker && *p->marker)
        aws_query_add(&b, "Marker", p->marker);
    aws_call(p->c, p->q.svc, p->q.action, b.data, paged_done, p);
    strbuf_free(&b);
}

void aws_query_paged(AwsClient *c, const AwsPagedQuery *q, AwsJsonCb cb, void *ud)
{
    Paged *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->q = *q;
    p->params = q->params ? xstrdup(q->params) : NULL;
    p->items = json_array();
    p->cb = cb;
    p->ud = ud;
    paged_next(p);
}
