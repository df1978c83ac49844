#include "aws/awscreds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#define REFRESH_BEFORE_S 300
#define ECS_HOST         "http://169.254.170.2"
#define IMDS_DEFAULT     "http://169.254.169.254"

typedef struct Waiter {
    AwsCredsCb cb;
    void *ud;
    struct Waiter *next;
} Waiter;

typedef enum ImdsStep { IMDS_TOKEN, IMDS_ROLE, IMDS_CREDS } ImdsStep;

struct AwsCreds {
    uv_loop_t *loop;
    Httpc *http;
    AwsGetenv getenv_fn;
    void *getenv_ud;
    AwsCredentials cur;
    bool have;
    bool fetching;
    Waiter *waiters, *waiters_tail;
    uv_timer_t flush; /* delivers cached credentials outside the caller's stack */
    bool closing;
    int holds; /* requests in flight that point at this */
    bool flush_closed;
    /* the chain walk in progress */
    StrBuf tried;
    ImdsStep imds_step;
    char *imds_base;
    char *imds_token;
    char *imds_role;
};

static const char *env(AwsCreds *c, const char *name)
{
    const char *v = c->getenv_fn ? c->getenv_fn(name, c->getenv_ud) : getenv(name);
    return v && *v ? v : NULL;
}

static void creds_clear(AwsCredentials *k)
{
    if (k->secret_key)
        sodium_memzero(k->secret_key, strlen(k->secret_key));
    if (k->session_token)
        sodium_memzero(k->session_token, strlen(k->session_token));
    free(k->access_key);
    free(k->secret_key);
    free(k->session_token);
    memset(k, 0, sizeof *k);
}

time_t awscreds_parse_time(const char *iso)
{
    if (!iso)
        return 0;
    struct tm tm = {0};
    const char *rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    return timegm(&tm);
}

/* ---- shared credentials / config files ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

char *awscreds_ini_get(const char *path, const char *section, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096];
    bool in = false;
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        char *l = trim(line);
        if (*l == '#' || *l == ';' || !*l)
            continue;
        if (*l == '[') {
            char *close = strchr(l, ']');
            if (close) {
                *close = '\0';
                in = strcmp(trim(l + 1), section) == 0;
            }
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (strcmp(trim(l), key) == 0)
            found = xstrdup(trim(eq + 1));
    }
    fclose(f);
    return found;
}

static char *home_file(AwsCreds *c, const char *var, const char *rel)
{
    const char *p = env(c, var);
    if (p)
        return xstrdup(p);
    const char *home = env(c, "HOME");
    return xasprintf("%s/%s", home ? home : "", rel);
}

static const char *profile_name(AwsCreds *c)
{
    const char *p = env(c, "AWS_PROFILE");
    return p ? p : "default";
}

static bool from_profile(AwsCreds *c, AwsCredentials *out)
{
    const char *prof = profile_name(c);
    char *cred_file = home_file(c, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    char *conf_file = home_file(c, "AWS_CONFIG_FILE", ".aws/config");
    char *conf_section =
        strcmp(prof, "default") == 0 ? xstrdup("default") : xasprintf("profile %s", prof);
    bool ok = false;
    const char *files[2] = {cred_file, conf_file};
    const char *sections[2] = {prof, conf_section};
    for (int i = 0; i < 2 && !ok; i++) {
        char *ak = awscreds_ini_get(files[i], sections[i], "aws_access_key_id");
        char *sk = awscreds_ini_get(files[i], sections[i], "aws_secret_access_key");
        if (ak && sk) {
            out->access_key = ak;
            out->secret_key = sk;
            out->session_token = awscreds_ini_get(files[i], sections[i], "aws_session_token");
            snprintf(out->source, sizeof out->source, "profile %s (%s)", prof, files[i]);
            ok = true;
        } else {
            free(ak);
            free(sk);
        }
    }
    if (!ok)
        strbuf_printf(&c->tried, "; profile '%s' in %s and %s: no keys", prof, cred_file,
                      conf_file);
    free(cred_file);
    free(conf_file);
    free(conf_section);
    return ok;
}

char *awscreds_region(AwsCreds *c)
{
    const char *r = env(c, "AWS_REGION");
    if (!r)
        r = env(c, "AWS_DEFAULT_REGION");
    if (r)
        return xstrdup(r);
    const char *prof = profile_name(c);
    char *conf_file = home_file(c, "AWS_CONFIG_FILE", ".aws/config");
    char *section =
        strcmp(prof, "default") == 0 ? xstrdup("default") : xasprintf("profile %s", prof);
    char *region = awscreds_ini_get(conf_file, section, "region");
    free(conf_file);
    free(section);
    return region;
}

/* ---- delivering results ---- */

