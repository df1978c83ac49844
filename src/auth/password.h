/*
 * password: argon2id hashes through libsodium.
 *
 * Hashes are crypto_pwhash_str strings with the INTERACTIVE limits: argon2id
 * v1.3, 2 passes (opslimit), 64 MiB (memlimit), one lane, a 16-byte random
 * salt ("$argon2id$v=19$m=65536,t=2,p=1$..."). About 55 ms and 64 MiB per hash
 * on the machines pgfleet is built on. A verification runs on the libuv
 * thread pool, never on the loop; a name with no user is checked against a
 * hash of a random password, so both answers take the same work.
 */
#ifndef PGFLEET_PASSWORD_H
#define PGFLEET_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#define PASSWORD_MIN_LENGTH 12
#define PASSWORD_MAX_LENGTH 1024
#define PASSWORD_HASH_MAX   128

/* hashes password into out (PASSWORD_HASH_MAX); false when out of memory */
bool password_hash(const char *password, size_t len, char out[PASSWORD_HASH_MAX])
    __attribute__((warn_unused_result));
/* an argon2id string within the limits pgfleet verifies (at most 256 MiB, 10 passes) */
bool password_hash_valid(const char *hash);

/* ok: the password matches; called on the loop */
typedef void (*PasswordVerifyCb)(void *ud, bool ok);
/*
 * Verifies on the thread pool; hash NULL: against the dummy hash (ok is
 * always false). The password is copied and wiped after use.
 */
void password_verify(uv_loop_t *loop, const char *hash, const char *password, size_t len,
                     PasswordVerifyCb cb, void *ud);
/* verifications queued or running now (for the cap on concurrent sign-ins) */
size_t password_verifying(void);

#endif
