/* auth: signing in and out, sessions, the audit trail (auth/auth.h does the work) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api/api.h"
#include "auth/password.h"
#include "common/jsonutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *session_json(const Principal *p)
{
    time_t secs = (time_t)p->expires_at;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char at[40];
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s, s:s, s:f}", "id", p->session, "expires_at", at, "idle_timeout_seconds",
                     p->idle_seconds);
}

/* who the caller is, as GET /api/auth/status and a sign-in answer it */
static json_t *status_json(const Services *s, const Principal *p)
{
    json_t *o =
        json_pack("{s:b, s:s, s:s, s:s}", "authenticated", p->role != ROLE_NONE, "user", p->user,
                  "role", role_name(p->role), "method", p->method ? p->method : "none");
    if (p->session[0])
        json_object_set_new(o, "session", session_json(p));
    else
        json_object_set_new(o, "session", json_null());
    json_object_set_new(o, "csrf", p->csrf[0] ? json_string(p->csrf) : json_null());
    json_t *all = auth_methods(s->auth);
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(all, "methods"), i, m)
        json_array_append(ids, json_object_get(m, "id"));
    json_decref(all);
    json_object_set_new(o, "methods_configured", ids);
    return o;
}

void api_auth_status(HttpRequest *req, void *app)
{
    http_respond_json(req, 200, status_json(app, &req->who));
}

void api_auth_methods(HttpRequest *req, void *app)
{
    Services *s = app;
    http_respond_json(req, 200, auth_methods(s->auth));
}

/* ---- sign-in ---- */

/* a password in a parsed body: wiped before the body is freed */
static void wipe_string(json_t *v)
{
    if (json_is_string(v))
        sodium_memzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
}

static const char *bounded(Validation *v, const json_t *body, const char *key, size_t max,
                           size_t *len)
{
    const json_t *j = json_object_get(body, key);
    if (!j || json_is_null(j)) {
        validation_add(v, NULL, key, "required", "is required");
        return NULL;
    }
    if (!json_is_string(j)) {
        validation_add(v, NULL, key, "type", "must be a string");
        return NULL;
    }
    *len = json_string_length(j);
    if (*len == 0 || *len > max || strlen(json_string_value(j)) != *len) {
        validation_add(v, NULL, key, *len == 0 ? "min_length" : "max_length",
                       "must be 1 to %zu characters, without NUL", max);
        return NULL;
    }
    return json_string_value(j);
}

static void logged_in(void *ud, const char *token, const Principal *p, const Failure *f)
{
    HttpRequest *req = ud;
    if (f) {
        json_int_t retry = json_integer_value(json_object_get(f->detail, "retry_after"));
        if (retry > 0)
            req->resp_retry_after = (long)retry;
        api_respond_failure(req, f);
    } else {
        long max_age = (long)ceil(p->expires_at - now_s());
        http_set_cookie(req, AUTH_COOKIE, token, max_age > 0 ? max_age : 1, req->secure);
        req->who = *p;
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:o, s:s}", "authenticated", 1, "user", p->user,
                              "role", role_name(p->role), "method", p->method, "session",
                              session_json(p), "csrf", p->csrf);
        http_respond_json(req, 200, o);
    }
    http_request_release(req);
}

void api_auth_login(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    static const char *const methods[] = {"password", "api_key", NULL};
    static const char *const pw_fields[] = {"method", "username", "password", NULL};
    static const char *const key_fields[] = {"method", "key", NULL};
    Validation v;
    validation_init(&v);
    int m = 0;
    LoginRequest lr = {
        .address = req->peer, .request_id = req->request_id, .old_token = req->session_token};
    if (v_enum(&v, body, NULL, "method", true, methods, &m)) {
        lr.method = methods[m];
        size_t ulen = 0;
        if (m == 0) {
            v_no_unknown(&v, body, NULL, pw_fields);
            lr.username = bounded(&v, body, "username", USERNAME_MAX, &ulen);
            lr.secret = bounded(&v, body, "password", PASSWORD_MAX_LENGTH, &lr.secret_len);
        } else {
            v_no_unknown(&v, body, NULL, key_fields);
            lr.secret = bounded(&v, body, "key", 1024, &lr.secret_len);
        }
    }
    if (validation_ok(&v)) {
        http_request_hold(req);
        auth_login(s->auth, &lr, logged_in, req);
    } else {
        api_respond_validation(req, &v);
    }
    wipe_string(json_object_get(body, "password"));
    wipe_string(json_object_get(body, "key"));
    json_decref(body);
}