static void flush_cb(uv_timer_t *t);

static void deliver(AwsCreds *c, const char *error)
{
    Waiter *w = c->waiters;
    c->waiters = c->waiters_tail = NULL;
    while (w) {
        Waiter *next = w->next;
        w->cb(w->ud, error ? NULL : &c->cur, error);
        free(w);
        w = next;
    }
}

static bool fresh(const AwsCreds *c)
{
    return c->have && (c->cur.expiration == 0 || c->cur.expiration - time(NULL) > REFRESH_BEFORE_S);
}

static void chain_done(AwsCreds *c, AwsCredentials *got, const char *error)
{
    c->fetching = false;
    if (got) {
        bool changed = !c->have || strcmp(c->cur.source, got->source) != 0;
        creds_clear(&c->cur);
        c->cur = *got;
        c->have = true;
        if (changed) {
            char masked[32];
            log_info("aws credentials from %s (access key %s)", c->cur.source,
                     awscreds_masked_key(c, masked, sizeof masked));
        }
        deliver(c, NULL);
        return;
    }
    if (c->have && (c->cur.expiration == 0 || c->cur.expiration > time(NULL))) {
        log_warn("could not refresh aws credentials (%s); using the current ones until they "
                 "expire",
                 error);
        deliver(c, NULL);
        return;
    }
    deliver(c, error);
}

/* ---- ECS and IMDS (asynchronous) ---- */

static void imds_next(AwsCreds *c, const HttpcResponse *r);
static void start_imds(AwsCreds *c);

static bool creds_from_json(const char *body, size_t len, AwsCredentials *out, char *err,
                            size_t errlen)
{
    char perr[128];
    json_t *j = jsonutil_parse(body, len, perr, sizeof perr);
    if (!j) {
        snprintf(err, errlen, "answer is not JSON (%s)", perr);
        return false;
    }
    const char *ak = jsonutil_str(j, "AccessKeyId");
    const char *sk = jsonutil_str(j, "SecretAccessKey");
    const char *tok = jsonutil_str(j, "Token");
    const char *exp = jsonutil_str(j, "Expiration");
    const char *code = jsonutil_str(j, "Code");
    bool ok = ak && sk && (!code || strcmp(code, "Success") == 0);
    if (ok) {
        out->access_key = xstrdup(ak);
        out->secret_key = xstrdup(sk);
        out->session_token = tok ? xstrdup(tok) : NULL;
        out->expiration = awscreds_parse_time(exp);
    } else {
        snprintf(err, errlen, "answer lacks AccessKeyId/SecretAccessKey%s%s", code ? ", Code " : "",
                 code ? code : "");
    }
    json_decref(j);
    return ok;
}

static void release(AwsCreds *c);

static void ecs_cb(void *ud, const HttpcResponse *r)
{
    AwsCreds *c = ud;
    c->holds--;
    if (c->closing) {
        release(c);
        return;
    }
    AwsCredentials got = {0};
    char err[256] = "";
    if (r->curl_code || r->status != 200) {
        snprintf(err, sizeof err, "%s", r->curl_code ? r->error : "");
        if (!r->curl_code)
            snprintf(err, sizeof err, "HTTP %ld", r->status);
    } else if (creds_from_json(r->body, r->body_len, &got, err, sizeof err)) {
        snprintf(got.source, sizeof got.source, "ecs container credentials");
        chain_done(c, &got, NULL);
        return;
    }
    /* a container that says it has credentials but fails is an error, not a fall-through */
    char *msg = xasprintf("ECS container credentials failed: %s", err);
    chain_done(c, NULL, msg);
    free(msg);
}

