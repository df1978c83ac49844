#include "cluster/cluster.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pgfleet_version.h"

#define ID_MAX 40

/*
 * One beat. KEYS[1]: the prefix. ARGV: id, description, lease ms, shards.
 * Returns {leader token (0: not ours), leader holder, {token per shard},
 * {holder per shard}, {live ids}, {their descriptions}}.
 */
static const char BEAT[] =
    "local p, id, info = KEYS[1], ARGV[1], ARGV[2]\n"
    "local ttl, n = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local mk, ik = p .. 'cluster:members', p .. 'cluster:info'\n"
    "for _, g in ipairs(redis.call('ZRANGEBYSCORE', mk, '-inf', now)) do\n"
    "  redis.call('HDEL', ik, g)\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', mk, '-inf', now)\n"
    "redis.call('ZADD', mk, now + ttl, id)\n"
    "redis.call('HSET', ik, id, info)\n"
    "local live = redis.call('ZRANGE', mk, 0, -1)\n"
    "local mine = id .. ':'\n"
    "local function holder(key)\n"
    "  local cur = redis.call('GET', key)\n"
    "  return cur and string.match(cur, '^(.*):%d+$') or false\n"
    "end\n"
    "local function hold(key)\n"
    "  local cur = redis.call('GET', key)\n"
    "  if not cur then\n"
    "    local tok = redis.call('INCR', p .. 'cluster:fence')\n"
    "    redis.call('SET', key, mine .. tok, 'PX', ttl)\n"
    "    return tok\n"
    "  end\n"
    "  if string.sub(cur, 1, #mine) == mine then\n"
    "    redis.call('PEXPIRE', key, ttl)\n"
    "    return tonumber(string.sub(cur, #mine + 1)) or 0\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "local lk = p .. 'cluster:leader'\n"
    "local leader = hold(lk)\n"
    "local tokens, holders = {}, {}\n"
    "for s = 0, n - 1 do\n"
    "  local best, owner = nil, nil\n"
    "  for _, m in ipairs(live) do\n"
    "    local h = redis.sha1hex(m .. '/' .. s)\n"
    "    if not best or h > best then best, owner = h, m end\n"
    "  end\n"
    "  local key = p .. 'cluster:shard:' .. s\n"
    "  if owner == id then\n"
    "    tokens[s + 1] = hold(key)\n"
    "  else\n"
    "    local cur = redis.call('GET', key)\n"
    "    if cur and string.sub(cur, 1, #mine) == mine then redis.call('DEL', key) end\n"
    "    tokens[s + 1] = 0\n"
    "  end\n"
    "  holders[s + 1] = holder(key)\n"
    "end\n"
    "return {leader, holder(lk), tokens, holders, live, redis.call('HMGET', ik, unpack(live))}\n";

/* KEYS: the lease, the key to write. ARGV: the lease's expected value, the value, ttl ms */
static const char FENCED_SET[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                 "  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])\n"
                                 "  return 1\n"
                                 "end\n"
                                 "return 0\n";

/* KEYS[1]: the prefix. ARGV: id, shards. Gone from the members, every lease let go. */
static const char LEAVE[] =
    "local p, id, n = KEYS[1], ARGV[1], tonumber(ARGV[2])\n"
    "local mine = id .. ':'\n"
    "redis.call('ZREM', p .. 'cluster:members', id)\n"
    "redis.call('HDEL', p .. 'cluster:info', id)\n"
    "local function let_go(key)\n"
    "  local cur = redis.call('GET', key)\n"
    "  if cur and string.sub(cur, 1, #mine) == mine then redis.call('DEL', key) end\n"
    "end\n"
    "let_go(p .. 'cluster:leader')\n"
    "for s = 0, n - 1 do let_go(p .. 'cluster:shard:' .. s) end\n"
    "return 1\n";

struct Cluster {
    ClusterDeps deps;
    char id[ID_MAX + 1];
    char started_at[32];
    char host[256];
    long lease_ms, beat_ms;
    uv_timer_t timer;
    /* what this instance holds, as of the last answered beat */
    uint64_t leader_token;
    uint64_t tokens[CLUSTER_SHARDS];
    uint64_t valid_until; /* uv_now ms; past it nothing above counts */
    bool settled;
    /* what the last beat saw */
    json_t *live;    /* [ids] */
    json_t *infos;   /* id -> description */
    json_t *holders; /* [holder id or null per shard] */
    char *leader_holder;
    bool beating, closing, left, leave_answered;
    uint64_t beat_sent;
    int refs;
};

static void unref(void *owner)
{
    Cluster *c = owner;
    if (--c->refs > 0)
        return;
    json_decref(c->live);
    json_decref(c->infos);
    json_decref(c->holders);
    free(c->leader_holder);
    free(c);
}

unsigned cluster_shard_of(const char *key)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return (unsigned)(h % CLUSTER_SHARDS);
}

