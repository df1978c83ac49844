#include "auth/throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/xalloc.h"

struct Throttle {
    Store *store;
    long backoff_ms, lock_ms;
};

/* KEYS: pairs of (count, wait); answers {longest wait left in ms, highest count} */
static const char check_script[] = "local w, n = 0, 0\n"
                                   "for i = 1, #KEYS, 2 do\n"
                                   "  local c = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
                                   "  local t = redis.call('PTTL', KEYS[i + 1])\n"
                                   "  if c > n then n = c end\n"
                                   "  if t > w then w = t end\n"
                                   "end\n"
                                   "return {w, n}\n";

/* ARGV: backoff_ms, lock_ms, lock_after; counts one failure for each pair */
static const char fail_script[] =
    "local w, n = 0, 0\n"
    "local base, lock, after = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "for i = 1, #KEYS, 2 do\n"
    "  local c = redis.call('INCR', KEYS[i])\n"
    "  redis.call('PEXPIRE', KEYS[i], lock)\n"
    "  local d = 0\n"
    "  if c >= after then d = lock elseif c >= 3 then d = base * 2 ^ (c - 3) end\n"
    "  if d > lock then d = lock end\n"
    "  d = math.floor(d)\n"
    "  if d > 0 then redis.call('SET', KEYS[i + 1], '1', 'PX', d) end\n"
    "  if d > w then w = d end\n"
    "  if c > n then n = c end\n"
    "end\n"
    "return {w, n}\n";

Throttle *throttle_new(Store *store, long backoff_ms, long lock_ms)
{
    Throttle *t = xcalloc(1, sizeof *t);
    t->store = store;
    t->backoff_ms = backoff_ms;
    t->lock_ms = lock_ms < 1 ? 1 : lock_ms;
    return t;
}

void throttle_free(Throttle *t)
{
    free(t);
}

/* login:<kind>:<u|a>:<sha256 of the lower-cased text>, prefixed */
static char *key_of(const Throttle *t, const char *kind, char who, const char *text)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (const char *p = text ? text : ""; *p; p++) {
        unsigned char c = (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        crypto_hash_sha256_update(&st, &c, 1);
    }
    crypto_hash_sha256_final(&st, h);
    char hex[2 * sizeof h + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    char k[128];
    snprintf(k, sizeof k, "login:%s:%c:%s", kind, who, hex);
    return store_key(t->store, k);
}

typedef struct Call {
    ThrottleCb cb;
    void *ud;
} Call;

static void answered(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Call *c = ud;
    long wait = (long)json_integer_value(json_array_get(reply, 0));
    long n = (long)json_integer_value(json_array_get(reply, 1));
    if (c->cb)
        c->cb(c->ud, err, err == PGF_OK && wait > 0 ? wait : 0, err == PGF_OK ? n : 0);
    free(c);
}

static void run(Throttle *t, const char *script, const char *username, const char *address,
                bool with_args, ThrottleCb cb, void *ud)
{
    char *keys[4] = {key_of(t, "fail", 'u', username), key_of(t, "wait", 'u', username),
                     key_of(t, "fail", 'a', address), key_of(t, "wait", 'a', address)};
    char base[24], lock[24], after[8];
    snprintf(base, sizeof base, "%ld", t->backoff_ms);
    snprintf(lock, sizeof lock, "%ld", t->lock_ms);
    snprintf(after, sizeof after, "%d", THROTTLE_LOCK_AFTER);
    const char *argv[] = {"EVAL",  script,  "4",  keys[0], keys[1],
                          keys[2], keys[3], base, lock,    after};
    Call *c = xcalloc(1, sizeof *c);
    c->cb = cb;
    c->ud = ud;
    store_call(t->store, answered, c, with_args ? 10 : 7, argv);
    for (int i = 0; i < 4; i++)
        free(keys[i]);
}

void throttle_check(Throttle *t, const char *username, const char *address, ThrottleCb cb, void *ud)
{
    run(t, check_script, username, address, false, cb, ud);
}

void throttle_failed(Throttle *t, const char *username, const char *address, ThrottleCb cb,
                     void *ud)
{
    run(t, fail_script, username, address, true, cb, ud);
}

void throttle_succeeded(Throttle *t, const char *username)
{
    char *keys[2] = {key_of(t, "fail", 'u', username), key_of(t, "wait", 'u', username)};
    const char *argv[] = {"DEL", keys[0], keys[1]};
    store_call(t->store, NULL, NULL, 3, argv);
    free(keys[0]);
    free(keys[1]);
}
