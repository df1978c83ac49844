#include "store/store.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
/* Debian 12's hiredict shim forgets the header that declares the SSL types */
#if __has_include(<hiredict/hiredict_ssl.h>)
#include <hiredict/hiredict_ssl.h>
#endif
#include <hiredis/hiredis_ssl.h>

#include "common/backoff.h"
#include "common/config.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/mask.h"
#include "common/xalloc.h"
#include "store/redisurl.h"

#define STORE_RETRY_BASE_MS 100
#define STORE_RETRY_CAP_MS  5000

struct Store {
    uv_loop_t *loop;
    RedisUrl url;
    char display_url[512];
    char *prefix;
    long timeout_ms;
    redisSSLContext *ssl;
    redisAsyncContext *ac;
    StoreState state;
    uv_timer_t retry_timer;
    uv_getaddrinfo_t resolve_req;
    bool resolving;
    bool timer_closed;
    bool closing;
    Backoff backoff;
    unsigned handshake_pending;
    bool handshake_failed;
    unsigned failures; /* consecutive failed attempts */
    char last_error[256];
    void (*on_state)(void *ud, StoreState state);
    void *ud;
    /* store_subscribe: the channel (prefixed) this connection listens to */
    char *sub_channel;
    StoreMessageCb on_message;
    void *message_ud;
};

typedef enum OpKind {
    OP_DONE,
    OP_VALUE,
    OP_PING,
    OP_HANDSHAKE,
    OP_HASH,
    OP_HDEL,
    OP_LIST,
    OP_QUIET, /* one step of a pipelined group: its error, if any, is kept for the last step */
    OP_JSON,  /* any command: the reply as JSON */
} OpKind;

typedef struct StoreOp {
    Store *st;
    OpKind kind;
    union {
        StoreDoneCb done;
        StoreValueCb value;
        StorePingCb ping;
        StoreHashCb hash;
        StoreListCb list;
        StoreJsonCb json;
    } cb;
    void *ud;
    uint64_t started_ns;
} StoreOp;

static const char *const state_names[] = {"disconnected", "connecting", "handshake", "ready",
                                          "closed"};

static void store_schedule_retry(Store *st);
static void store_start_connect(Store *st);

const char *store_state_name(StoreState state)
{
    return state_names[state];
}

StoreState store_state(const Store *st)
{
    return st->state;
}

const char *store_last_error(const Store *st)
{
    return st->last_error;
}

const char *store_prefix(const Store *st)
{
    return st->prefix;
}

const char *store_display_url(const Store *st)
{
    return st->display_url;
}

static void set_state(Store *st, StoreState state)
{
    StoreState old = st->state;
    if (old == state)
        return;
    st->state = state;
    if ((old == STORE_READY || state == STORE_READY) && st->on_state)
        st->on_state(st->ud, state);
}

static void record_failure(Store *st, const char *what, const char *detail)
{
    snprintf(st->last_error, sizeof st->last_error, "%s %s:%d: %s", what, st->url.host,
             st->url.port, detail && *detail ? detail : "unknown error");
    st->failures++;
}

static void retry_cb(uv_timer_t *t)
{
    Store *st = t->data;
    store_start_connect(st);
}

static void store_schedule_retry(Store *st)
{
    if (st->closing)
        return;
    set_state(st, STORE_DISCONNECTED);
    uint64_t delay = backoff_next(&st->backoff);
    /* the first failure of a streak is a warning; repeats are debug noise */
    LogLevel level = st->failures <= 1 ? LOG_WARN : LOG_DEBUG;
    log_event(level, NULL,
              json_pack("{s:s, s:I, s:I}", "redis", st->display_url, "retry_in_ms",
                        (json_int_t)delay, "attempt", (json_int_t)st->failures),
              "%s; retrying", st->last_error);
    uv_timer_start(&st->retry_timer, retry_cb, delay, 0);
}

static void subscribe_now(Store *st);

