/*
 * authkey: the API-key method (AUTH_KEY).
 *
 * A request presenting the key as "Authorization: Bearer KEY" or
 * "X-API-Key: KEY" is admin. The comparison takes the same time whatever the
 * presented value: both sides are hashed (BLAKE2b, libsodium) and the digests
 * compared with sodium_memcmp, so neither content nor length leaks. The key
 * itself is kept only as its digest.
 */
#ifndef PGFLEET_AUTHKEY_H
#define PGFLEET_AUTHKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/rbac.h"

typedef struct AuthKey AuthKey;

/* shorter keys are refused at start-up (exit 17) */
#define AUTHKEY_MIN_LENGTH 24

/* NULL when key is NULL or empty: the method is off */
AuthKey *authkey_new(const char *key);
void authkey_free(AuthKey *ak);

/* constant-time check of a presented key */
bool authkey_check(const AuthKey *ak, const char *presented, size_t len);

/*
 * Extracts the key from the request headers: a Bearer token in authorization
 * (may be NULL) or the x_api_key header value (may be NULL). Returns NULL when
 * neither carries one.
 */
const char *authkey_presented(const char *authorization, const char *x_api_key, size_t *len);

#endif
