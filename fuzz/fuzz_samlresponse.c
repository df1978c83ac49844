/* libFuzzer target: SAML Responses as a hostile client could post them to the ACS
 * (make fuzz). The IdP is a fixed one (its certificate below, made for this target);
 * the input is the Response's XML, base64-encoded on the way in as a browser would. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/saml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char idp_cert[] =
    "MIIDCTCCAfGgAwIBAgIUFlgQ8y6Lm7YLomqNeXqaCSLhkHgwDQYJKoZIhvcNAQELBQAwEzERMA8G"
    "A1UEAwwIZnV6eiBpZHAwIBcNMjYxMjAxMDkxNTMyWhgPMjEyNjExMDcwOTE1MzJaMBMxETAPBgNV"
    "BAMMCGZ1enogaWRwMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnZ/iDGFz0AKIqVGO"
    "0RmutnoVDAsUJ1NqsQMJRyNAkltDwA14rMTIDYlF6aSm6gR0fnD0dU4LWUlKjC6hsKAwYtMKd2zC"
    "MmyXG8LQr1g5UrdMgx9HJG8JuyTcfVxjKwCQICI94XQkPV/h9qi16SWmMLgpEZoXEVNc96lbe8j+"
    "5gFvPXCt061X0O0S+WdDQ4Vl7eLKBZcwwdaEh/kBK+4aOH6U30e8sCxNx8J8SUArW1WLXOl1fP6m"
    "kL70atw0SN2oiHxTMyvQhspqkEDNKvBaUMkzlVRH0y0xJ9pf0r0SnOPyQirdpWtov1IkznPJ+KAW"
    "4EYSCw/yFkn8ysPLyL4aswIDAQABo1MwUTAdBgNVHQ4EFgQU2o1bHp844gSUESKXqrQju4Hr38Ew"
    "HwYDVR0jBBgwFoAU2o1bHp844gSUESKXqrQju4Hr38EwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG"
    "9w0BAQsFAAOCAQEATj+YZ0IiDYVvFlz6nEW2KJT74ag8v6ghxUQ06CgLT2g7rGd2ho3ReUSdQH5o"
    "oI0V8/CdeFEn1DT8F++G8Bf6FKCztAVzkf8fe0XDKcQyAXZXG+aSZhlcdhkRzunZQI2wPMbD0Kaa"
    "bWMPono5j8QKPLGuotewfcVlPtOA3baDo8FbeZ0Omi34SwZpzKubf7cSbtmz43cHlbC4bnCmC0Aw"
    "IwHWLK+rowrO8/kC654Wbm5lG7IH+ZFEnKepqx9h//2CFjOqB3LlR5LCOsFJE9vWFgDC7L48mpkh"
    "tWE8wp8su4+jS0SdKcDnVVyhe6YeVvm5ze+pHo+WuPeUKMpRUoZ3tA==";

static SamlSp *sp;

static void setup(void)
{
    char *md = NULL;
    size_t n = sizeof idp_cert + 1024;
    md = malloc(n);
    snprintf(md, n,
             "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
             "entityID=\"https://idp.fuzz/metadata\"><md:IDPSSODescriptor "
             "protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
             "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo "
             "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>"
             "%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
             "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-"
             "Redirect\" Location=\"https://idp.fuzz/sso\"/></md:IDPSSODescriptor>"
             "</md:EntityDescriptor>",
             idp_cert);
    SamlSpConfig c = {.entity_id = "https://sp.fuzz/auth/saml/metadata",
                      .acs_url = "https://sp.fuzz/auth/saml/acs",
                      .idp_metadata = md,
                      .clock_skew_seconds = 60};
    char err[300];
    sp = saml_sp_new(&c, err, sizeof err);
    free(md);
    if (!sp)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sp)
        setup();
    size_t n = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(n);
    sodium_bin2base64(b64, n, data, size, sodium_base64_VARIANT_ORIGINAL);
    SamlAssertion a;
    char err[400];
    if (saml_sp_read_response(sp, b64, &a, err, sizeof err))
        saml_assertion_free(&a);
    free(b64);
    return 0;
}