static void on_ready(Store *st)
{
    if (st->failures > 0)
        log_info("redis connection restored to %s after %u failed attempts", st->display_url,
                 st->failures);
    else
        log_info("redis connected to %s", st->display_url);
    st->failures = 0;
    st->last_error[0] = '\0';
    backoff_reset(&st->backoff);
    if (st->sub_channel)
        subscribe_now(st);
    set_state(st, STORE_READY);
}

/* a reply as JSON: strings, integers, nil as null, arrays of those */
static json_t *reply_json(const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_VERB:
        return json_stringn_nocheck(r->str, r->len);
    case REDIS_REPLY_INTEGER:
        return json_integer(r->integer);
    case REDIS_REPLY_ARRAY:
    case REDIS_REPLY_SET:
    case REDIS_REPLY_MAP: {
        json_t *a = json_array();
        for (size_t i = 0; i < r->elements; i++)
            json_array_append_new(a, reply_json(r->element[i]));
        return a;
    }
    default:
        return json_null();
    }
}

static void reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    StoreOp *op = privdata;
    Store *st = op->st;
    redisReply *reply = r;
    PgfError err = PGF_OK;
    char msg[300] = "";

    if (!reply) {
        err = PGF_ERR_STORE_DOWN;
        snprintf(msg, sizeof msg, "connection to redis lost%s%s", ac && ac->errstr[0] ? ": " : "",
                 ac ? ac->errstr : "");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        err = PGF_ERR_STORE_DOWN;
        snprintf(msg, sizeof msg, "redis refused the command: %.*s", (int)reply->len, reply->str);
    }

    switch (op->kind) {
    case OP_HANDSHAKE:
        if (err != PGF_OK && !st->handshake_failed) {
            st->handshake_failed = true;
            record_failure(st, "redis handshake with", msg);
        }
        if (--st->handshake_pending == 0 && !st->closing) {
            if (st->handshake_failed)
                redisAsyncDisconnect(st->ac); /* on_disconnect schedules the retry */
            else
                on_ready(st);
        }
        break;
    case OP_DONE:
        op->cb.done(op->ud, err, err ? msg : NULL);
        break;
    case OP_VALUE:
        if (err == PGF_OK && reply->type == REDIS_REPLY_STRING)
            op->cb.value(op->ud, PGF_OK, NULL, reply->str, reply->len);
        else if (err == PGF_OK)
            op->cb.value(op->ud, PGF_OK, NULL, NULL, 0); /* nil: no such key */
        else
            op->cb.value(op->ud, err, msg, NULL, 0);
        break;
    case OP_PING:
        op->cb.ping(op->ud, err, err ? msg : NULL, (double)(uv_hrtime() - op->started_ns) / 1e6);
        break;
    case OP_HDEL:
        if (err == PGF_OK && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
            op->cb.done(op->ud, PGF_ERR_NOT_FOUND, "no such field");
        else
            op->cb.done(op->ud, err, err ? msg : NULL);
        break;
    case OP_QUIET:
        if (err != PGF_OK)
            log_warn("%s", msg);
        break;
    case OP_JSON: {
        json_t *j = err == PGF_OK && op->cb.json ? reply_json(reply) : NULL;
        if (op->cb.json)
            op->cb.json(op->ud, err, err ? msg : NULL, j);
        json_decref(j);
        break;
    }
    case OP_LIST: {
        if (err != PGF_OK || reply->type != REDIS_REPLY_ARRAY) {
            op->cb.list(op->ud, err ? err : PGF_ERR_STORE_DOWN, err ? msg : "unexpected reply", 0,
                        NULL, NULL);
            break;
        }
        size_t n = reply->elements;
        const char **values = xcalloc(n + 1, sizeof *values);
        size_t *lens = xcalloc(n + 1, sizeof *lens);
        for (size_t i = 0; i < n; i++) {
            values[i] = reply->element[i]->str;
            lens[i] = reply->element[i]->len;
        }
        op->cb.list(op->ud, PGF_OK, NULL, n, values, lens);
        free(values);
        free(lens);
        break;
    }
    case OP_HASH: {
        if (err != PGF_OK || reply->type != REDIS_REPLY_ARRAY) {
            op->cb.hash(op->ud, err ? err : PGF_ERR_STORE_DOWN, err ? msg : "unexpected reply", 0,
                        NULL, NULL, NULL);
            break;
        }
        size_t n = reply->elements / 2;
        const char **fields = xcalloc(n + 1, sizeof *fields);
        const char **values = xcalloc(n + 1, sizeof *values);
        size_t *lens = xcalloc(n + 1, sizeof *lens);
        for (size_t i = 0; i < n; i++) {
            fields[i] = reply->element[2 * i]->str;
            values[i] = reply->element[2 * i + 1]->str;
            lens[i] = reply->element[2 * i + 1]->len;
        }
        op->cb.hash(op->ud, PGF_OK, NULL, n, fields, values, lens);
        free(fields);
        free(values);
        free(lens);
        break;
    }
    }
    free(op);
}

