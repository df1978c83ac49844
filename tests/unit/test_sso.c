/* single sign-on's pure parts: ID tokens (cjose), return URLs, form fields, SAML times */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjose/cjose.h>
#include <sodium.h>

#include "auth/oidc.h"
#include "auth/saml.h"
#include "auth/sso.h"
#include "common/urlenc.h"
#include "test_util.h"

static cjose_jwk_t *key;
static json_t *jwks;

static char *b64(const char *s)
{
    size_t n = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(n);
    sodium_bin2base64(out, n, (const unsigned char *)s, strlen(s),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static int setup(void **state)
{
    (void)state;
    cjose_err err;
    static const uint8_t e[] = {1, 0, 1};
    key = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    cjose_jwk_set_kid(key, "k1", 2, &err);
    char *pub = cjose_jwk_to_json(key, false, &err);
    json_error_t je;
    json_t *k = json_loads(pub, 0, &je);
    free(pub);
    json_object_set_new(k, "use", json_string("sig"));
    json_object_set_new(k, "alg", json_string("RS256"));
    jwks = json_pack("{s:[o]}", "keys", k);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cjose_jwk_release(key);
    json_decref(jwks);
    return 0;
}

/* claims with overrides, signed RS256 by the test key */
static char *token(const char *alg, json_t *claims)
{
    cjose_err err;
    cjose_header_t *h = cjose_header_new(&err);
    cjose_header_set(h, CJOSE_HDR_ALG, alg, &err);
    cjose_header_set(h, CJOSE_HDR_KID, "k1", &err);
    char *payload = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    cjose_jws_t *jws = cjose_jws_sign(key, h, (const uint8_t *)payload, strlen(payload), &err);
    const char *compact = NULL;
    cjose_jws_export(jws, &compact, &err);
    char *out = strdup(compact);
    cjose_jws_release(jws);
    cjose_header_release(h);
    free(payload);
    return out;
}

static json_t *claims(double now)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", "https://idp.example", "aud",
                     "pgfleet", "sub", "u1", "nonce", "n1", "iat", (json_int_t)now, "exp",
                     (json_int_t)now + 300);
}

static void expect(const char *tok, bool ok, const char *words)
{
    OidcExpect e = {.issuer = "https://idp.example",
                    .client_id = "pgfleet",
                    .nonce = "n1",
                    .algs = "RS256,ES256",
                    .now = (double)time(NULL)};
    bool unknown = false;
    char err[300] = "";
    json_t *c = oidc_verify_id_token(tok, jwks, &e, &unknown, err, sizeof err);
    if (ok && !c)
        fail_msg("refused: %s", err);
    if (!ok && c)
        fail_msg("accepted a token that should fail with '%s'", words);
    if (!ok && !strstr(err, words))
        fail_msg("error '%s' lacks '%s'", err, words);
    json_decref(c);
}

static void test_id_tokens(void **state)
{
    (void)state;
    double now = (double)time(NULL);
    char *t = token("RS256", claims(now));
    expect(t, true, NULL);
    /* the same token with its payload changed: the signature no longer holds */
    char *dot = strchr(t, '.');
    char *forged_payload = b64("{\"iss\":\"https://idp.example\",\"aud\":\"pgfleet\",\"sub\":"
                               "\"admin\",\"nonce\":\"n1\",\"iat\":1,\"exp\":99999999999}");
    char *sig = strrchr(t, '.');
    char forged[4096];
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot - t), t, forged_payload, sig);
    expect(forged, false, "does not verify");
    free(forged_payload);
    free(t);

    json_t *c = claims(now);
    json_object_set_new(c, "aud", json_string("other"));
    t = token("RS256", c);
    expect(t, false, "another client");
    free(t);
    c = claims(now);
    json_object_set_new(c, "aud", json_pack("[s, s]", "pgfleet", "other"));
    t = token("RS256", c);
    expect(t, false, "another client"); /* several audiences and no azp */
    free(t);
    c = claims(now);
    json_object_set_new(c, "aud", json_pack("[s, s]", "pgfleet", "other"));
    json_object_set_new(c, "azp", json_string("pgfleet"));
    t = token("RS256", c);
    expect(t, true, NULL);
    free(t);
    c = claims(now);
    json_object_set_new(c, "iss", json_string("https://evil.example"));
    t = token("RS256", c);
    expect(t, false, "another issuer");
    free(t);
    c = claims(now);
    json_object_set_new(c, "nonce", json_string("n2"));
    t = token("RS256", c);
    expect(t, false, "nonce");
    free(t);
    c = claims(now);
    json_object_del(c, "nonce");
    t = token("RS256", c);
    expect(t, false, "nonce");
    free(t);
    c = claims(now);
    json_object_set_new(c, "exp", json_integer((json_int_t)now - 120));
    t = token("RS256", c);
    expect(t, false, "expired");
    free(t);
    c = claims(now);
    json_object_set_new(c, "iat", json_integer((json_int_t)now + 600));
    t = token("RS256", c);
    expect(t, false, "future");
    free(t);
    c = claims(now);
    json_object_del(c, "sub");
    t = token("RS256", c);
    expect(t, false, "subject");
    free(t);
    /* RS384 is a fine algorithm, but not in this allow-list */
    t = token("RS384", claims(now));
    expect(t, false, "not accepted");
    free(t);
}

