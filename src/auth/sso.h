/*
 * sso: single sign-on through a SAML 2.0 IdP (IAM Identity Center) and an
 * OpenID Connect provider, ending in the same sessions as a password.
 *
 * A sign-in pgfleet starts gets a state: 256 random bits, kept (hashed) in Redis
 * for 10 minutes with where to go back to and what the answer must match (the
 * AuthnRequest ID; the OIDC nonce and PKCE verifier), used once. SAML carries it
 * as RelayState; OIDC as `state`, also set in a cookie (pgfleet_sso, SameSite=Lax,
 * 10 minutes) that the callback must bring back, so nobody can finish a sign-in
 * in someone else's browser. Assertion ids are kept until they expire, so an
 * assertion is used once. The user is the SAML subject (NameID), or the OIDC
 * username claim; the role is the highest that PGFLEET_SSO_ROLE_MAP gives any
 * of the user's groups (ids, or names through the Identity Store); no mapped
 * group, no session. Every outcome is audited.
 */
#ifndef PGFLEET_SSO_H
#define PGFLEET_SSO_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "auth/audit.h"
#include "auth/principal.h"
#include "aws/aws.h"
#include "common/config.h"
#include "store/store.h"

#define SSO_STATE_TTL_MS (10 * 60 * 1000)
#define SSO_COOKIE       "pgfleet_sso"

/* how a session is started once someone is known (the auth service's) */
typedef void (*SsoStartedCb)(void *ud, PgfError err, const char *token, const Principal *p);
typedef void (*SsoStartFn)(void *starter, const char *user, Role role, const char *method,
                           const char *address, const char *request_id, const char *old_token,
                           SsoStartedCb cb, void *ud);

typedef struct SsoDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    AwsClient *aws;
    Audit *audit;
    SsoStartFn start;
    void *starter;
} SsoDeps;

typedef struct Sso Sso;

/* NULL with err filled when a setting is wrong (exit 3); an Sso with nothing on otherwise */
Sso *sso_new(const SsoDeps *d, char *err, size_t errlen);
void sso_free(Sso *s);
bool sso_configured(const Sso *s);
/* appends {"id","label","url"} of each provider to methods */
void sso_methods(const Sso *s, json_t *methods);
/* this SP's SAML metadata (new string), NULL when SAML is off */
char *sso_saml_metadata(const Sso *s);

/* the browser a sign-in is for */
typedef struct SsoBrowser {
    const char *address;
    const char *request_id;
    const char *session_token; /* the session it came with, ended at sign-in */
    const char *state_cookie;  /* pgfleet_sso as it came */
} SsoBrowser;

/* what to answer: a redirect (with cookies) or a page that says what went wrong */
typedef struct SsoOutcome {
    unsigned status;           /* 303, or 400/403/503 with a page */
    const char *location;      /* 303: where to */
    const char *session_token; /* a new session: the pgfleet_session cookie */
    double session_max_age;
    const char *state_cookie; /* non-NULL: set pgfleet_sso to it ("" clears it) */
    const char *title;        /* a page: its heading */
    const char *message;      /* a page: what happened */
    const char *hint;         /* a page: what to do */
} SsoOutcome;
typedef void (*SsoCb)(void *ud, const SsoOutcome *o);

void sso_saml_login(Sso *s, const char *next, SsoCb cb, void *ud);
void sso_saml_acs(Sso *s, const char *saml_response, const char *relay_state, const SsoBrowser *b,
                  SsoCb cb, void *ud);
void sso_oidc_login(Sso *s, const char *next, SsoCb cb, void *ud);
void sso_oidc_callback(Sso *s, const char *code, const char *state, const char *error,
                       const SsoBrowser *b, SsoCb cb, void *ud);

/* where to send a browser to sign out at the provider too (new string), or NULL */
char *sso_provider_logout_url(const Sso *s, const char *method);

/* a path on this site to go back to ("/x?y"), never //host or a scheme; "/" otherwise */
const char *sso_safe_next(const char *next);

#endif