static StoreOp *op_new(Store *st, OpKind kind, void *ud);

/* a new operation when the store is READY, else NULL (the caller answers STORE_DOWN) */
static StoreOp *op_begin(Store *st, OpKind kind, void *ud)
{
    if (st->state != STORE_READY || !st->ac)
        return NULL;
    return op_new(st, kind, ud);
}

static StoreOp *op_new(Store *st, OpKind kind, void *ud)
{
    StoreOp *op = xcalloc(1, sizeof *op);
    op->st = st;
    op->kind = kind;
    op->ud = ud;
    op->started_ns = uv_hrtime();
    return op;
}

/* sends a command; on failure frees op and reports the store down */
static PgfError submit(Store *st, StoreOp *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(st->ac, reply_cb, op, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(op);
        return PGF_ERR_STORE_DOWN;
    }
    return PGF_OK;
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
    Store *st = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        st->ac = NULL;
        record_failure(st, "could not connect to redis at", ac->errstr);
        store_schedule_retry(st);
        return;
    }
    set_state(st, STORE_HANDSHAKE);
    st->handshake_failed = false;
    st->handshake_pending = 0;
    if (st->url.password) {
        st->handshake_pending++;
        PgfError rc = st->url.user
                          ? submit(st, op_new(st, OP_HANDSHAKE, NULL), "AUTH %s %s", st->url.user,
                                   st->url.password)
                          : submit(st, op_new(st, OP_HANDSHAKE, NULL), "AUTH %s", st->url.password);
        if (rc != PGF_OK)
            st->handshake_pending--;
    }
    if (st->url.db != 0) {
        st->handshake_pending++;
        if (submit(st, op_new(st, OP_HANDSHAKE, NULL), "SELECT %d", st->url.db) != PGF_OK)
            st->handshake_pending--;
    }
    if (st->handshake_pending == 0)
        on_ready(st);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
    Store *st = ac->data;
    st->ac = NULL;
    if (st->closing)
        return;
    if (st->state == STORE_READY || !st->last_error[0] || status != REDIS_OK)
        record_failure(st, "lost connection to redis at",
                       status == REDIS_OK ? "closed" : ac->errstr);
    store_schedule_retry(st);
}

static void connect_addr(Store *st, const struct sockaddr *addr)
{
    char ip[64];
    if (addr->sa_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)addr, ip, sizeof ip);
    else
        uv_ip4_name((const struct sockaddr_in *)addr, ip, sizeof ip);

    redisOptions o = {0};
    REDIS_OPTIONS_SET_TCP(&o, ip, st->url.port);
    struct timeval tv = {.tv_sec = st->timeout_ms / 1000,
                         .tv_usec = (st->timeout_ms % 1000) * 1000};
    o.connect_timeout = &tv;
    o.command_timeout = &tv;
    redisAsyncContext *ac = redisAsyncConnectWithOptions(&o);
    if (!ac) {
        record_failure(st, "could not connect to redis at", "out of memory");
        store_schedule_retry(st);
        return;
    }
    if (ac->err) {
        record_failure(st, "could not connect to redis at", ac->errstr);
        redisAsyncFree(ac);
        store_schedule_retry(st);
        return;
    }
    if (st->ssl && redisInitiateSSLWithContext(&ac->c, st->ssl) != REDIS_OK) {
        record_failure(st, "could not start TLS with redis at", ac->c.errstr);
        redisAsyncFree(ac);
        store_schedule_retry(st);
        return;
    }
    ac->data = st;
    st->ac = ac;
    redisLibuvAttach(ac, st->loop);
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
}