static bool start_ecs(AwsCreds *c)
{
    const char *rel = env(c, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full) {
        strbuf_puts(&c->tried, "; ECS container: AWS_CONTAINER_CREDENTIALS_* unset");
        return false;
    }
    char *url = rel ? xasprintf(ECS_HOST "%s", rel) : xstrdup(full);
    char *auth = NULL;
    const char *token = env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const char *token_file = env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (!rel && token_file) {
        FILE *f = fopen(token_file, "r");
        char buf[4096] = "";
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = '\0';
            fclose(f);
            auth = xasprintf("Authorization: %s", trim(buf));
        }
    } else if (!rel && token) {
        auth = xasprintf("Authorization: %s", token);
    }
    const char *headers[] = {auth, NULL};
    HttpcRequest req = {.method = "GET",
                        .url = url,
                        .headers = auth ? headers : NULL,
                        .timeout_ms = 2000,
                        .connect_timeout_ms = 1000};
    c->holds++;
    if (!httpc_send(c->http, &req, ecs_cb, c))
        c->holds--;
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    free(url);
    return true;
}

static void imds_cb(void *ud, const HttpcResponse *r)
{
    AwsCreds *c = ud;
    c->holds--;
    if (c->closing) {
        release(c);
        return;
    }
    imds_next(c, r);
}

static void imds_send(AwsCreds *c, const char *method, const char *path, const char *header)
{
    char *url = xasprintf("%s%s", c->imds_base, path);
    const char *headers[] = {header, NULL};
    HttpcRequest req = {.method = method,
                        .url = url,
                        .headers = headers,
                        .timeout_ms = 1500,
                        .connect_timeout_ms = 1000};
    c->holds++;
    if (!httpc_send(c->http, &req, imds_cb, c))
        c->holds--;
    free(url);
}

static void imds_fail(AwsCreds *c, const char *what, const HttpcResponse *r)
{
    strbuf_printf(&c->tried, "; EC2 instance metadata (%s): %s", c->imds_base, what);
    if (r && r->curl_code)
        strbuf_printf(&c->tried, " (%s)", r->error);
    else if (r)
        strbuf_printf(&c->tried, " (HTTP %ld)", r->status);
    char *msg = xasprintf("no AWS credentials found: tried %s", c->tried.data + 2);
    chain_done(c, NULL, msg);
    free(msg);
}

static void imds_next(AwsCreds *c, const HttpcResponse *r)
{
    switch (c->imds_step) {
    case IMDS_TOKEN: {
        if (r->curl_code || r->status != 200 || r->body_len == 0) {
            imds_fail(c, "no IMDSv2 session token", r);
            return;
        }
        free(c->imds_token);
        c->imds_token = xasprintf("X-aws-ec2-metadata-token: %s", r->body);
        c->imds_step = IMDS_ROLE;
        imds_send(c, "GET", "/latest/meta-data/iam/security-credentials/", c->imds_token);
        return;
    }
    case IMDS_ROLE: {
        if (r->curl_code || r->status != 200 || r->body_len == 0) {
            imds_fail(c, "no instance role", r);
            return;
        }
        free(c->imds_role);
        c->imds_role = xstrndup(r->body, strcspn(r->body, "\r\n"));
        c->imds_step = IMDS_CREDS;
        char *path = xasprintf("/latest/meta-data/iam/security-credentials/%s", c->imds_role);
        imds_send(c, "GET", path, c->imds_token);
        free(path);
        return;
    }
    case IMDS_CREDS: {
        AwsCredentials got = {0};
        char err[256] = "";
        if (r->curl_code || r->status != 200) {
            imds_fail(c, "role credentials unavailable", r);
            return;
        }
        if (!creds_from_json(r->body, r->body_len, &got, err, sizeof err)) {
            imds_fail(c, err, NULL);
            return;
        }
        snprintf(got.source, sizeof got.source, "ec2 instance metadata (role %s)", c->imds_role);
        chain_done(c, &got, NULL);
        return;
    }
    }
}

