/*
 * auth: the sign-in service. Who may do what, and the record of what they did.
 *
 * Methods: the API key (AUTH_KEY, on every request or traded for a session),
 * passwords of the users in the users secret (auth/users.h), and, with none
 * of them configured, "none": the daemon listens on loopback only and every
 * caller is admin. Which applies is settled at start-up (auth_settle): a
 * users secret that exists, or that could not be read for another reason
 * than its absence, turns authentication on, so a daemon never falls open
 * because AWS was slow.
 *
 * A sign-in (auth_login) checks the throttle, verifies the password on the
 * thread pool (a name with no user is verified against a dummy hash), and
 * answers a failure no sooner than AUTH_FAIL_FLOOR_MS after it began, so an
 * unknown name and a wrong password look and take the same. A success ends
 * the session the browser came with (no fixation) and starts a new one.
 * Password sessions follow the users secret: a user removed or disabled there
 * loses their sessions at the next request, a changed role applies at once.
 */
#ifndef PGFLEET_AUTH_H
#define PGFLEET_AUTH_H

#include <stdbool.h>

#include <uv.h>

#include "auth/audit.h"
#include "auth/principal.h"
#include "auth/sso.h"
#include "aws/secrets.h"
#include "common/config.h"
#include "common/failure.h"
#include "store/store.h"

#define AUTH_FAIL_FLOOR_MS 300
#define AUTH_MAX_VERIFYING 8
#define AUTH_SETTLE_MAX_MS 15000
#define AUTH_COOKIE        "pgfleet_session"

typedef struct Auth Auth;

typedef struct AuthDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    SecretsCache *secrets;
    AwsClient *aws;
} AuthDeps;

/* NULL with err filled (e.g. the audit file cannot be opened) */
Auth *auth_new(const AuthDeps *deps, char *err, size_t errlen);
/* work in flight finishes (answering "shutting down") before the memory goes */
void auth_free(Auth *a);
/* runs the loop until the users secret was read once (or AUTH_SETTLE_MAX_MS) */
void auth_settle(Auth *a);
/* no method configured: every caller is admin (loopback only) */
bool auth_open(const Auth *a);
/* the methods a sign-in page offers: {"methods":[{"id","label"}], "open": bool} */
json_t *auth_methods(const Auth *a);

/* single sign-on (SAML, OIDC), for its endpoints */
Sso *auth_sso(Auth *a);

/* the principal of an open daemon ("local", admin) */
void auth_open_principal(Principal *p);
/* an API key presented on a request; false when wrong (or no key is configured) */
bool auth_key_principal(const Auth *a, const char *key, size_t len, Principal *p);

/* p NULL: no live session for that token; err: the store failed */
typedef void (*AuthPrincipalCb)(void *ud, PgfError err, const Principal *p);
/* the session a cookie names; touch: the request counts as use */
void auth_resolve(Auth *a, const char *token, bool touch, AuthPrincipalCb cb, void *ud);

typedef struct LoginRequest {
    const char *method; /* "password" or "api_key" */
    const char *username;
    const char *secret; /* the password or the key */
    size_t secret_len;
    const char *address;
    const char *request_id;
    const char *old_token; /* the cookie the browser came with, or NULL */
} LoginRequest;

/* token: the new session's cookie value (a secret: only for Set-Cookie) */
typedef void (*LoginCb)(void *ud, const char *token, const Principal *p, const Failure *f);
void auth_login(Auth *a, const LoginRequest *lr, LoginCb cb, void *ud);

/* who is signing out, for the audit trail */
typedef struct AuthActor {
    const Principal *who;
    const char *address;
    const char *request_id;
} AuthActor;

/* ends the cookie's session; result {"ended": bool} */
void auth_logout(Auth *a, const char *token, const AuthActor *actor, DoneCb cb, void *ud);
/* {"sessions": [...]} */
void auth_sessions(Auth *a, DoneCb cb, void *ud);
/* ends the session with this public id; 404 when none; result: the session */
void auth_revoke(Auth *a, const char *id, DoneCb cb, void *ud);

void auth_record(Auth *a, const AuditEntry *e);
void auth_audit_query(Auth *a, const AuditQuery *q, DoneCb cb, void *ud);

#endif
