/*
 * store: pgfleet's state in Redis (ElastiCache in production).
 *
 * One asynchronous connection on the loop (hiredis + its libuv adapter), TLS
 * for rediss://, AUTH with an ACL user, SELECT of the database. The
 * connection is a state machine:
 *
 *   DISCONNECTED --timer--> CONNECTING --connected--> HANDSHAKE --AUTH/SELECT ok--> READY
 *        ^                      |                         |                          |
 *        +----- backoff --------+-------------------------+------ error/timeout -----+
 *
 * While not READY every operation fails at once with PGF_ERR_STORE_DOWN (the
 * API answers 503) and a reconnect is scheduled with decorrelated jitter.
 *
 * Keys: everything lives under one prefix (default "pgfleet:"); the layout
 * is documented in store/keys.h.
 *
 * Callback contract: a callback is called exactly once per accepted operation,
 * from the loop, never from inside the call that started it. It may start new
 * operations; it must not call store_free.
 */
#ifndef PGFLEET_STORE_H
#define PGFLEET_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include <jansson.h>

#include "common/error.h"
#include "common/failure.h"

typedef struct Store Store;

typedef enum StoreState {
    STORE_DISCONNECTED,
    STORE_CONNECTING,
    STORE_HANDSHAKE,
    STORE_READY,
    STORE_CLOSED,
} StoreState;

typedef struct StoreOptions {
    const char *url;     /* redis:// or rediss:// */
    const char *prefix;  /* key prefix, e.g. "pgfleet:" */
    long timeout_ms;     /* connect and command timeout */
    const char *ca_file; /* rediss://: CA bundle; NULL: the system's trust store */
    /* called on every change into or out of READY; may be NULL */
    void (*on_state)(void *ud, StoreState state);
    void *ud;
} StoreOptions;

/*
 * err is NULL on success. value is NULL when the key does not exist (GET) and
 * is only valid during the call.
 */
typedef void (*StoreDoneCb)(void *ud, PgfError err, const char *errmsg);
typedef void (*StoreValueCb)(void *ud, PgfError err, const char *errmsg, const char *value,
                             size_t len);
typedef void (*StorePingCb)(void *ud, PgfError err, const char *errmsg, double latency_ms);

/* Validates the URL and starts connecting. NULL with err filled when the URL is bad. */
Store *store_new(uv_loop_t *loop, const StoreOptions *opts, char *err, size_t errlen);
/* Drops the connection (pending callbacks get PGF_ERR_STORE_DOWN) and frees once closed. */
void store_free(Store *st);

StoreState store_state(const Store *st);
const char *store_state_name(StoreState state);
/* the last connection error, "" if none */
const char *store_last_error(const Store *st);
const char *store_prefix(const Store *st);
/* the URL with any password masked, for logs and status */
const char *store_display_url(const Store *st);

/*
 * Operations. Each returns PGF_OK when accepted (the callback will run), or
 * PGF_ERR_STORE_DOWN when the store is not READY (the callback will not run).
 * Keys are given without the prefix.
 */
PgfError store_set(Store *st, const char *key, const char *value, size_t len, long ttl_seconds,
                   StoreDoneCb cb, void *ud) __attribute__((warn_unused_result));
PgfError store_get(Store *st, const char *key, StoreValueCb cb, void *ud)
    __attribute__((warn_unused_result));
PgfError store_del(Store *st, const char *key, StoreDoneCb cb, void *ud)
    __attribute__((warn_unused_result));
PgfError store_ping(Store *st, StorePingCb cb, void *ud) __attribute__((warn_unused_result));

/* hashes: one field per record */
typedef void (*StoreHashCb)(void *ud, PgfError err, const char *errmsg, size_t n,
                            const char *const *fields, const char *const *values,
                            const size_t *lens);
PgfError store_hset(Store *st, const char *key, const char *field, const char *value, size_t len,
                    StoreDoneCb cb, void *ud) __attribute__((warn_unused_result));
/* cb gets err PGF_ERR_NOT_FOUND when the field did not exist */
PgfError store_hdel(Store *st, const char *key, const char *field, StoreDoneCb cb, void *ud)
    __attribute__((warn_unused_result));