static void start_imds(AwsCreds *c)
{
    const char *disabled = env(c, "AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0) {
        strbuf_puts(&c->tried, "; EC2 instance metadata: disabled (AWS_EC2_METADATA_DISABLED)");
        char *msg = xasprintf("no AWS credentials found: tried %s", c->tried.data + 2);
        chain_done(c, NULL, msg);
        free(msg);
        return;
    }
    const char *ep = env(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    free(c->imds_base);
    c->imds_base = xstrdup(ep ? ep : IMDS_DEFAULT);
    size_t n = strlen(c->imds_base);
    if (n && c->imds_base[n - 1] == '/')
        c->imds_base[n - 1] = '\0';
    c->imds_step = IMDS_TOKEN;
    imds_send(c, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 21600");
}

static void start_chain(AwsCreds *c)
{
    c->fetching = true;
    strbuf_reset(&c->tried);
    AwsCredentials got = {0};
    const char *ak = env(c, "AWS_ACCESS_KEY_ID");
    const char *sk = env(c, "AWS_SECRET_ACCESS_KEY");
    if (ak && sk) {
        got.access_key = xstrdup(ak);
        got.secret_key = xstrdup(sk);
        const char *tok = env(c, "AWS_SESSION_TOKEN");
        got.session_token = tok ? xstrdup(tok) : NULL;
        snprintf(got.source, sizeof got.source, "environment");
        chain_done(c, &got, NULL);
        return;
    }
    strbuf_puts(&c->tried, ak ? "; environment: AWS_SECRET_ACCESS_KEY unset"
                              : "; environment: AWS_ACCESS_KEY_ID unset");
    if (from_profile(c, &got)) {
        chain_done(c, &got, NULL);
        return;
    }
    if (start_ecs(c))
        return;
    start_imds(c);
}

static void flush_cb(uv_timer_t *t)
{
    AwsCreds *c = t->data;
    if (c->fetching)
        return;
    if (fresh(c))
        deliver(c, NULL);
    else if (c->waiters)
        start_chain(c);
}

void awscreds_get(AwsCreds *c, AwsCredsCb cb, void *ud)
{
    Waiter *w = xcalloc(1, sizeof *w);
    w->cb = cb;
    w->ud = ud;
    if (c->waiters_tail)
        c->waiters_tail->next = w;
    else
        c->waiters = w;
    c->waiters_tail = w;
    if (!c->fetching)
        uv_timer_start(&c->flush, flush_cb, 0, 0);
}

void awscreds_invalidate(AwsCreds *c)
{
    if (c->have)
        c->cur.expiration = 1; /* expired: the next get walks the chain again */
}

const char *awscreds_source(const AwsCreds *c)
{
    return c->have ? c->cur.source : "";
}

const char *awscreds_masked_key(const AwsCreds *c, char *buf, size_t len)
{
    if (!c->have || !c->cur.access_key) {
        snprintf(buf, len, "%s", "");
        return buf;
    }
    size_t n = strlen(c->cur.access_key);
    snprintf(buf, len, "%.4s****%s", c->cur.access_key, n > 8 ? c->cur.access_key + n - 4 : "");
    return buf;
}

AwsCreds *awscreds_new(uv_loop_t *loop, Httpc *http, AwsGetenv getenv_fn, void *ud)
{
    AwsCreds *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->http = http;
    c->getenv_fn = getenv_fn;
    c->getenv_ud = ud;
    uv_timer_init(loop, &c->flush);
    c->flush.data = c;
    return c;
}

static void release(AwsCreds *c)
{
    if (!c->closing || c->holds > 0 || !c->flush_closed)
        return;
    creds_clear(&c->cur);
    strbuf_free(&c->tried);
    free(c->imds_base);
    free(c->imds_token);
    free(c->imds_role);
    free(c);
}

static void flush_closed_cb(uv_handle_t *h)
{
    AwsCreds *c = h->data;
    c->flush_closed = true;
    release(c);
}

void awscreds_free(AwsCreds *c)
{
    if (!c)
        return;
    c->closing = true;
    deliver(c, "shutting down");
    uv_timer_stop(&c->flush);
    uv_close((uv_handle_t *)&c->flush, flush_closed_cb);
}
