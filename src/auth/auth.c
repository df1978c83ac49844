#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/authkey.h"
#include "auth/password.h"
#include "auth/sso.h"
#include "auth/throttle.h"
#include "auth/users.h"
#include "common/log.h"
#include "common/xalloc.h"

struct Auth {
    uv_loop_t *loop;
    const Config *cfg;
    AuthKey *authkey;
    Users *users;
    Sessions *sessions;
    Throttle *throttle;
    Audit *audit;
    Sso *sso;
    bool open;
    int refs; /* the owner and each sign-in in flight */
    bool closing;
};

static void unref(Auth *a)
{
    if (--a->refs > 0)
        return;
    authkey_free(a->authkey);
    sessions_free(a->sessions);
    throttle_free(a->throttle);
    audit_free(a->audit);
    free(a);
}

static void start_session(void *starter, const char *user, Role role, const char *method,
                          const char *address, const char *request_id, const char *old_token,
                          SsoStartedCb cb, void *ud);

Auth *auth_new(const AuthDeps *d, char *err, size_t errlen)
{
    const Config *cfg = d->cfg;
    Audit *audit =
        audit_new(d->store, cfg->audit_max, config_get(cfg, CFG_AUDIT_FILE), err, errlen);
    if (!audit)
        return NULL;
    Auth *a = xcalloc(1, sizeof *a);
    a->loop = d->loop;
    a->cfg = cfg;
    a->refs = 1;
    a->audit = audit;
    a->authkey = authkey_new(config_get(cfg, CFG_AUTH_KEY));
    a->users =
        users_new(d->loop, d->secrets, config_get(cfg, CFG_USERS_SECRET), cfg->secrets_ttl_seconds);
    a->sessions = sessions_new(d->store, cfg->session_idle_seconds, cfg->session_lifetime_seconds);
    a->throttle =
        throttle_new(d->store, cfg->login_backoff_ms, (long)(cfg->login_lock_seconds * 1000));
    SsoDeps sd = {.loop = d->loop,
                  .cfg = cfg,
                  .store = d->store,
                  .aws = d->aws,
                  .audit = a->audit,
                  .start = start_session,
                  .starter = a};
    a->sso = sso_new(&sd, err, errlen);
    if (!a->sso) {
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(Auth *a)
{
    if (!a)
        return;
    a->closing = true;
    users_free(a->users);
    a->users = NULL;
    sso_free(a->sso);
    a->sso = NULL;
    unref(a);
}

void auth_settle(Auth *a)
{
    uint64_t until = uv_now(a->loop) + AUTH_SETTLE_MAX_MS;
    while (users_state(a->users) == USERS_UNREAD && uv_now(a->loop) < until)
        uv_run(a->loop, UV_RUN_ONCE);
    UsersState st = users_state(a->users);
    a->open = !a->authkey && st == USERS_ABSENT && !sso_configured(a->sso);
    if (st == USERS_UNREAD || st == USERS_FAILING)
        log_warn("users secret %s could not be read yet: password sign-in waits for it "
                 "(authentication stays on)",
                 users_secret_id(a->users));
}

bool auth_open(const Auth *a)
{
    return a->open;
}

json_t *auth_methods(const Auth *a)
{
    json_t *m = json_array();
    UsersState st = a->users ? users_state(a->users) : USERS_ABSENT;
    if (st == USERS_PRESENT || st == USERS_FAILING)
        json_array_append_new(
            m, json_pack("{s:s, s:s}", "id", "password", "label", "User name and password"));
    if (a->authkey)
        json_array_append_new(m, json_pack("{s:s, s:s}", "id", "api_key", "label", "API key"));
    sso_methods(a->sso, m);
    return json_pack("{s:o, s:b}", "methods", m, "open", a->open);
}

Sso *auth_sso(Auth *a)
{
    return a->sso;
}

void auth_open_principal(Principal *p)
{
    memset(p, 0, sizeof *p);
    p->role = ROLE_ADMIN;
    p->method = "none";
    snprintf(p->user, sizeof p->user, "local");
}

static void key_principal(Principal *p)
{
    memset(p, 0, sizeof *p);
    p->role = ROLE_ADMIN;
    p->method = "api_key";
    snprintf(p->user, sizeof p->user, "api-key");
}

bool auth_key_principal(const Auth *a, const char *key, size_t len, Principal *p)
{
    if (!authkey_check(a->authkey, key, len))
        return false;
    key_principal(p);
    return true;
}

void auth_record(Auth *a, const AuditEntry *e)
{
    audit_record(a->audit, e);
}

void auth_audit_query(Auth *a, const AuditQuery *q, DoneCb cb, void *ud)
{
    audit_query(a->audit, q, cb, ud);
}

/* ---- sessions to principals ---- */

static const char *method_name(const char *stored)
{
    static const char *const known[] = {"password", "api_key", "saml", "oidc"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(stored, known[i]))
            return known[i];
    return "session";
}

static void session_principal(const Auth *a, const Session *s, const char *token, Principal *p)
{
    memset(p, 0, sizeof *p);
    p->role = s->role;
    p->method = method_name(s->method);
    snprintf(p->user, sizeof p->user, "%s", s->user);
    snprintf(p->session, sizeof p->session, "%s", s->id);
    sessions_csrf(token, p->csrf);
    p->expires_at = s->expires_at;
    p->idle_seconds = sessions_idle_seconds(a->sessions);
    p->via_cookie = true;
}

typedef struct Resolve {
    Auth *a;
    char token[SESSION_TOKEN_LEN + 1];
    AuthPrincipalCb cb;
    void *ud;
} Resolve;

static void resolved(void *ud, PgfError err, const Session *s)
{
    Resolve *r = ud;
    Auth *a = r->a;
    Principal p;
    const Principal *who = NULL;
    if (err == PGF_OK && s && !a->closing) {
        session_principal(a, s, r->token, &p);
        who = &p;
        /* a password session follows the users secret as last read */
        if (!strcmp(s->method, "password") && users_state(a->users) == USERS_PRESENT) {
            const User *u = users_peek(a->users, s->user);
            if (!u || u->disabled) {
                log_event(LOG_INFO, NULL,
                          json_pack("{s:s, s:s}", "user", s->user, "session", s->id),
                          "session ended: the user is %s in the users secret",
                          u ? "disabled" : "no longer");
                sessions_end(a->sessions, r->token, NULL, NULL);
                who = NULL;
            } else {
                p.role = u->role;
            }
        }
    }
    r->cb(r->ud, err, who);
    sodium_memzero(r->token, sizeof r->token);
    free(r);
    unref(a);
}

void auth_resolve(Auth *a, const char *token, bool touch, AuthPrincipalCb cb, void *ud)
{
    if (!sessions_token_valid(token)) {
        cb(ud, PGF_OK, NULL);
        return;
    }
    Resolve *r = xcalloc(1, sizeof *r);
    r->a = a;
    a->refs++;
    memcpy(r->token, token, SESSION_TOKEN_LEN + 1);
    r->cb = cb;
    r->ud = ud;
    sessions_resolve(a->sessions, token, touch, resolved, r);
}

/* ---- sign-in ---- */

typedef struct Login {
    Auth *a;
    bool password; /* else the API key */
    char username[USERNAME_MAX + 1];
    char *secret;
    size_t secret_len;
    char address[64];
    char request_id[80];
    char *old_token;
    uint64_t started;
    Role role;
    long failures;
    long wait_ms;
    Failure f;
    uv_timer_t floor;
    LoginCb cb;
    void *ud;
} Login;

static void login_free(Login *l)
{
    Auth *a = l->a;
    xfree_secret(l->secret);
    xfree_secret(l->old_token);
    failure_clear(&l->f);
    free(l);
    unref(a);
}

static void login_audit(Login *l, const char *action, const char *result, unsigned status,
                        json_t *detail)
{
    AuditEntry e = {.user = l->username,
                    .method = l->password ? "password" : "api_key",
                    .role = role_name(l->role),
                    .address = l->address,
                    .action = action,
                    .result = result,
                    .status = status,
                    .request_id = l->request_id,
                    .detail = detail};
    audit_record(l->a->audit, &e);
}

static void login_fail(Login *l, PgfError code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void floor_closed(uv_handle_t *h)
{
    login_free(h->data);
}

static void floor_reached(uv_timer_t *t)
{
    Login *l = t->data;
    l->cb(l->ud, NULL, NULL, &l->f);
    uv_close((uv_handle_t *)&l->floor, floor_closed);
}

/* answers f no sooner than AUTH_FAIL_FLOOR_MS after the attempt began */
static void answer_failure(Login *l)
{
    uint64_t elapsed = uv_now(l->a->loop) - l->started;
    uv_timer_init(l->a->loop, &l->floor);
    l->floor.data = l;
    uv_timer_start(&l->floor, floor_reached,
                   elapsed < AUTH_FAIL_FLOOR_MS ? AUTH_FAIL_FLOOR_MS - elapsed : 0, 0);
}

static void login_fail(Login *l, PgfError code, const char *hint, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    failure_set(&l->f, code, NULL, hint, "%s", msg);
    answer_failure(l);
}

static void counted(void *ud, PgfError err, long wait_ms, long failures)
{
    Login *l = ud;
    bool locked = err == PGF_OK && failures >= THROTTLE_LOCK_AFTER;
    login_audit(l, "login_failed", locked ? "locked" : "failed", 401,
                json_pack("{s:I}", "failures", (json_int_t)failures));
    if (locked)
        log_event(LOG_WARN, l->request_id,
                  json_pack("{s:s, s:s}", "user", l->username, "address", l->address),
                  "sign-in locked for %.0f minutes after %d failures",
                  l->a->cfg->login_lock_seconds / 60, THROTTLE_LOCK_AFTER);
    char hint[200];
    if (wait_ms > 0)
        snprintf(hint, sizeof hint, "wait %ld s before the next attempt", (wait_ms + 999) / 1000);
    else
        snprintf(hint, sizeof hint, "check the %s; repeated failures lock it for a while",
                 l->password ? "user name and password" : "key");
    failure_set(&l->f, PGF_ERR_UNAUTHORIZED,
                wait_ms > 0
                    ? json_pack("{s:I}", "retry_after", (json_int_t)((wait_ms + 999) / 1000))
                    : NULL,
                hint, "%s", l->password ? "invalid user name or password" : "invalid API key");
    answer_failure(l);
}

/* ---- a session for whoever was just recognized (password, key, SSO) ---- */

typedef struct Start {
    Auth *a;
    char token[SESSION_TOKEN_LEN + 1];
    char address[64], request_id[80];
    SsoStartedCb cb;
    void *ud;
} Start;

static void session_started(void *ud, PgfError err, const Session *s)
{
    Start *st = ud;
    if (err != PGF_OK || !s) {
        st->cb(st->ud, err ? err : PGF_ERR_STORE_DOWN, NULL, NULL);
    } else {
        Principal p;
        session_principal(st->a, s, st->token, &p);
        AuditEntry e = {.user = s->user,
                        .method = s->method,
                        .role = role_name(s->role),
                        .address = st->address,
                        .action = "login",
                        .result = "ok",
                        .status = 200,
                        .request_id = st->request_id,
                        .detail = json_pack("{s:s}", "session", s->id)};
        audit_record(st->a->audit, &e);
        log_event(LOG_INFO, st->request_id,
                  json_pack("{s:s, s:s, s:s}", "user", s->user, "role", role_name(s->role),
                            "method", s->method),
                  "signed in: %s (%s, %s)", s->user, role_name(s->role), s->method);
        st->cb(st->ud, PGF_OK, st->token, &p);
    }
    Auth *a = st->a;
    sodium_memzero(st->token, sizeof st->token);
    free(st);
    unref(a);
}

/* ends the session the browser came with (no fixation), starts a new one, audits it */
static void start_session(void *starter, const char *user, Role role, const char *method,
                          const char *address, const char *request_id, const char *old_token,
                          SsoStartedCb cb, void *ud)
{
    Auth *a = starter;
    if (old_token)
        sessions_end(a->sessions, old_token, NULL, NULL);
    Start *st = xcalloc(1, sizeof *st);
    st->a = a;
    a->refs++;
    snprintf(st->address, sizeof st->address, "%s", address ? address : "");
    snprintf(st->request_id, sizeof st->request_id, "%s", request_id ? request_id : "");
    st->cb = cb;
    st->ud = ud;
    Session proto = {.role = role};
    snprintf(proto.user, sizeof proto.user, "%s", user);
    snprintf(proto.method, sizeof proto.method, "%s", method);
    snprintf(proto.address, sizeof proto.address, "%s", st->address);
    sessions_create(a->sessions, &proto, st->token, session_started, st);
}

static void login_started(void *ud, PgfError err, const char *token, const Principal *p)
{
    Login *l = ud;
    if (err != PGF_OK) {
        failure_store(&l->f, err, "start a session", NULL);
        l->cb(l->ud, NULL, NULL, &l->f);
    } else {
        l->cb(l->ud, token, p, NULL);
    }
    login_free(l);
}

static void verified(Login *l, bool ok)
{
    if (!ok) {
        throttle_failed(l->a->throttle, l->username, l->address, counted, l);
        return;
    }
    throttle_succeeded(l->a->throttle, l->username);
    start_session(l->a, l->username, l->role, l->password ? "password" : "api_key", l->address,
                  l->request_id, l->old_token, login_started, l);
}

static void password_checked(void *ud, bool ok)
{
    verified(ud, ok);
}

static void user_found(void *ud, const User *u)
{
    Login *l = ud;
    bool usable = u && !u->disabled && !l->a->closing;
    if (usable) {
        l->role = u->role;
        snprintf(l->username, sizeof l->username, "%s", u->username); /* its own spelling */
    }
    password_verify(l->a->loop, usable ? u->password_hash : NULL, l->secret, l->secret_len,
                    password_checked, l);
}

static void may_try(void *ud, PgfError err, long wait_ms, long failures)
{
    (void)failures;
    Login *l = ud;
    if (err != PGF_OK) {
        failure_store(&l->f, err, "check the sign-in throttle", NULL);
        l->cb(l->ud, NULL, NULL, &l->f);
        login_free(l);
        return;
    }
    if (wait_ms > 0) {
        long s = (wait_ms + 999) / 1000;
        failure_set(&l->f, PGF_ERR_TOO_MANY, json_pack("{s:I}", "retry_after", (json_int_t)s),
                    "wait, then try again; ask an admin if you forgot the password",
                    "too many failed sign-ins for this user name or from this address: try again "
                    "in %ld s",
                    s);
        l->cb(l->ud, NULL, NULL, &l->f);
        login_free(l);
        return;
    }
    if (l->password) {
        users_lookup(l->a->users, l->username, true, user_found, l);
    } else {
        bool ok = authkey_check(l->a->authkey, l->secret, l->secret_len);
        l->role = ok ? ROLE_ADMIN : ROLE_NONE;
        verified(l, ok);
    }
}

static Login *login_new(Auth *a, const LoginRequest *lr, LoginCb cb, void *ud)
{
    Login *l = xcalloc(1, sizeof *l);
    l->a = a;
    a->refs++;
    l->started = uv_now(a->loop);
    l->password = !strcmp(lr->method, "password");
    snprintf(l->username, sizeof l->username, "%s",
             l->password ? (lr->username ? lr->username : "") : "api-key");
    l->secret = xmalloc(lr->secret_len + 1);
    memcpy(l->secret, lr->secret, lr->secret_len);
    l->secret[lr->secret_len] = '\0';
    l->secret_len = lr->secret_len;
    snprintf(l->address, sizeof l->address, "%s", lr->address ? lr->address : "");
    snprintf(l->request_id, sizeof l->request_id, "%s", lr->request_id ? lr->request_id : "");
    l->old_token = lr->old_token ? xstrdup(lr->old_token) : NULL;
    l->cb = cb;
    l->ud = ud;
    return l;
}

void auth_login(Auth *a, const LoginRequest *lr, LoginCb cb, void *ud)
{
    Login *l = login_new(a, lr, cb, ud);
    if (l->password && users_state(a->users) == USERS_ABSENT) {
        login_fail(l, PGF_ERR_UNAUTHORIZED, "an admin adds users with `pgfleet user add`",
                   "password sign-in is not configured (no users secret %s)",
                   users_secret_id(a->users));
        return;
    }
    if (!l->password && !a->authkey) {
        login_fail(l, PGF_ERR_UNAUTHORIZED, "set AUTH_KEY on the daemon to allow it",
                   "API key sign-in is not configured");
        return;
    }
    if (password_verifying() >= AUTH_MAX_VERIFYING) {
        failure_set(&l->f, PGF_ERR_TOO_MANY, json_pack("{s:i}", "retry_after", 1),
                    "try again in a second", "too many sign-ins in progress");
        l->cb(l->ud, NULL, NULL, &l->f);
        login_free(l);
        return;
    }
    throttle_check(a->throttle, l->username, l->address, may_try, l);
}

/* ---- sign-out, the session list, revocation ---- */

typedef struct Call {
    Auth *a;
    AuthActor actor;
    Principal who;
    char address[64], request_id[80];
    DoneCb cb;
    void *ud;
} Call;

static Call *call_new(Auth *a, const AuthActor *actor, DoneCb cb, void *ud)
{
    Call *c = xcalloc(1, sizeof *c);
    c->a = a;
    a->refs++;
    if (actor) {
        if (actor->who)
            c->who = *actor->who;
        snprintf(c->address, sizeof c->address, "%s", actor->address ? actor->address : "");
        snprintf(c->request_id, sizeof c->request_id, "%s",
                 actor->request_id ? actor->request_id : "");
    }
    c->cb = cb;
    c->ud = ud;
    return c;
}

static void call_free(Call *c)
{
    Auth *a = c->a;
    free(c);
    unref(a);
}

static void logged_out(void *ud, PgfError err, const Session *s)
{
    Call *c = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "end the session", NULL, c->cb, c->ud);
        call_free(c);
        return;
    }
    if (s) {
        AuditEntry e = {.user = s->user,
                        .method = s->method,
                        .role = role_name(s->role),
                        .address = c->address,
                        .action = "logout",
                        .target = s->id,
                        .result = "ok",
                        .status = 200,
                        .request_id = c->request_id};
        audit_record(c->a->audit, &e);
    }
    json_t *r = json_pack("{s:b}", "ended", s != NULL);
    if (s)
        json_object_set_new(r, "method", json_string(s->method));
    c->cb(c->ud, r, NULL);
    call_free(c);
}

void auth_logout(Auth *a, const char *token, const AuthActor *actor, DoneCb cb, void *ud)
{
    Call *c = call_new(a, actor, cb, ud);
    sessions_end(a->sessions, token, logged_out, c);
}

static void listed(void *ud, PgfError err, json_t *list)
{
    Call *c = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "list the sessions", NULL, c->cb, c->ud);
    } else {
        c->cb(c->ud, json_pack("{s:O}", "sessions", list), NULL);
    }
    call_free(c);
}

void auth_sessions(Auth *a, DoneCb cb, void *ud)
{
    sessions_list(a->sessions, listed, call_new(a, NULL, cb, ud));
}

static void revoked(void *ud, PgfError err, const Session *s)
{
    Call *c = ud;
    Failure f = {0};
    if (err != PGF_OK) {
        failure_store(&f, err, "revoke the session", NULL);
        failure_report(&f, c->cb, c->ud);
    } else if (!s) {
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "GET /api/sessions lists the live ones",
                    "no live session with that id");
        failure_report(&f, c->cb, c->ud);
    } else {
        log_event(LOG_INFO, NULL, json_pack("{s:s, s:s}", "user", s->user, "session", s->id),
                  "session of %s revoked", s->user);
        c->cb(c->ud, session_to_json(s), NULL);
    }
    call_free(c);
}

void auth_revoke(Auth *a, const char *id, DoneCb cb, void *ud)
{
    sessions_revoke(a->sessions, id, revoked, call_new(a, NULL, cb, ud));
}