static void test_algorithms_that_are_never_accepted(void **state)
{
    (void)state;
    char *h = b64("{\"alg\":\"none\",\"kid\":\"k1\"}");
    char *p = b64("{\"iss\":\"https://idp.example\",\"aud\":\"pgfleet\",\"sub\":\"u1\","
                  "\"nonce\":\"n1\",\"iat\":1,\"exp\":99999999999}");
    char none[2048];
    snprintf(none, sizeof none, "%s.%s.", h, p);
    expect(none, false, "");
    free(h);
    h = b64("{\"alg\":\"HS256\",\"kid\":\"k1\"}");
    char hs[2048];
    snprintf(hs, sizeof hs, "%s.%s.c2lnbmF0dXJl", h, p);
    expect(hs, false, "HS256");
    free(h);
    free(p);
    expect("not.a.token", false, "");
    expect("", false, "");
    expect(NULL, false, "");
}

static void test_unknown_keys_are_reported(void **state)
{
    (void)state;
    cjose_err err;
    static const uint8_t e[] = {1, 0, 1};
    cjose_jwk_t *other = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    cjose_header_t *h = cjose_header_new(&err);
    cjose_header_set(h, CJOSE_HDR_ALG, "RS256", &err);
    cjose_header_set(h, CJOSE_HDR_KID, "k2", &err);
    const char *payload = "{\"sub\":\"x\"}";
    cjose_jws_t *jws = cjose_jws_sign(other, h, (const uint8_t *)payload, strlen(payload), &err);
    const char *compact = NULL;
    cjose_jws_export(jws, &compact, &err);
    OidcExpect x = {.issuer = "i", .client_id = "c", .nonce = "n", .algs = "RS256", .now = 1};
    bool unknown = false;
    char msg[200];
    assert_null(oidc_verify_id_token(compact, jwks, &x, &unknown, msg, sizeof msg));
    assert_true(unknown);
    assert_non_null(strstr(msg, "k2"));
    cjose_jws_release(jws);
    cjose_header_release(h);
    cjose_jwk_release(other);
}

static void test_pkce(void **state)
{
    (void)state;
    /* RFC 7636, appendix B */
    char c[44];
    oidc_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
    assert_string_equal(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void test_return_urls(void **state)
{
    (void)state;
    assert_string_equal(sso_safe_next("/api/databases?x=1"), "/api/databases?x=1");
    assert_string_equal(sso_safe_next("/"), "/");
    const char *bad[] = {"//evil.test",
                         "/\\evil.test",
                         "https://evil.test",
                         "evil.test",
                         "javascript:x",
                         "",
                         "/a\nb",
                         "/a\\b",
                         "\\\\evil.test",
                         "/\x7f",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(sso_safe_next(bad[i]), "/");
}

static void test_form_fields(void **state)
{
    (void)state;
    const char *body = "RelayState=abc%2Bdef&SAMLResponse=PHg%2B+Cg%3D%3D&empty=&x=%zz";
    char *v = urlenc_form_value(body, strlen(body), "SAMLResponse");
    assert_string_equal(v, "PHg+ Cg==");
    free(v);
    v = urlenc_form_value(body, strlen(body), "RelayState");
    assert_string_equal(v, "abc+def");
    free(v);
    v = urlenc_form_value(body, strlen(body), "empty");
    assert_string_equal(v, "");
    free(v);
    assert_null(urlenc_form_value(body, strlen(body), "x"));     /* a bad escape */
    assert_null(urlenc_form_value(body, strlen(body), "Relay")); /* a prefix is not a name */
    assert_null(urlenc_form_value("a=%00b", 6, "a"));            /* no NUL smuggled in */
    char *e = urlenc("a b/é&=");
    assert_string_equal(e, "a%20b%2F%C3%A9%26%3D");
    free(e);
}

static void test_saml_times_and_metadata(void **state)
{
    (void)state;
    assert_true(saml_parse_time("1970-01-01T00:00:10Z") == 10);
    assert_true(saml_parse_time("1970-01-01T00:00:10.5Z") == 10.5);
    assert_true(saml_parse_time("1970-01-01T00:00:10+01:00") < 0);
    assert_true(saml_parse_time("yesterday") < 0);
    assert_true(saml_parse_time(NULL) < 0);
    char *md = saml_metadata_xml("https://p.example/auth/saml/metadata?a=1&b=\"2\"",
                                 "https://p.example/auth/saml/acs");
    assert_non_null(strstr(md, "entityID=\"https://p.example/auth/saml/metadata?a=1&amp;b=&quot;2"
                               "&quot;\""));
    assert_non_null(strstr(md, "Location=\"https://p.example/auth/saml/acs\""));
    free(md);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_tokens),
        cmocka_unit_test(test_algorithms_that_are_never_accepted),
        cmocka_unit_test(test_unknown_keys_are_reported),
        cmocka_unit_test(test_pkce),
        cmocka_unit_test(test_return_urls),
        cmocka_unit_test(test_form_fields),
        cmocka_unit_test(test_saml_times_and_metadata),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
