#include "auth/sessions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "model/validate.h"

#define HASH_HEX 64
/* a session's last_seen moves at most this often (Redis writes) */
#define TOUCH_MAX_SECONDS 60.0

struct Sessions {
    Store *store;
    double idle, lifetime;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Sessions *sessions_new(Store *store, double idle_seconds, double lifetime_seconds)
{
    Sessions *s = xcalloc(1, sizeof *s);
    s->store = store;
    s->idle = idle_seconds;
    s->lifetime = lifetime_seconds;
    return s;
}

void sessions_free(Sessions *s)
{
    free(s);
}

double sessions_idle_seconds(const Sessions *s)
{
    return s->idle;
}

bool sessions_token_valid(const char *token)
{
    if (!token || strlen(token) != SESSION_TOKEN_LEN)
        return false;
    for (const char *p = token; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

static void token_hash(const char *token, char hex[HASH_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, HASH_HEX + 1, h, sizeof h);
}

void sessions_csrf(const char *token, char out[SESSION_CSRF_LEN + 1])
{
    static const char label[] = "pgfleet csrf v1";
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)label, sizeof label - 1,
                       (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, SESSION_CSRF_LEN + 1, h, sizeof h);
}

/* ---- the record ---- */

static json_t *rfc3339(double t)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[40];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

json_t *session_to_json(const Session *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", s->id, "user", s->user,
                     "role", role_name(s->role), "method", s->method, "address", s->address,
                     "created_at", rfc3339(s->created_at), "last_seen", rfc3339(s->last_seen),
                     "expires_at", rfc3339(s->expires_at));
}

/* the Redis record: times as unix seconds at full precision; no id (the key names it) */
static char *record_dump(const Session *s)
{
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:f, s:f, s:f}", "v", 1, "user", s->user, "role",
                  role_name(s->role), "method", s->method, "address", s->address, "created_at",
                  s->created_at, "last_seen", s->last_seen, "expires_at", s->expires_at);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static bool copy_field(const json_t *o, const char *key, StrRule rule, char *out, size_t len)
{
    const char *v = jsonutil_str(o, key);
    if (!v || !*v || strlen(v) >= len || !validate_string_rule(v, rule))
        return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

/* a record read back from Redis: anything unexpected is no session */
static bool record_parse(const char *text, size_t len, const char *hash, Session *s)
{
    memset(s, 0, sizeof *s);
    char err[120];
    json_t *o = jsonutil_parse(text, len, err, sizeof err);
    bool ok = json_is_object(o) && json_integer_value(json_object_get(o, "v")) == 1 &&
              copy_field(o, "user", STR_USERNAME, s->user, sizeof s->user) &&
              copy_field(o, "method", STR_IDENT, s->method, sizeof s->method) &&
              copy_field(o, "address", STR_ANY, s->address, sizeof s->address) &&
              role_parse(jsonutil_str(o, "role") ? jsonutil_str(o, "role") : "", &s->role);
    if (ok) {
        s->created_at = json_number_value(json_object_get(o, "created_at"));
        s->last_seen = json_number_value(json_object_get(o, "last_seen"));
        s->expires_at = json_number_value(json_object_get(o, "expires_at"));
        ok = s->created_at > 0 && s->last_seen >= s->created_at && s->expires_at > s->created_at;
    }
    json_decref(o);
    if (!ok && text)
        log_warn("session record %.*s... in Redis is not valid: ignored", 8, hash);
    memcpy(s->id, hash, SESSION_PUBLIC_ID_LEN);
    s->id[SESSION_PUBLIC_ID_LEN] = '\0';
    return ok;
}

static bool live(const Sessions *ss, const Session *s, double now)
{
    return now < s->expires_at && now - s->last_seen < ss->idle;
}

/* milliseconds the record may stay in Redis */
static long long ttl_ms(const Sessions *ss, const Session *s, double now)
{
    double left = fmin(ss->idle - (now - s->last_seen), s->expires_at - now);
    return left < 0.001 ? 1 : (long long)ceil(left * 1000);
}

static char *session_key(const Sessions *ss, const char *hash)
{
    char k[80];
    snprintf(k, sizeof k, "session:%s", hash);
    return store_key(ss->store, k);
}

/* SET the record with its TTL (xx: only when it still exists) */
static void store_record(Sessions *ss, const char *hash, const Session *s, double now, bool xx,
                         StoreJsonCb cb, void *ud)
{
    char *key = session_key(ss, hash);
    char *val = record_dump(s);
    char px[32];
    snprintf(px, sizeof px, "%lld", ttl_ms(ss, s, now));
    const char *argv[] = {"SET", key, val, "PX", px, "XX"};
    store_call(ss->store, cb, ud, xx ? 6 : 5, argv);
    free(key);
    free(val);
}

static void index_op(Sessions *ss, const char *op, const char *a, const char *b)
{
    char *idx = store_key(ss->store, "sessions");
    const char *argv[] = {op, idx, a, b};
    store_call(ss->store, NULL, NULL, b ? 4 : 3, argv);
    free(idx);
}

/* ---- one operation in flight ---- */

typedef struct Op {
    Sessions *ss;
    char hash[HASH_HEX + 1];
    Session s;
    bool touch;
    SessionCb cb;
    SessionListCb list_cb;
    void *ud;
    json_t *members;
} Op;

static Op *op_new(Sessions *ss, SessionCb cb, void *ud)
{
    Op *op = xcalloc(1, sizeof *op);
    op->ss = ss;
    op->cb = cb;
    op->ud = ud;
    return op;
}

static void op_finish(Op *op, PgfError err, const Session *s)
{
    if (op->cb)
        op->cb(op->ud, err, s);
    json_decref(op->members);
    free(op);
}

/* ---- create ---- */

static void created(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    (void)reply;
    Op *op = ud;
    if (err == PGF_OK) {
        char score[32];
        snprintf(score, sizeof score, "%.3f", op->s.expires_at);
        index_op(op->ss, "ZADD", score, op->hash);
        char now[32];
        snprintf(now, sizeof now, "%.3f", now_s());
        char *idx = store_key(op->ss->store, "sessions");
        const char *argv[] = {"ZREMRANGEBYSCORE", idx, "-inf", now};
        store_call(op->ss->store, NULL, NULL, 4, argv);
        free(idx);
    }
    op_finish(op, err, err == PGF_OK ? &op->s : NULL);
}

void sessions_create(Sessions *ss, const Session *proto, char token[SESSION_TOKEN_LEN + 1],
                     SessionCb cb, void *ud)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, SESSION_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    Op *op = op_new(ss, cb, ud);
    token_hash(token, op->hash);
    double now = now_s();
    op->s = *proto;
    memcpy(op->s.id, op->hash, SESSION_PUBLIC_ID_LEN);
    op->s.id[SESSION_PUBLIC_ID_LEN] = '\0';
    op->s.created_at = op->s.last_seen = now;
    op->s.expires_at = now + ss->lifetime;
    store_record(ss, op->hash, &op->s, now, false, created, op);
}

