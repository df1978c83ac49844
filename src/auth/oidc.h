/*
 * oidc: an OpenID Connect relying party (authorization code flow with PKCE),
 * ID tokens checked with cjose. The only module that knows cjose.
 *
 * The provider is found by discovery (<issuer>/.well-known/openid-configuration,
 * whose issuer must be the configured one), read again every hour; its JWKS is
 * cached and fetched again when a token names a key id it does not hold (at
 * most every OIDC_JWKS_MIN_REFETCH_MS), so key rotation just works.
 *
 * An ID token is accepted only when: its alg is in the allow-list (never
 * "none", never an HMAC: a public key is not a shared secret), the key named by
 * its kid (or the only signing key) is of that alg's type and verifies the
 * signature, iss is the issuer, aud holds the client id (azp too when there are
 * several audiences), exp is in the future and iat not in the future (within
 * the skew), and nonce is the one sent.
 */
#ifndef PGFLEET_OIDC_H
#define PGFLEET_OIDC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "httpc/httpc.h"

#define OIDC_JWKS_MIN_REFETCH_MS 30000
#define OIDC_SKEW_SECONDS        60

typedef struct OidcConfig {
    const char *issuer;
    const char *client_id;
    const char *client_secret; /* NULL: a public client (PKCE only) */
    const char *redirect_uri;
    const char *scopes; /* space-separated; "openid" is always sent */
    const char *algs;   /* comma-separated allow-list */
} OidcConfig;

typedef struct Oidc Oidc;

Oidc *oidc_new(uv_loop_t *loop, Httpc *http, const OidcConfig *c);
/* answers what waits with an error first */
void oidc_free(Oidc *o);

/* the authorization URL for state, nonce and the PKCE challenge (S256); url NULL on error */
typedef void (*OidcUrlCb)(void *ud, const char *url, const char *error);
void oidc_authorize_url(Oidc *o, const char *state, const char *nonce, const char *challenge,
                        OidcUrlCb cb, void *ud);

/* trades the code for tokens and checks the ID token; claims NULL with error when refused */
typedef void (*OidcClaimsCb)(void *ud, const json_t *claims, const char *id_token,
                             const char *error);
void oidc_redeem(Oidc *o, const char *code, const char *verifier, const char *nonce,
                 OidcClaimsCb cb, void *ud);

/* the provider's end_session_endpoint, when discovery published one (NULL otherwise) */
const char *oidc_end_session_endpoint(const Oidc *o);

/* ---- pure parts, for the tests ---- */

typedef struct OidcExpect {
    const char *issuer;
    const char *client_id;
    const char *nonce;
    const char *algs; /* comma-separated */
    double now;       /* unix s */
} OidcExpect;

/*
 * Checks an ID token against a JWKS document. Returns the claims (new
 * reference) or NULL with why in err; *unknown_kid is set when the token names
 * a key the JWKS does not have (the caller may fetch the JWKS again once).
 */
json_t *oidc_verify_id_token(const char *token, const json_t *jwks, const OidcExpect *e,
                             bool *unknown_kid, char *err, size_t errlen);

/* base64url(SHA-256(verifier)) into out (44 bytes) */
void oidc_pkce_challenge(const char *verifier, char out[44]);

#endif
