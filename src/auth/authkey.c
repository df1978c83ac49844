#include "auth/authkey.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/xalloc.h"

struct AuthKey {
    unsigned char digest[crypto_generichash_BYTES];
    unsigned char salt[crypto_generichash_KEYBYTES];
};

static void digest_of(const AuthKey *ak, const char *s, size_t len,
                      unsigned char out[crypto_generichash_BYTES])
{
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)s, len, ak->salt,
                       sizeof ak->salt);
}

AuthKey *authkey_new(const char *key)
{
    if (!key || !*key)
        return NULL;
    AuthKey *ak = xcalloc(1, sizeof *ak);
    /* a per-process keyed hash: the digest in memory is useless elsewhere */
    randombytes_buf(ak->salt, sizeof ak->salt);
    digest_of(ak, key, strlen(key), ak->digest);
    return ak;
}

void authkey_free(AuthKey *ak)
{
    if (!ak)
        return;
    sodium_memzero(ak, sizeof *ak);
    free(ak);
}

bool authkey_check(const AuthKey *ak, const char *presented, size_t len)
{
    if (!ak || !presented)
        return false;
    unsigned char d[crypto_generichash_BYTES];
    digest_of(ak, presented, len, d);
    return sodium_memcmp(d, ak->digest, sizeof d) == 0;
}

const char *authkey_presented(const char *authorization, const char *x_api_key, size_t *len)
{
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *k = authorization + 7;
        while (*k == ' ')
            k++;
        size_t n = strlen(k);
        while (n && k[n - 1] == ' ')
            n--;
        if (n) {
            *len = n;
            return k;
        }
    }
    if (x_api_key && *x_api_key) {
        *len = strlen(x_api_key);
        return x_api_key;
    }
    return NULL;
}