static void logged_out(void *ud, json_t *result, const Failure *f)
{
    HttpRequest *req = ud;
    if (f) {
        api_respond_failure(req, f);
    } else {
        http_set_cookie(req, AUTH_COOKIE, "", 0, req->secure);
        http_respond_json(req, 200, result);
    }
    http_request_release(req);
}

void api_auth_logout(HttpRequest *req, void *app)
{
    Services *s = app;
    if (!req->session_token) {
        http_set_cookie(req, AUTH_COOKIE, "", 0, req->secure);
        http_respond_json(req, 200, json_pack("{s:b}", "ended", 0));
        return;
    }
    AuthActor actor = {.who = &req->who, .address = req->peer, .request_id = req->request_id};
    http_request_hold(req);
    auth_logout(s->auth, req->session_token, &actor, logged_out, req);
}

/* ---- sessions, the audit trail ---- */

void api_sessions_list(HttpRequest *req, void *app)
{
    Services *s = app;
    auth_sessions(s->auth, api_done, api_pending(req, 200));
}

void api_sessions_revoke(HttpRequest *req, void *app)
{
    Services *s = app;
    auth_revoke(s->auth, http_param(req, "id"), api_done, api_pending(req, 200));
}

/* RFC 3339 in UTC (2026-12-01T10:00:00Z, fraction allowed) or unix seconds */
static bool parse_time(const char *text, double *out)
{
    char *end;
    double n = strtod(text, &end);
    if (end != text && *end == '\0' && n > 0) {
        *out = n;
        return true;
    }
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return false;
    double frac = 0;
    if (*rest == '.') {
        frac = strtod(rest, &end);
        rest = end;
    }
    if (strcmp(rest, "Z") != 0)
        return false;
    *out = (double)timegm(&tm) + frac;
    return true;
}

void api_audit_list(HttpRequest *req, void *app)
{
    Services *s = app;
    Validation v;
    validation_init(&v);
    AuditQuery q = {.limit = 100};
    q.user = http_query_value(req, "user");
    q.action = http_query_value(req, "action");
    if (q.user && (!*q.user || strlen(q.user) > USERNAME_MAX))
        validation_add(&v, NULL, "user", "max_length", "must be 1 to %d characters", USERNAME_MAX);
    if (q.action &&
        (!*q.action || strlen(q.action) > 64 || !validate_string_rule(q.action, STR_IDENT)))
        validation_add(&v, NULL, "action", "pattern",
                       "must be an action such as stream.pause, or a prefix such as stream.");
    const char *names[] = {"since", "until"};
    double *dest[] = {&q.since, &q.until};
    for (int i = 0; i < 2; i++) {
        const char *t = http_query_value(req, names[i]);
        if (t && !parse_time(t, dest[i]))
            validation_add(&v, NULL, names[i], "pattern",
                           "must be an RFC 3339 UTC time such as 2026-12-01T10:00:00Z");
    }
    const char *limit = http_query_value(req, "limit");
    if (limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (end == limit || *end || n < 1 || n > 1000)
            validation_add(&v, NULL, "limit", "range", "must be a whole number from 1 to 1000");
        else
            q.limit = n;
    }
    if (!validation_ok(&v)) {
        api_respond_validation(req, &v);
        return;
    }
    auth_audit_query(s->auth, &q, api_done, api_pending(req, 200));
}

const char *api_actor(const HttpRequest *req)
{
    return req->who.user[0] ? req->who.user : "unknown";
}

void api_audit_request(Services *s, const HttpRequest *req)
{
    const Route *r = req->route;
    /* unauthenticated refusals are not the trail's: anyone could fill it with them */
    if (!r || !r->action || req->status == 401)
        return;
    const char *result = req->status >= 200 && req->status < 300 ? "ok"
                         : req->status == 403                    ? "denied"
                         : req->status == 0                      ? "unanswered"
                                                                 : "failed";
    const char *target = http_param(req, "id");
    json_t *answer = NULL;
    if (!target && result[0] == 'o' && req->resp_body.len && req->resp_body.len < 65536) {
        /* a create: what it created, as its answer names it */
        char err[80];
        answer = jsonutil_parse(req->resp_body.data, req->resp_body.len, err, sizeof err);
        target = jsonutil_str(answer, "id") ? jsonutil_str(answer, "id")
                                            : jsonutil_str(answer, "execution_id");
    }
    AuditEntry e = {.user = req->who.user,
                    .method = req->who.method,
                    .role = role_name(req->who.role),
                    .address = req->peer,
                    .action = r->action,
                    .target = target,
                    .result = result,
                    .status = req->status,
                    .request_id = req->request_id};
    auth_record(s->auth, &e);
    json_decref(answer);
}
