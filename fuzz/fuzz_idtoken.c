/* libFuzzer target: ID tokens as a hostile provider's token endpoint could send them,
 * return URLs and form fields as a hostile browser could (make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>

#include "auth/oidc.h"
#include "auth/sso.h"
#include "common/urlenc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *jwks;

static void setup(void)
{
    cjose_err err;
    static const uint8_t e[] = {1, 0, 1};
    cjose_jwk_t *k = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    cjose_jwk_set_kid(k, "k1", 2, &err);
    char *pub = cjose_jwk_to_json(k, false, &err);
    json_error_t je;
    jwks = json_pack("{s:[o]}", "keys", json_loads(pub, 0, &je));
    free(pub);
    cjose_jwk_release(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!jwks)
        setup();
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    OidcExpect x = {.issuer = "https://idp.fuzz",
                    .client_id = "pgfleet",
                    .nonce = "n",
                    .algs = "RS256,PS256,ES256",
                    .now = 1.8e9};
    bool unknown;
    char err[300];
    json_decref(oidc_verify_id_token(s, jwks, &x, &unknown, err, sizeof err));
    (void)sso_safe_next(s);
    free(urlenc_form_value(s, size, "SAMLResponse"));
    free(s);
    return 0;
}