PgfError store_hgetall(Store *st, const char *key, StoreHashCb cb, void *ud)
    __attribute__((warn_unused_result));
/* one field: cb gets value NULL when it does not exist */
PgfError store_hget(Store *st, const char *key, const char *field, StoreValueCb cb, void *ud)
    __attribute__((warn_unused_result));

/*
 * Any command, for what the calls above do not cover (streams, sorted sets, counters):
 * argv[0..argc) with their lengths (lens NULL: NUL-terminated). Keys are not prefixed:
 * build them with store_key. The reply as JSON (borrowed during the call): a string,
 * an integer, null (nil), or an array of those; a Redis error is err.
 */
typedef void (*StoreJsonCb)(void *ud, PgfError err, const char *errmsg, const json_t *reply);
PgfError store_command(Store *st, int argc, const char *const *argv, const size_t *lens,
                       StoreJsonCb cb, void *ud) __attribute__((warn_unused_result));
/*
 * Publish / subscribe. store_subscribe turns this store's connection into a
 * listener of one channel (prefix + channel): a store used for it does
 * nothing else. It subscribes again after every reconnect; messages sent
 * while it was down are lost (pub/sub keeps none). cb gets each payload,
 * valid during the call. store_publish sends one; while the store is down
 * it is dropped.
 */
typedef void (*StoreMessageCb)(void *ud, const char *payload, size_t len);
void store_subscribe(Store *st, const char *channel, StoreMessageCb cb, void *ud);
void store_publish(Store *st, const char *channel, const char *payload, size_t len);

/* prefix + key (new string) */
char *store_key(const Store *st, const char *key);
/*
 * store_command with NUL-terminated arguments that always calls cb (when not
 * NULL) exactly once: with the reply, or at once, inside this call, with
 * PGF_ERR_STORE_DOWN when the store is not ready. cb NULL: the reply is dropped.
 */
void store_call(Store *st, StoreJsonCb cb, void *ud, int argc, const char *const *argv);

/*
 * A stream whose entries hold one JSON object each (field "e"), read newest
 * first between since and until (unix s; 0: open), keeping the entries filter
 * accepts (NULL: all) until limit of them, reading at most max_scan entries.
 * entries is borrowed during the call; complete is false when max_scan stopped it.
 */
typedef bool (*StreamFilter)(void *fud, const json_t *entry);
typedef void (*StreamScanCb)(void *ud, PgfError err, const char *errmsg, const json_t *entries,
                             long scanned, bool complete);
void store_scan_stream(Store *st, const char *key, double since, double until, long limit,
                       long max_scan, StreamFilter filter, void *fud, StreamScanCb cb, void *ud);
/*
 * The same as a service's answer: cb gets {"<member>": [entries], "scanned", "complete"}, or
 * the state store's failure ("could not <what>"); fud is freed after the scan.
 */
void store_query_stream(Store *st, const char *key, double since, double until, long limit,
                        long max_scan, StreamFilter filter, void *fud, const char *member,
                        const char *what, DoneCb cb, void *ud);
/* appends one JSON entry to a stream, trimmed to about max_len entries (MAXLEN ~) or, with
 * max_len 0, to those newer than min_age_s (MINID ~); the reply is dropped */
void store_stream_add(Store *st, const char *key, const json_t *entry, long max_len,
                      double min_age_s);

/* lists, newest first */
typedef void (*StoreListCb)(void *ud, PgfError err, const char *errmsg, size_t n,
                            const char *const *values, const size_t *lens);
/* LPUSH then LTRIM to max_len, then EXPIRE (ttl_seconds > 0); cb after the last */
PgfError store_list_push(Store *st, const char *key, const char *value, size_t len, long max_len,
                         long ttl_seconds, StoreDoneCb cb, void *ud)
    __attribute__((warn_unused_result));
PgfError store_list_range(Store *st, const char *key, long start, long stop, StoreListCb cb,
                          void *ud) __attribute__((warn_unused_result));

#endif