/* ---- resolve ---- */

static void forget(Sessions *ss, const char *hash)
{
    char *key = session_key(ss, hash);
    const char *argv[] = {"DEL", key};
    store_call(ss->store, NULL, NULL, 2, argv);
    free(key);
    index_op(ss, "ZREM", hash, NULL);
}

static void got(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Op *op = ud;
    if (err != PGF_OK) {
        op_finish(op, err, NULL);
        return;
    }
    const char *text = json_string_value(reply);
    if (!text) {
        op_finish(op, PGF_OK, NULL);
        return;
    }
    double now = now_s();
    if (!record_parse(text, json_string_length(reply), op->hash, &op->s) ||
        !live(op->ss, &op->s, now)) {
        forget(op->ss, op->hash);
        op_finish(op, PGF_OK, NULL);
        return;
    }
    double every = fmin(TOUCH_MAX_SECONDS, op->ss->idle / 10);
    if (op->touch && now - op->s.last_seen >= every) {
        op->s.last_seen = now;
        store_record(op->ss, op->hash, &op->s, now, true, NULL, NULL);
    }
    op_finish(op, PGF_OK, &op->s);
}

static void get_record(Op *op, StoreJsonCb cb)
{
    char *key = session_key(op->ss, op->hash);
    const char *argv[] = {"GET", key};
    store_call(op->ss->store, cb, op, 2, argv);
    free(key);
}

void sessions_resolve(Sessions *ss, const char *token, bool touch, SessionCb cb, void *ud)
{
    if (!sessions_token_valid(token)) {
        cb(ud, PGF_OK, NULL);
        return;
    }
    Op *op = op_new(ss, cb, ud);
    op->touch = touch;
    token_hash(token, op->hash);
    get_record(op, got);
}

/* ---- end and revoke ---- */

static void got_then_forget(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Op *op = ud;
    const char *text = err == PGF_OK ? json_string_value(reply) : NULL;
    bool known = text && record_parse(text, json_string_length(reply), op->hash, &op->s);
    if (err == PGF_OK)
        forget(op->ss, op->hash);
    op_finish(op, err, known ? &op->s : NULL);
}