static void maybe_release(Store *st);

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    Store *st = req->data;
    st->resolving = false;
    if (st->closing) {
        uv_freeaddrinfo(res);
        maybe_release(st);
        return;
    }
    if (status != 0 || !res) {
        record_failure(st, "could not resolve redis host", uv_strerror(status));
        uv_freeaddrinfo(res);
        store_schedule_retry(st);
        return;
    }
    connect_addr(st, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void store_start_connect(Store *st)
{
    if (st->closing || st->resolving || st->ac)
        return;
    set_state(st, STORE_CONNECTING);
    /* resolve off the loop thread: hiredis would call getaddrinfo() in line */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    st->resolve_req.data = st;
    char port[8];
    snprintf(port, sizeof port, "%d", st->url.port);
    int rc = uv_getaddrinfo(st->loop, &st->resolve_req, resolved_cb, st->url.host, port, &hints);
    if (rc != 0) {
        record_failure(st, "could not resolve redis host", uv_strerror(rc));
        store_schedule_retry(st);
        return;
    }
    st->resolving = true;
}

Store *store_new(uv_loop_t *loop, const StoreOptions *opts, char *err, size_t errlen)
{
    Store *st = xcalloc(1, sizeof *st);
    if (!redisurl_parse(opts->url, &st->url, err, errlen)) {
        free(st);
        return NULL;
    }
    if (st->url.tls) {
        static bool ssl_inited;
        if (!ssl_inited) {
            redisInitOpenSSL();
            ssl_inited = true;
        }
        redisSSLContextError ssl_err = REDIS_SSL_CTX_NONE;
        st->ssl = redisCreateSSLContext(opts->ca_file, opts->ca_file ? NULL : "/etc/ssl/certs",
                                        NULL, NULL, st->url.host, &ssl_err);
        if (!st->ssl) {
            snprintf(err, errlen, "could not set up TLS for redis: %s%s%s",
                     redisSSLContextGetError(ssl_err), opts->ca_file ? " (CA file " : "",
                     opts->ca_file ? opts->ca_file : "");
            if (opts->ca_file)
                strncat(err, ")", errlen - strlen(err) - 1);
            redisurl_free(&st->url);
            free(st);
            return NULL;
        }
    }
    st->loop = loop;
    mask_secrets(opts->url, st->display_url, sizeof st->display_url);
    st->prefix = xstrdup(opts->prefix ? opts->prefix : "pgfleet:");
    st->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 2000;
    st->on_state = opts->on_state;
    st->ud = opts->ud;
    st->state = STORE_DISCONNECTED;
    backoff_init(&st->backoff, STORE_RETRY_BASE_MS, STORE_RETRY_CAP_MS);
    uv_timer_init(loop, &st->retry_timer);
    st->retry_timer.data = st;
    store_start_connect(st);
    return st;
}

static void maybe_release(Store *st)
{
    if (!st->timer_closed || st->resolving)
        return;
    if (st->ssl)
        redisFreeSSLContext(st->ssl);
    redisurl_free(&st->url);
    free(st->prefix);
    free(st->sub_channel);
    free(st);
}

static void timer_closed_cb(uv_handle_t *h)
{
    Store *st = h->data;
    st->timer_closed = true;
    maybe_release(st);
}

void store_free(Store *st)
{
    if (!st)
        return;
    st->closing = true;
    st->state = STORE_CLOSED;
    uv_timer_stop(&st->retry_timer);
    if (st->resolving)
        uv_cancel((uv_req_t *)&st->resolve_req);
    if (st->ac) {
        redisAsyncContext *ac = st->ac;
        st->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks run now with a NULL reply */
    }
    uv_close((uv_handle_t *)&st->retry_timer, timer_closed_cb);
}

/* ---- publish / subscribe ---- */

/* every reply of a subscribed connection: confirmations and messages */
static void message_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    Store *st = privdata;
    const redisReply *reply = r;
    if (!reply || st->closing || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
        return; /* disconnected (the retry resubscribes), or a confirmation */
    const redisReply *kind = reply->element[0], *payload = reply->element[2];
    if (kind->type == REDIS_REPLY_STRING && kind->len == 7 &&
        memcmp(kind->str, "message", 7) == 0 && payload->type == REDIS_REPLY_STRING)
        st->on_message(st->message_ud, payload->str, payload->len);
}

static void subscribe_now(Store *st)
{
    if (redisAsyncCommand(st->ac, message_cb, st, "SUBSCRIBE %s", st->sub_channel) != REDIS_OK)
        log_warn("could not subscribe to redis channel %s", st->sub_channel);
}

void store_subscribe(Store *st, const char *channel, StoreMessageCb cb, void *ud)
{
    free(st->sub_channel);
    st->sub_channel = xasprintf("%s%s", st->prefix, channel);
    st->on_message = cb;
    st->message_ud = ud;
    if (st->state == STORE_READY && st->ac)
        subscribe_now(st);
}

void store_publish(Store *st, const char *channel, const char *payload, size_t len)
{
    char *key = store_key(st, channel);
    const char *argv[] = {"PUBLISH", key, payload};
    size_t lens[] = {7, strlen(key), len};
    if (store_command(st, 3, argv, lens, NULL, NULL) != PGF_OK) {
        /* Redis is down: the message is lost, a gap the readers already show */
    }
    free(key);
}

static char *full_key(const Store *st, const char *key, size_t *len)
{
    char *k = xasprintf("%s%s", st->prefix, key);
    *len = strlen(k);
    return k;
}

PgfError store_set(Store *st, const char *key, const char *value, size_t len, long ttl_seconds,
                   StoreDoneCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_DONE, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.done = cb;
    size_t klen;
    char *k = full_key(st, key, &klen);
    PgfError rc = ttl_seconds > 0
                      ? submit(st, op, "SET %b %b EX %ld", k, klen, value, len, ttl_seconds)
                      : submit(st, op, "SET %b %b", k, klen, value, len);
    free(k);
    return rc;
}

/* a command whose only argument is a key ("GET %b", "DEL %b") */
static PgfError submit_key(Store *st, StoreOp *op, const char *fmt, const char *key)
{
    size_t klen;
    char *k = full_key(st, key, &klen);
    PgfError rc = submit(st, op, fmt, k, klen);
    free(k);
    return rc;
}

PgfError store_get(Store *st, const char *key, StoreValueCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_VALUE, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.value = cb;
    return submit_key(st, op, "GET %b", key);
}

PgfError store_del(Store *st, const char *key, StoreDoneCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_DONE, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.done = cb;
    return submit_key(st, op, "DEL %b", key);
}

PgfError store_ping(Store *st, StorePingCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_PING, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.ping = cb;
    return submit(st, op, "PING");
}

/* "HSET key field value" / "HDEL key field": value NULL for the latter */
static PgfError submit_field(Store *st, StoreOp *op, const char *key, const char *field,
                             const char *value, size_t len)
{
    size_t klen;
    char *k = full_key(st, key, &klen);
    PgfError rc = value ? submit(st, op, "HSET %b %b %b", k, klen, field, strlen(field), value, len)
                        : submit(st, op, "HDEL %b %b", k, klen, field, strlen(field));
    free(k);
    return rc;
}

PgfError store_hset(Store *st, const char *key, const char *field, const char *value, size_t len,
                    StoreDoneCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_DONE, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.done = cb;
    return submit_field(st, op, key, field, value, len);
}

PgfError store_hdel(Store *st, const char *key, const char *field, StoreDoneCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_HDEL, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.done = cb;
    return submit_field(st, op, key, field, NULL, 0);
}

PgfError store_hgetall(Store *st, const char *key, StoreHashCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_HASH, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.hash = cb;
    return submit_key(st, op, "HGETALL %b", key);
}

PgfError store_hget(Store *st, const char *key, const char *field, StoreValueCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_VALUE, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.value = cb;
    size_t klen;
    char *k = full_key(st, key, &klen);
    PgfError rc = submit(st, op, "HGET %b %b", k, klen, field, strlen(field));
    free(k);
    return rc;
}

PgfError store_list_push(Store *st, const char *key, const char *value, size_t len, long max_len,
                         long ttl_seconds, StoreDoneCb cb, void *ud)
{
    if (st->state != STORE_READY || !st->ac)
        return PGF_ERR_STORE_DOWN;
    size_t klen;
    char *k = full_key(st, key, &klen);
    /* one connection keeps the order: LPUSH, LTRIM, then EXPIRE answers the caller */
    PgfError rc = submit(st, op_new(st, OP_QUIET, NULL), "LPUSH %b %b", k, klen, value, len);
    if (rc == PGF_OK)
        rc = submit(st, op_new(st, OP_QUIET, NULL), "LTRIM %b 0 %ld", k, klen, max_len - 1);
    if (rc == PGF_OK) {
        StoreOp *op = op_new(st, OP_DONE, ud);
        op->cb.done = cb;
        rc = ttl_seconds > 0 ? submit(st, op, "EXPIRE %b %ld", k, klen, ttl_seconds)
                             : submit(st, op, "PING");
    }
    free(k);
    return rc;
}

PgfError store_list_range(Store *st, const char *key, long start, long stop, StoreListCb cb,
                          void *ud)
{
    StoreOp *op = op_begin(st, OP_LIST, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.list = cb;
    size_t klen;
    char *k = full_key(st, key, &klen);
    PgfError rc = submit(st, op, "LRANGE %b %ld %ld", k, klen, start, stop);
    free(k);
    return rc;
}

char *store_key(const Store *st, const char *key)
{
    return xasprintf("%s%s", st->prefix, key);
}

PgfError store_command(Store *st, int argc, const char *const *argv, const size_t *lens,
                       StoreJsonCb cb, void *ud)
{
    StoreOp *op = op_begin(st, OP_JSON, ud);
    if (!op)
        return PGF_ERR_STORE_DOWN;
    op->cb.json = cb;
    size_t *l = xcalloc((size_t)argc + 1, sizeof *l);
    for (int i = 0; i < argc; i++)
        l[i] = lens ? lens[i] : strlen(argv[i]);
    int rc = redisAsyncCommandArgv(st->ac, reply_cb, op, argc, (const char **)(uintptr_t)argv, l);
    free(l);
    if (rc != REDIS_OK) {
        free(op);
        return PGF_ERR_STORE_DOWN;
    }
    return PGF_OK;
}

void store_call(Store *st, StoreJsonCb cb, void *ud, int argc, const char *const *argv)
{
    if (store_command(st, argc, argv, NULL, cb, ud) != PGF_OK && cb)
        cb(ud, PGF_ERR_STORE_DOWN, "the state store (Redis) is not connected", NULL);
}

/* ---- JSON entries in a stream ---- */

typedef struct StreamScan {
    Store *st;
    char *key;
    char end[64], start[32];
    long limit, max_scan, scanned;
    StreamFilter filter;
    void *fud;
    json_t *entries;
    StreamScanCb cb;
    void *ud;
} StreamScan;

static void scan_finish(StreamScan *s, PgfError err, const char *errmsg, bool complete)
{
    s->cb(s->ud, err, errmsg, s->entries, s->scanned, complete);
    json_decref(s->entries);
    free(s->key);
    free(s);
}

static void scan_next(StreamScan *s);

static void scan_batch(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    StreamScan *s = ud;
    if (err != PGF_OK) {
        scan_finish(s, err, errmsg, false);
        return;
    }
    size_t n = json_array_size(reply), i;
    const json_t *item;
    json_array_foreach(reply, i, item)
    {
        s->scanned++;
        const char *id = json_string_value(json_array_get(item, 0));
        if (id)
            snprintf(s->end, sizeof s->end, "(%s", id);
        const char *text = json_string_value(json_array_get(json_array_get(item, 1), 1));
        char e[80];
        json_t *entry = text ? jsonutil_parse(text, strlen(text), e, sizeof e) : NULL;
        if (json_is_object(entry) && (!s->filter || s->filter(s->fud, entry)))
            json_array_append(s->entries, entry);
        json_decref(entry);
        if ((long)json_array_size(s->entries) >= s->limit) {
            scan_finish(s, PGF_OK, NULL, true);
            return;
        }
    }
    if (n == 0 || s->scanned >= s->max_scan) {
        scan_finish(s, PGF_OK, NULL, n == 0);
        return;
    }
    scan_next(s);
}

static void scan_next(StreamScan *s)
{
    const char *argv[] = {"XREVRANGE", s->key, s->end, s->start, "COUNT", "1000"};
    store_call(s->st, scan_batch, s, 6, argv);
}

void store_scan_stream(Store *st, const char *key, double since, double until, long limit,
                       long max_scan, StreamFilter filter, void *fud, StreamScanCb cb, void *ud)
{
    StreamScan *s = xcalloc(1, sizeof *s);
    s->st = st;
    s->key = store_key(st, key);
    s->limit = limit > 0 ? limit : 100;
    s->max_scan = max_scan > 0 ? max_scan : 100000;
    s->filter = filter;
    s->fud = fud;
    s->entries = json_array();
    s->cb = cb;
    s->ud = ud;
    if (until > 0)
        snprintf(s->end, sizeof s->end, "%.0f", floor(until * 1000));
    else
        snprintf(s->end, sizeof s->end, "+");
    if (since > 0)
        snprintf(s->start, sizeof s->start, "%.0f", ceil(since * 1000));
    else
        snprintf(s->start, sizeof s->start, "-");
    scan_next(s);
}

static void stream_added(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)reply;
    char *key = ud;
    if (err != PGF_OK)
        log_error("not stored in Redis stream %s: %s", key,
                  errmsg ? errmsg : "the state store is down");
    free(key);
}

void store_stream_add(Store *st, const char *key, const json_t *entry, long max_len,
                      double min_age_s)
{
    char *k = store_key(st, key);
    char *line = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char bound[40];
    if (max_len > 0) {
        snprintf(bound, sizeof bound, "%ld", max_len);
        const char *argv[] = {"XADD", k, "MAXLEN", "~", bound, "*", "e", line};
        store_call(st, stream_added, xstrdup(key), 8, argv);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double oldest = (double)ts.tv_sec - min_age_s;
        snprintf(bound, sizeof bound, "%.0f", oldest > 0 ? oldest * 1000 : 0);
        const char *argv[] = {"XADD", k, "MINID", "~", bound, "*", "e", line};
        store_call(st, stream_added, xstrdup(key), 8, argv);
    }
    free(line);
    free(k);
}

typedef struct StreamQuery {
    void *fud;
    const char *member, *what; /* static strings */
    DoneCb cb;
    void *ud;
} StreamQuery;

static void stream_queried(void *ud, PgfError err, const char *errmsg, const json_t *entries,
                           long scanned, bool complete)
{
    StreamQuery *q = ud;
    if (err != PGF_OK)
        failure_store_report(err, q->what, errmsg, q->cb, q->ud);
    else
        q->cb(q->ud,
              json_pack("{s:O, s:I, s:b}", q->member, entries, "scanned", (json_int_t)scanned,
                        "complete", complete),
              NULL);
    free(q->fud);
    free(q);
}

void store_query_stream(Store *st, const char *key, double since, double until, long limit,
                        long max_scan, StreamFilter filter, void *fud, const char *member,
                        const char *what, DoneCb cb, void *ud)
{
    StreamQuery *q = xcalloc(1, sizeof *q);
    *q = (StreamQuery){.fud = fud, .member = member, .what = what, .cb = cb, .ud = ud};
    store_scan_stream(st, key, since, until, limit, max_scan, filter, fud, stream_queried, q);
}