static bool valid(const Cluster *c)
{
    return c->valid_until && uv_now(c->deps.loop) < c->valid_until;
}

const char *cluster_id(const Cluster *c)
{
    return c->id;
}

bool cluster_is_leader(const Cluster *c)
{
    return valid(c) && c->leader_token != 0;
}

bool cluster_holds(const Cluster *c, unsigned shard, uint64_t *token)
{
    bool held = shard < CLUSTER_SHARDS && valid(c) && c->tokens[shard] != 0;
    if (token)
        *token = held ? c->tokens[shard] : 0;
    return held;
}

bool cluster_owns(const Cluster *c, const char *database_id)
{
    return cluster_holds(c, cluster_shard_of(database_id), NULL);
}

size_t cluster_shards_held(const Cluster *c)
{
    size_t n = 0;
    for (unsigned s = 0; s < CLUSTER_SHARDS; s++)
        n += cluster_holds(c, s, NULL);
    return n;
}

bool cluster_alive(const Cluster *c, const char *instance_id)
{
    size_t i;
    const json_t *m;
    json_array_foreach(c->live, i,
                       m) if (strcmp(json_string_value(m), instance_id) == 0) return true;
    return false;
}

bool cluster_holder_is(const Cluster *c, unsigned shard, const char *instance_id)
{
    const char *h = json_string_value(json_array_get(c->holders, shard));
    return h && strcmp(h, instance_id) == 0;
}

size_t cluster_members(const Cluster *c)
{
    return json_array_size(c->live);
}

bool cluster_settled(const Cluster *c)
{
    return c->settled;
}

/* ---- the beat ---- */

static bool same_holdings(const Cluster *c, uint64_t leader, const uint64_t *tokens)
{
    if ((c->leader_token != 0) != (leader != 0))
        return false;
    for (unsigned s = 0; s < CLUSTER_SHARDS; s++)
        if ((c->tokens[s] != 0) != (tokens[s] != 0))
            return false;
    return true;
}

static void changed(Cluster *c, bool was_leader, size_t had)
{
    bool leader = cluster_is_leader(c);
    size_t held = cluster_shards_held(c);
    if (leader != was_leader)
        log_event(LOG_INFO, NULL, json_pack("{s:s, s:b}", "instance", c->id, "leader", leader),
                  "cluster: this instance (%s) %s the leader", c->id,
                  leader ? "is" : "is no longer");
    if (held != had)
        log_event(LOG_INFO, NULL,
                  json_pack("{s:s, s:I, s:I}", "instance", c->id, "shards", (json_int_t)held,
                            "members", (json_int_t)json_array_size(c->live)),
                  "cluster: %s holds %zu of %d shards (%zu members)", c->id, held, CLUSTER_SHARDS,
                  json_array_size(c->live));
    if (c->deps.on_change && !c->closing)
        c->deps.on_change(c->deps.ud);
}

/* holdings lapse when no beat was answered for most of a lease time */
static void check_lapse(Cluster *c)
{
    if (!c->valid_until || valid(c))
        return;
    bool was_leader = c->leader_token != 0;
    size_t had = 0;
    for (unsigned s = 0; s < CLUSTER_SHARDS; s++)
        had += c->tokens[s] != 0;
    c->valid_until = 0;
    c->leader_token = 0;
    memset(c->tokens, 0, sizeof c->tokens);
    if (was_leader || had) {
        log_warn("cluster: no beat answered for %ld ms; this instance gives up its leases until "
                 "redis answers",
                 c->lease_ms * 3 / 4);
        changed(c, was_leader, had);
    }
}

static uint64_t as_token(const json_t *j)
{
    return json_is_integer(j) && json_integer_value(j) > 0 ? (uint64_t)json_integer_value(j) : 0;
}