void sessions_end(Sessions *ss, const char *token, SessionCb cb, void *ud)
{
    if (!sessions_token_valid(token)) {
        cb(ud, PGF_OK, NULL);
        return;
    }
    Op *op = op_new(ss, cb, ud);
    token_hash(token, op->hash);
    get_record(op, got_then_forget);
}

static void members_read(void *ud, PgfError err, const char *errmsg, const json_t *reply);

static void read_members(Op *op)
{
    char now[32];
    snprintf(now, sizeof now, "%.3f", now_s());
    char *idx = store_key(op->ss->store, "sessions");
    const char *argv[] = {"ZRANGEBYSCORE", idx, now, "+inf"};
    store_call(op->ss->store, members_read, op, 4, argv);
    free(idx);
}

static void revoke_found(Op *op, const json_t *members)
{
    size_t i;
    const json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *h = json_string_value(m);
        if (h && strlen(h) == HASH_HEX && !strncmp(h, op->s.id, SESSION_PUBLIC_ID_LEN)) {
            memcpy(op->hash, h, HASH_HEX + 1);
            get_record(op, got_then_forget);
            return;
        }
    }
    op_finish(op, PGF_OK, NULL);
}

void sessions_revoke(Sessions *ss, const char *public_id, SessionCb cb, void *ud)
{
    if (!public_id || strlen(public_id) != SESSION_PUBLIC_ID_LEN ||
        strspn(public_id, "0123456789abcdef") != SESSION_PUBLIC_ID_LEN) {
        cb(ud, PGF_OK, NULL);
        return;
    }
    Op *op = op_new(ss, cb, ud);
    memcpy(op->s.id, public_id, SESSION_PUBLIC_ID_LEN + 1);
    read_members(op);
}

/* ---- list ---- */

static int by_last_seen(const void *a, const void *b)
{
    /* RFC 3339 in UTC sorts as text */
    const char *x = jsonutil_str(*(json_t *const *)a, "last_seen");
    const char *y = jsonutil_str(*(json_t *const *)b, "last_seen");
    return strcmp(y ? y : "", x ? x : "");
}

static void records_read(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Op *op = ud;
    if (err != PGF_OK) {
        op->list_cb(op->ud, err, NULL);
        op_finish(op, err, NULL);
        return;
    }
    double now = now_s();
    size_t n = json_array_size(reply);
    json_t **items = xcalloc(n + 1, sizeof *items);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(reply, i);
        const char *hash = json_string_value(json_array_get(op->members, i));
        Session s;
        if (!hash || strlen(hash) != HASH_HEX)
            continue;
        if (!json_is_string(r) ||
            !record_parse(json_string_value(r), json_string_length(r), hash, &s) ||
            !live(op->ss, &s, now)) {
            index_op(op->ss, "ZREM", hash, NULL);
            continue;
        }
        items[k++] = session_to_json(&s);
    }
    qsort(items, k, sizeof *items, by_last_seen);
    json_t *list = json_array();
    for (size_t i = 0; i < k; i++)
        json_array_append_new(list, items[i]);
    free(items);
    op->list_cb(op->ud, PGF_OK, list);
    json_decref(list);
    op_finish(op, PGF_OK, NULL);
}

static void members_read(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Op *op = ud;
    if (op->list_cb == NULL) { /* a revoke looking for its member */
        if (err != PGF_OK)
            op_finish(op, err, NULL);
        else
            revoke_found(op, reply);
        return;
    }
    if (err != PGF_OK || json_array_size(reply) == 0) {
        json_t *empty = json_array();
        op->list_cb(op->ud, err, err == PGF_OK ? empty : NULL);
        json_decref(empty);
        op_finish(op, err, NULL);
        return;
    }
    size_t n = json_array_size(reply);
    op->members = json_deep_copy(reply);
    const char **argv = xcalloc(n + 1, sizeof *argv);
    char **keys = xcalloc(n, sizeof *keys);
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        const char *h = json_string_value(json_array_get(reply, i));
        keys[i] = session_key(op->ss, h && strlen(h) == HASH_HEX ? h : "invalid");
        argv[i + 1] = keys[i];
    }
    store_call(op->ss->store, records_read, op, (int)n + 1, argv);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(argv);
}

void sessions_list(Sessions *ss, SessionListCb cb, void *ud)
{
    Op *op = op_new(ss, NULL, ud);
    op->list_cb = cb;
    read_members(op);
}
