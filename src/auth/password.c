#include "auth/password.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/xalloc.h"

#define MAX_MEM_KIB (256 * 1024)
#define MAX_PASSES  10

static char dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static size_t verifying;

static void make_dummy(void)
{
    unsigned char random[32];
    randombytes_buf(random, sizeof random);
    if (crypto_pwhash_str(dummy_hash, (const char *)random, sizeof random,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = '\0';
    sodium_memzero(random, sizeof random);
}

bool password_hash(const char *password, size_t len, char out[PASSWORD_HASH_MAX])
{
    _Static_assert(crypto_pwhash_STRBYTES <= PASSWORD_HASH_MAX, "hash buffer");
    return crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

bool password_hash_valid(const char *hash)
{
    unsigned v, m, t, p;
    int used = 0;
    if (!hash || strlen(hash) >= crypto_pwhash_STRBYTES)
        return false;
    if (sscanf(hash, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &v, &m, &t, &p, &used) != 4 || !used)
        return false;
    return v == 19 && m >= 8 && m <= MAX_MEM_KIB && t >= 1 && t <= MAX_PASSES && p == 1 &&
           strchr(hash + used, '$') != NULL;
}

typedef struct Verify {
    uv_work_t work;
    char hash[PASSWORD_HASH_MAX];
    char *password;
    size_t len;
    bool dummy;
    bool ok;
    PasswordVerifyCb cb;
    void *ud;
} Verify;

static void verify_work(uv_work_t *w)
{
    Verify *v = w->data;
    if (v->dummy) {
        pthread_once(&dummy_once, make_dummy);
        snprintf(v->hash, sizeof v->hash, "%s", dummy_hash);
    }
    bool ok = v->hash[0] && crypto_pwhash_str_verify(v->hash, v->password, v->len) == 0;
    v->ok = ok && !v->dummy;
}

static void verify_done(uv_work_t *w, int status)
{
    Verify *v = w->data;
    verifying--;
    sodium_memzero(v->password, v->len);
    free(v->password);
    v->cb(v->ud, status == 0 && v->ok);
    free(v);
}

void password_verify(uv_loop_t *loop, const char *hash, const char *password, size_t len,
                     PasswordVerifyCb cb, void *ud)
{
    Verify *v = xcalloc(1, sizeof *v);
    v->work.data = v;
    v->dummy = !hash || !password_hash_valid(hash);
    if (!v->dummy)
        snprintf(v->hash, sizeof v->hash, "%s", hash);
    v->password = xmalloc(len + 1);
    memcpy(v->password, password, len);
    v->password[len] = '\0';
    v->len = len;
    v->cb = cb;
    v->ud = ud;
    verifying++;
    uv_queue_work(loop, &v->work, verify_work, verify_done);
}

size_t password_verifying(void)
{
    return verifying;
}