static void beaten(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    Cluster *c = ud;
    c->beating = false;
    if (c->closing || c->left) {
        unref(c);
        return;
    }
    const json_t *tokens = json_array_get(reply, 2), *live = json_array_get(reply, 4),
                 *infos = json_array_get(reply, 5);
    if (err != PGF_OK || json_array_size(tokens) != CLUSTER_SHARDS || !json_is_array(live) ||
        json_array_size(infos) != json_array_size(live)) {
        if (err != PGF_OK && err != PGF_ERR_STORE_DOWN)
            log_warn("cluster: beat failed: %s", errmsg ? errmsg : "unexpected reply");
        check_lapse(c);
        unref(c);
        return;
    }
    bool was_leader = cluster_is_leader(c);
    size_t had = cluster_shards_held(c);
    uint64_t leader = as_token(json_array_get(reply, 0));
    uint64_t next[CLUSTER_SHARDS];
    for (unsigned s = 0; s < CLUSTER_SHARDS; s++)
        next[s] = as_token(json_array_get(tokens, s));
    bool same = valid(c) && same_holdings(c, leader, next);
    c->leader_token = leader;
    memcpy(c->tokens, next, sizeof next);
    c->valid_until = c->beat_sent + (uint64_t)(c->lease_ms * 3 / 4);
    c->settled = true;
    free(c->leader_holder);
    const char *lh = json_string_value(json_array_get(reply, 1));
    c->leader_holder = lh ? xstrdup(lh) : NULL;
    json_decref(c->holders);
    c->holders = json_incref(json_array_get(reply, 3));
    json_decref(c->live);
    c->live = json_incref(jsonutil_unconst(live));
    json_object_clear(c->infos);
    size_t i;
    const json_t *m;
    json_array_foreach(live, i, m)
    {
        const char *text = json_string_value(json_array_get(infos, i));
        json_t *info = text ? json_loads(text, 0, NULL) : NULL;
        if (json_is_object(info))
            json_object_set_new(c->infos, json_string_value(m), info);
        else
            json_decref(info); /* an entry gone between the calls, or damaged: id only */
    }
    if (!same)
        changed(c, was_leader, had);
    unref(c);
}

static void beat(Cluster *c)
{
    check_lapse(c);
    if (c->beating || c->closing || c->left || store_state(c->deps.store) != STORE_READY)
        return;
    json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "id", c->id, "version",
                             PGFLEET_VERSION, "started_at", c->started_at, "host", c->host,
                             "listen", config_get(c->deps.cfg, CFG_LISTEN), "pid", (int)getpid());
    json_t *more = c->deps.describe ? c->deps.describe(c->deps.ud) : NULL;
    if (json_is_object(more))
        json_object_update_missing(info, more);
    json_decref(more);
    char *text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    char ttl[24], n[8];
    snprintf(ttl, sizeof ttl, "%ld", c->lease_ms);
    snprintf(n, sizeof n, "%d", CLUSTER_SHARDS);
    const char *argv[] = {"EVAL", BEAT, "1", store_prefix(c->deps.store), c->id, text, ttl, n};
    c->beating = true;
    c->beat_sent = uv_now(c->deps.loop);
    c->refs++;
    store_call(c->deps.store, beaten, c, 8, argv);
    free(text);
}

static void tick(uv_timer_t *t)
{
    beat(t->data);
}

void cluster_store_ready(Cluster *c)
{
    beat(c);
}

/* ---- fenced writes ---- */

typedef struct Fenced {
    void (*cb)(void *ud, bool written);
    void *ud;
} Fenced;

static void fenced_done(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Fenced *f = ud;
    if (f->cb)
        f->cb(f->ud, err == PGF_OK && json_integer_value(reply) == 1);
    free(f);
}

void cluster_fenced_set(Cluster *c, int lease, const char *key, const char *value, long ttl_ms,
                        void (*cb)(void *ud, bool written), void *ud)
{
    uint64_t token = cluster_is_leader(c) ? c->leader_token : 0;
    Fenced *f = xmalloc(sizeof *f);
    f->cb = cb;
    f->ud = ud;
    if (lease == CLUSTER_LEADER ? !token : !cluster_holds(c, (unsigned)lease, &token)) {
        fenced_done(f, PGF_OK, NULL, NULL);
        return;
    }
    char lease_key[64], expected[ID_MAX + 32], ttl[24];
    if (lease == CLUSTER_LEADER)
        snprintf(lease_key, sizeof lease_key, "cluster:leader");
    else
        snprintf(lease_key, sizeof lease_key, "cluster:shard:%d", lease);
    snprintf(expected, sizeof expected, "%s:%llu", c->id, (unsigned long long)token);
    snprintf(ttl, sizeof ttl, "%ld", ttl_ms);
    char *k1 = store_key(c->deps.store, lease_key), *k2 = store_key(c->deps.store, key);
    const char *argv[] = {"EVAL", FENCED_SET, "2", k1, k2, expected, value, ttl};
    store_call(c->deps.store, fenced_done, f, 8, argv);
    free(k1);
    free(k2);
}

