#include "auth/oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjose/cjose.h>
#include <sodium.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/urlenc.h"
#include "common/xalloc.h"

#define DISCOVERY_TTL_MS (3600 * 1000ull)

typedef void (*ReadyFn)(Oidc *o, void *ud, const char *error);

typedef struct Waiter {
    ReadyFn fn;
    void *ud;
    struct Waiter *next;
} Waiter;

/* one document fetched over HTTP and kept: the discovery document or the JWKS */
typedef struct Doc {
    json_t *json;
    uint64_t fetched_at; /* uv_now */
    bool fetching;
    Waiter *waiters;
} Doc;

struct Oidc {
    uv_loop_t *loop;
    Httpc *http;
    char *issuer, *client_id, *client_secret, *redirect_uri, *scopes, *algs;
    Doc discovery, jwks;
    int refs;
    bool closing;
};

/* ---- small helpers ---- */

/* https, or http to this machine (a local provider in tests and make run) */
static bool url_allowed(const char *url)
{
    if (!url)
        return false;
    if (!strncasecmp(url, "https://", 8))
        return true;
    static const char *const local[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        size_t n = strlen(local[i]);
        if (!strncasecmp(url, local[i], n) && (url[n] == ':' || url[n] == '/' || !url[n]))
            return true;
    }
    return false;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void oidc_pkce_challenge(const char *verifier, char out[44])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)verifier, strlen(verifier));
    sodium_bin2base64(out, 44, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- the ID token ---- */

static bool in_list(const char *item, const char *csv)
{
    size_t n = strlen(item);
    for (const char *p = csv; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len == n && !strncmp(p, item, n))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static const char *kty_for(const char *alg)
{
    if (!strncmp(alg, "RS", 2) || !strncmp(alg, "PS", 2))
        return "RSA";
    if (!strncmp(alg, "ES", 2))
        return "EC";
    return NULL;
}

/* the JWK to verify with: the one named by kid, else the only signing key of that type */
static const json_t *find_key(const json_t *jwks, const char *kid, const char *alg)
{
    const char *kty = kty_for(alg);
    const json_t *found = NULL;
    int candidates = 0;
    size_t i;
    const json_t *k;
    json_array_foreach(json_object_get(jwks, "keys"), i, k)
    {
        const char *use = jsonutil_str(k, "use"), *kalg = jsonutil_str(k, "alg");
        const char *kkty = jsonutil_str(k, "kty"), *kkid = jsonutil_str(k, "kid");
        if (!kty || !kkty || strcmp(kkty, kty) || (use && strcmp(use, "sig")) ||
            (kalg && strcmp(kalg, alg)))
            continue;
        if (kid && kkid && !strcmp(kid, kkid))
            return k;
        if (!kid) {
            found = k;
            candidates++;
        }
    }
    return candidates == 1 ? found : NULL;
}

static bool has_audience(const json_t *claims, const char *client_id, char *err, size_t errlen)
{
    const json_t *aud = json_object_get(claims, "aud");
    bool ok = false;
    if (json_is_string(aud)) {
        ok = !strcmp(json_string_value(aud), client_id);
    } else if (json_is_array(aud)) {
        size_t i;
        const json_t *a;
        json_array_foreach(aud, i, a) ok |=
            json_is_string(a) && !strcmp(json_string_value(a), client_id);
        const char *azp = jsonutil_str(claims, "azp");
        if (ok && json_array_size(aud) > 1 && (!azp || strcmp(azp, client_id)))
            ok = false;
    }
    if (!ok)
        snprintf(err, errlen, "the ID token is meant for another client (aud), not %.100s",
                 client_id);
    return ok;
}

static bool check_claims(const json_t *c, const OidcExpect *e, char *err, size_t errlen)
{
    const char *iss = jsonutil_str(c, "iss"), *nonce = jsonutil_str(c, "nonce");
    const json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat");
    if (!iss || strcmp(iss, e->issuer)) {
        snprintf(err, errlen, "the ID token comes from another issuer (%.100s)",
                 iss ? iss : "none");
        return false;
    }
    if (!has_audience(c, e->client_id, err, errlen))
        return false;
    if (!json_is_number(exp) || json_number_value(exp) + OIDC_SKEW_SECONDS <= e->now) {
        snprintf(err, errlen, "the ID token has expired");
        return false;
    }
    if (!json_is_number(iat) || json_number_value(iat) - OIDC_SKEW_SECONDS > e->now) {
        snprintf(err, errlen, "the ID token is issued in the future (iat)");
        return false;
    }
    if (!nonce || !e->nonce || strcmp(nonce, e->nonce)) {
        snprintf(err, errlen, "the ID token's nonce is not the one this sign-in sent");
        return false;
    }
    const char *sub = jsonutil_str(c, "sub");
    if (!sub || !*sub) {
        snprintf(err, errlen, "the ID token names no subject (sub)");
        return false;
    }
    return true;
}

/* the signature, by a key of the JWKS; the payload as JSON (new) or NULL */
static json_t *verified_payload(cjose_jws_t *jws, const json_t *key, char *err, size_t errlen)
{
    cjose_err cerr;
    char *text = json_dumps(key, JSON_COMPACT);
    cjose_jwk_t *jwk = text ? cjose_jwk_import(text, strlen(text), &cerr) : NULL;
    free(text);
    if (!jwk) {
        snprintf(err, errlen, "the provider's key cannot be read");
        return NULL;
    }
    bool ok = cjose_jws_verify(jws, jwk, &cerr);
    cjose_jwk_release(jwk);
    if (!ok) {
        snprintf(err, errlen, "the ID token's signature does not verify with the provider's key");
        return NULL;
    }
    uint8_t *plain = NULL;
    size_t plen = 0;
    char perr[100];
    json_t *claims = cjose_jws_get_plaintext(jws, &plain, &plen, &cerr)
                         ? jsonutil_parse((const char *)plain, plen, perr, sizeof perr)
                         : NULL;
    if (!json_is_object(claims)) {
        json_decref(claims);
        snprintf(err, errlen, "the ID token's claims are not a JSON object");
        return NULL;
    }
    return claims;
}

json_t *oidc_verify_id_token(const char *token, const json_t *jwks, const OidcExpect *e,
                             bool *unknown_kid, char *err, size_t errlen)
{
    *unknown_kid = false;
    cjose_err cerr;
    cjose_jws_t *jws = token ? cjose_jws_import(token, strlen(token), &cerr) : NULL;
    if (!jws) {
        snprintf(err, errlen, "the ID token is not a signed JWT");
        return NULL;
    }
    cjose_header_t *h = cjose_jws_get_protected(jws);
    const char *alg = cjose_header_get(h, CJOSE_HDR_ALG, &cerr);
    const char *kid = cjose_header_get(h, CJOSE_HDR_KID, &cerr);
    json_t *claims = NULL;
    const json_t *key = NULL;
    if (!alg || !strcasecmp(alg, "none") || !strncasecmp(alg, "HS", 2) || !kty_for(alg) ||
        !in_list(alg, e->algs)) {
        snprintf(err, errlen, "the ID token's algorithm %.20s is not accepted (allowed: %.100s)",
                 alg ? alg : "(none)", e->algs);
    } else if (!(key = find_key(jwks, kid, alg))) {
        *unknown_kid = true;
        snprintf(err, errlen, "the provider has no %s key %.60s", alg, kid ? kid : "(no kid)");
    } else if ((claims = verified_payload(jws, key, err, errlen)) &&
               !check_claims(claims, e, err, errlen)) {
        json_decref(claims);
        claims = NULL;
    }
    cjose_jws_release(jws);
    return claims;
}

/* ---- fetched documents ---- */

static void unref(Oidc *o)
{
    if (--o->refs > 0)
        return;
    json_decref(o->discovery.json);
    json_decref(o->jwks.json);
    free(o->issuer);
    free(o->client_id);
    xfree_secret(o->client_secret);
    free(o->redirect_uri);
    free(o->scopes);
    free(o->algs);
    free(o);
}

Oidc *oidc_new(uv_loop_t *loop, Httpc *http, const OidcConfig *c)
{
    Oidc *o = xcalloc(1, sizeof *o);
    o->loop = loop;
    o->http = http;
    o->issuer = xstrdup(c->issuer);
    size_t n = strlen(o->issuer);
    if (n > 8 && o->issuer[n - 1] == '/')
        o->issuer[n - 1] = '\0';
    o->client_id = xstrdup(c->client_id);
    o->client_secret = c->client_secret && *c->client_secret ? xstrdup(c->client_secret) : NULL;
    o->redirect_uri = xstrdup(c->redirect_uri);
    o->scopes = xstrdup(c->scopes && *c->scopes ? c->scopes : "openid email profile");
    o->algs = xstrdup(c->algs && *c->algs ? c->algs : "RS256,PS256,ES256");
    o->refs = 1;
    return o;
}

static void finish_doc(Oidc *o, Doc *d, const char *error)
{
    Waiter *w = d->waiters;
    d->waiters = NULL;
    d->fetching = false;
    while (w) {
        Waiter *next = w->next;
        w->fn(o, w->ud, o->closing ? "pgfleet is shutting down" : error);
        free(w);
        w = next;
    }
}

void oidc_free(Oidc *o)
{
    if (!o)
        return;
    o->closing = true;
    unref(o);
}

typedef struct Fetch {
    Oidc *o;
    Doc *d;
    bool discovery;
} Fetch;

static const char *adopt_discovery(Oidc *o, json_t *doc)
{
    const char *iss = jsonutil_str(doc, "issuer");
    static const char *const needed[] = {"authorization_endpoint", "token_endpoint", "jwks_uri"};
    if (!iss || strcmp(iss, o->issuer))
        return "the provider's discovery document names another issuer";
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!url_allowed(jsonutil_str(doc, needed[i])))
            return "the provider's discovery document lacks an endpoint, or one is not https";
    const char *end = jsonutil_str(doc, "end_session_endpoint");
    if (end && !url_allowed(end))
        json_object_del(doc, "end_session_endpoint");
    return NULL;
}

static void fetched(void *ud, const HttpcResponse *r)
{
    Fetch *f = ud;
    Oidc *o = f->o;
    char perr[120], why[300] = "";
    json_t *doc = r->status == 200 ? jsonutil_parse(r->body, r->body_len, perr, sizeof perr) : NULL;
    if (!doc) {
        snprintf(why, sizeof why, "the provider's %s could not be read: %s",
                 f->discovery ? "discovery document" : "JWKS",
                 r->curl_code       ? r->error
                 : r->status != 200 ? "HTTP error"
                                    : perr);
    } else if (f->discovery && adopt_discovery(o, doc)) {
        snprintf(why, sizeof why, "%s", adopt_discovery(o, doc));
    } else if (!f->discovery && !json_is_array(json_object_get(doc, "keys"))) {
        snprintf(why, sizeof why, "the provider's JWKS has no keys");
    }
    if (why[0]) {
        json_decref(doc);
        log_warn("oidc: %s", why);
    } else {
        json_decref(f->d->json);
        f->d->json = doc;
        f->d->fetched_at = uv_now(o->loop);
    }
    finish_doc(o, f->d, why[0] ? why : NULL);
    free(f);
    unref(o);
}

/* runs fn once d is fresh enough (max_age_ms; 0: now), fetching it from url when not */
static void with_doc(Oidc *o, Doc *d, bool discovery, const char *url, uint64_t max_age_ms,
                     ReadyFn fn, void *ud)
{
    if (d->json && !d->fetching && uv_now(o->loop) - d->fetched_at < max_age_ms) {
        fn(o, ud, NULL);
        return;
    }
    Waiter *w = xcalloc(1, sizeof *w);
    w->fn = fn;
    w->ud = ud;
    w->next = d->waiters;
    d->waiters = w;
    if (d->fetching)
        return;
    d->fetching = true;
    Fetch *f = xcalloc(1, sizeof *f);
    f->o = o;
    f->d = d;
    f->discovery = discovery;
    o->refs++;
    const char *headers[] = {"Accept: application/json", NULL};
    HttpcRequest req = {.method = "GET", .url = url, .headers = headers, .timeout_ms = 10000};
    if (!httpc_send(o->http, &req, fetched, f)) {
        free(f);
        o->refs--;
        finish_doc(o, d, "pgfleet is shutting down");
    }
}

static void discover(Oidc *o, ReadyFn fn, void *ud)
{
    char *url = xasprintf("%s/.well-known/openid-configuration", o->issuer);
    with_doc(o, &o->discovery, true, url, DISCOVERY_TTL_MS, fn, ud);
    free(url);
}

const char *oidc_end_session_endpoint(const Oidc *o)
{
    return jsonutil_str(o->discovery.json, "end_session_endpoint");
}

/* ---- the authorization URL ---- */

typedef struct UrlCall {
    char *state, *nonce, *challenge;
    OidcUrlCb cb;
    void *ud;
} UrlCall;

static void url_ready(Oidc *o, void *ud, const char *error)
{
    UrlCall *c = ud;
    if (error) {
        c->cb(c->ud, NULL, error);
    } else {
        StrBuf b = STRBUF_INIT;
        const char *ep = jsonutil_str(o->discovery.json, "authorization_endpoint");
        strbuf_puts(&b, ep);
        strbuf_puts(&b, strchr(ep, '?') ? "&" : "?");
        char *scope =
            strstr(o->scopes, "openid") ? xstrdup(o->scopes) : xasprintf("openid %s", o->scopes);
        urlenc_param(&b, "response_type", "code");
        urlenc_param(&b, "client_id", o->client_id);
        urlenc_param(&b, "redirect_uri", o->redirect_uri);
        urlenc_param(&b, "scope", scope);
        urlenc_param(&b, "state", c->state);
        urlenc_param(&b, "nonce", c->nonce);
        urlenc_param(&b, "code_challenge", c->challenge);
        urlenc_param(&b, "code_challenge_method", "S256");
        free(scope);
        c->cb(c->ud, b.data, NULL);
        strbuf_free(&b);
    }
    free(c->state);
    free(c->nonce);
    free(c->challenge);
    free(c);
}

void oidc_authorize_url(Oidc *o, const char *state, const char *nonce, const char *challenge,
                        OidcUrlCb cb, void *ud)
{
    UrlCall *c = xcalloc(1, sizeof *c);
    c->state = xstrdup(state);
    c->nonce = xstrdup(nonce);
    c->challenge = xstrdup(challenge);
    c->cb = cb;
    c->ud = ud;
    discover(o, url_ready, c);
}

/* ---- the code for tokens ---- */

typedef struct Redeem {
    Oidc *o;
    char *code, *verifier, *nonce;
    char *id_token;
    bool refetched;
    OidcClaimsCb cb;
    void *ud;
} Redeem;

static void redeem_done(Redeem *r, const json_t *claims, const char *error)
{
    r->cb(r->ud, claims, claims ? r->id_token : NULL, error);
    xfree_secret(r->code);
    xfree_secret(r->verifier);
    free(r->nonce);
    xfree_secret(r->id_token);
    Oidc *o = r->o;
    free(r);
    unref(o);
}

static void jwks_ready(Oidc *o, void *ud, const char *error);

static void verify(Redeem *r)
{
    Oidc *o = r->o;
    OidcExpect e = {.issuer = o->issuer,
                    .client_id = o->client_id,
                    .nonce = r->nonce,
                    .algs = o->algs,
                    .now = now_s()};
    bool unknown_kid = false;
    char err[300];
    json_t *claims =
        oidc_verify_id_token(r->id_token, o->jwks.json, &e, &unknown_kid, err, sizeof err);
    if (!claims && unknown_kid && !r->refetched &&
        uv_now(o->loop) - o->jwks.fetched_at >= OIDC_JWKS_MIN_REFETCH_MS) {
        r->refetched = true; /* the provider may have rotated its keys */
        with_doc(o, &o->jwks, false, jsonutil_str(o->discovery.json, "jwks_uri"), 0, jwks_ready, r);
        return;
    }
    redeem_done(r, claims, claims ? NULL : err);
    json_decref(claims);
}

static void jwks_ready(Oidc *o, void *ud, const char *error)
{
    (void)o;
    Redeem *r = ud;
    if (error)
        redeem_done(r, NULL, error);
    else
        verify(r);
}

static void tokens(void *ud, const HttpcResponse *resp)
{
    Redeem *r = ud;
    Oidc *o = r->o;
    char perr[100];
    json_t *doc = jsonutil_parse(resp->body, resp->body_len, perr, sizeof perr);
    const char *id_token = jsonutil_str(doc, "id_token");
    if (resp->curl_code || resp->status != 200 || !id_token) {
        char why[300];
        const char *e = jsonutil_str(doc, "error");
        snprintf(why, sizeof why, "the provider did not give an ID token for the code: %s",
                 resp->curl_code ? resp->error
                 : e             ? e
                                 : "no id_token");
        json_decref(doc);
        redeem_done(r, NULL, why);
        return;
    }
    r->id_token = xstrdup(id_token);
    json_decref(doc);
    with_doc(o, &o->jwks, false, jsonutil_str(o->discovery.json, "jwks_uri"), DISCOVERY_TTL_MS,
             jwks_ready, r);
}

static void token_endpoint_ready(Oidc *o, void *ud, const char *error)
{
    Redeem *r = ud;
    if (error) {
        redeem_done(r, NULL, error);
        return;
    }
    StrBuf body = STRBUF_INIT;
    urlenc_param(&body, "grant_type", "authorization_code");
    urlenc_param(&body, "code", r->code);
    urlenc_param(&body, "redirect_uri", o->redirect_uri);
    urlenc_param(&body, "code_verifier", r->verifier);
    char *auth = NULL;
    if (o->client_secret) {
        /* client_secret_basic: each part form-encoded, then base64 */
        StrBuf pair = STRBUF_INIT;
        urlenc_append(&pair, o->client_id);
        strbuf_puts(&pair, ":");
        urlenc_append(&pair, o->client_secret);
        size_t blen = sodium_base64_ENCODED_LEN(pair.len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = xmalloc(blen);
        sodium_bin2base64(b64, blen, (const unsigned char *)pair.data, pair.len,
                          sodium_base64_VARIANT_ORIGINAL);
        auth = xasprintf("Authorization: Basic %s", b64);
        sodium_memzero(pair.data, pair.len);
        strbuf_free(&pair);
        xfree_secret(b64);
    } else {
        urlenc_param(&body, "client_id", o->client_id);
    }
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", auth, NULL};
    HttpcRequest req = {.method = "POST",
                        .url = jsonutil_str(o->discovery.json, "token_endpoint"),
                        .headers = headers,
                        .body = body.data,
                        .body_len = body.len,
                        .timeout_ms = 10000};
    bool sent = httpc_send(o->http, &req, tokens, r);
    sodium_memzero(body.data, body.len);
    strbuf_free(&body);
    xfree_secret(auth);
    if (!sent)
        redeem_done(r, NULL, "pgfleet is shutting down");
}

void oidc_redeem(Oidc *o, const char *code, const char *verifier, const char *nonce,
                 OidcClaimsCb cb, void *ud)
{
    Redeem *r = xcalloc(1, sizeof *r);
    r->o = o;
    o->refs++;
    r->code = xstrdup(code);
    r->verifier = xstrdup(verifier);
    r->nonce = xstrdup(nonce);
    r->cb = cb;
    r->ud = ud;
    discover(o, token_endpoint_ready, r);
}