/* ---- describing ---- */

json_t *cluster_json(const Cluster *c)
{
    json_t *list = json_array();
    size_t i;
    const json_t *m;
    json_array_foreach(c->live, i, m)
    {
        const char *id = json_string_value(m);
        const json_t *info = json_object_get(c->infos, id);
        json_t *o = info ? json_deep_copy(info) : json_pack("{s:s}", "id", id);
        size_t shards = 0, k;
        const json_t *h;
        json_array_foreach(c->holders, k, h) shards +=
            json_is_string(h) && strcmp(json_string_value(h), id) == 0;
        json_object_set_new(o, "leader",
                            json_boolean(c->leader_holder && strcmp(c->leader_holder, id) == 0));
        json_object_set_new(o, "shards", json_integer((json_int_t)shards));
        json_object_set_new(o, "self", json_boolean(strcmp(id, c->id) == 0));
        json_array_append_new(list, o);
    }
    return json_pack("{s:s, s:s?, s:o, s:i, s:I, s:b}", "instance", c->id, "leader",
                     c->leader_holder, "instances", list, "shards", CLUSTER_SHARDS, "lease_ms",
                     (json_int_t)c->lease_ms, "settled", c->settled && valid(c));
}

/* ---- lifetime ---- */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > ID_MAX)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

/* the host's short name and the listen port: a restarted instance takes back its leases */
static void default_id(Cluster *c)
{
    char host[256] = "pgfleet";
    if (gethostname(host, sizeof host) != 0 || !host[0])
        snprintf(host, sizeof host, "pgfleet");
    host[strcspn(host, ".")] = '\0';
    for (char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            *p = '-';
    snprintf(c->id, sizeof c->id, "%.30s-%d", host, c->deps.cfg->listen_port);
}

Cluster *cluster_new(const ClusterDeps *deps, char *err, size_t errlen)
{
    const char *id = config_get(deps->cfg, CFG_INSTANCE_ID);
    if (id && !id_ok(id)) {
        snprintf(err, errlen,
                 "PGFLEET_INSTANCE_ID: '%.60s' is not a name: use 1 to %d letters, digits, '.', "
                 "'_' or '-'",
                 id, ID_MAX);
        return NULL;
    }
    Cluster *c = xcalloc(1, sizeof *c);
    c->deps = *deps;
    if (id)
        snprintf(c->id, sizeof c->id, "%s", id);
    else
        default_id(c);
    if (gethostname(c->host, sizeof c->host) != 0)
        c->host[0] = '\0';
    jsonutil_now_rfc3339(c->started_at, sizeof c->started_at);
    c->lease_ms = deps->cfg->cluster_lease_ms;
    c->beat_ms = c->lease_ms / 4;
    c->infos = json_object();
    c->live = json_array();
    c->holders = json_array();
    c->refs = 2; /* the owner and the timer */
    uv_timer_init(deps->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, tick, (uint64_t)c->beat_ms, (uint64_t)c->beat_ms);
    return c;
}

static void left(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)err;
    (void)errmsg;
    (void)reply;
    Cluster *c = ud;
    c->leave_answered = true;
    unref(c);
}

bool cluster_leave_done(const Cluster *c)
{
    return !c || c->leave_answered;
}

void cluster_leave(Cluster *c)
{
    if (!c || c->left)
        return;
    c->left = true;
    uv_timer_stop(&c->timer);
    c->valid_until = 0;
    c->leader_token = 0;
    memset(c->tokens, 0, sizeof c->tokens);
    char n[8];
    snprintf(n, sizeof n, "%d", CLUSTER_SHARDS);
    const char *argv[] = {"EVAL", LEAVE, "1", store_prefix(c->deps.store), c->id, n};
    c->refs++;
    store_call(c->deps.store, left, c, 6, argv);
    log_info("cluster: %s left; its leases are free for the others", c->id);
}

void cluster_free(Cluster *c)
{
    if (!c)
        return;
    c->closing = true;
    uvtimer_close(&c->timer, unref);
    unref(c);
}
