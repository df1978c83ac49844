#include "pg/pgpool.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/xalloc.h"

typedef struct Req {
    char **sqls;
    int nsql;
    char **params;
    int nparams;
    bool pipeline;
    PgResultCb cb;
    void *ud;
    struct Req *next;
} Req;

typedef struct Slot {
    PgPool *pool;
    PgConn *conn; /* NULL while fetching the password */
    bool ready;
    bool busy;
    bool auth_retried;
    uv_timer_t idle;
    Req *req; /* in flight */
    struct Slot *next;
} Slot;

struct PgPool {
    uv_loop_t *loop;
    PgConnParams base;
    char *host, *dbname, *user, *sslmode, *sslrootcert, *appname;
    PgPasswordFn password_fn;
    void *provider;
    PgPoolOptions opts;
    Slot *slots;
    int nslots;
    Req *head, *tail;
    int nqueued;
    bool closing;
    bool draining;     /* pgpool_close_idle: busy connections close when their work ends */
    int pending_slots; /* slots whose idle timers are still closing */
};

static void dispatch(PgPool *p);

static void req_free(Req *r)
{
    for (int i = 0; i < r->nsql; i++)
        free(r->sqls[i]);
    free(r->sqls);
    for (int i = 0; i < r->nparams; i++)
        free(r->params[i]);
    free(r->params);
    free(r);
}

static void req_fail(Req *r, const PgError *e)
{
    r->cb(r->ud, NULL, NULL, 0, e);
    req_free(r);
}

static Req *pop(PgPool *p)
{
    Req *r = p->head;
    if (r) {
        p->head = r->next;
        if (!p->head)
            p->tail = NULL;
        p->nqueued--;
        r->next = NULL;
    }
    return r;
}

/* frees the pool once it is closing and nothing refers to it any more */
static void pool_release(PgPool *p)
{
    if (!p->closing || p->pending_slots > 0 || p->nslots > 0)
        return;
    free(p->host);
    free(p->dbname);
    free(p->user);
    free(p->sslmode);
    free(p->sslrootcert);
    free(p->appname);
    free(p);
}

static void slot_closed(uv_handle_t *h)
{
    Slot *s = h->data;
    PgPool *p = s->pool;
    free(s);
    p->pending_slots--;
    pool_release(p);
}

static void slot_remove(Slot *s)
{
    PgPool *p = s->pool;
    for (Slot **pp = &p->slots; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    p->nslots--;
    uv_timer_stop(&s->idle);
    p->pending_slots++;
    uv_close((uv_handle_t *)&s->idle, slot_closed);
}

static void idle_cb(uv_timer_t *t)
{
    Slot *s = t->data;
    if (s->busy || !s->ready)
        return;
    PgConn *c = s->conn;
    s->conn = NULL;
    slot_remove(s);
    pgconn_close(c);
}

void pgpool_close_idle(PgPool *p)
{
    p->draining = true;
    for (Slot *s = p->slots, *next; s; s = next) {
        next = s->next;
        idle_cb(&s->idle);
    }
}

static void result_cb(void *ud, PgConn *c, PGresult *const *results, int n, const PgError *err)
{
    Slot *s = ud;
    Req *r = s->req;
    s->req = NULL;
    s->busy = false;
    r->cb(r->ud, c, results, n, err);
    req_free(r);
    if (s->pool->closing)
        return; /* pgpool_free is closing this connection and removes the slot */
    if (!pgconn_ok(c) || (s->pool->draining && !s->pool->head)) {
        /* lost, or no longer wanted: drop the slot; queued work gets a new connection */
        s->conn = NULL;
        slot_remove(s);
        pgconn_close(c);
    } else {
        uv_timer_start(&s->idle, idle_cb, (uint64_t)s->pool->opts.idle_timeout_ms, 0);
    }
    dispatch(s->pool);
}

static void run_on(Slot *s, Req *r)
{
    s->busy = true;
    s->req = r;
    uv_timer_stop(&s->idle);
    bool ok = r->pipeline
                  ? pgconn_pipeline(s->conn, (const char *const *)r->sqls, r->nsql, result_cb, s)
                  : pgconn_query(s->conn, r->sqls[0], r->nparams, (const char *const *)r->params,
                                 result_cb, s);
    if (!ok) {
        s->busy = false;
        s->req = NULL;
        PgError e = {.kind = PGE_CLOSED};
        snprintf(e.message, sizeof e.message, "connection to %s is not usable",
                 pgconn_target(s->conn));
        req_fail(r, &e);
    }
}

static void start_connect(Slot *s, bool after_auth_failure);

static void fail_waiting(PgPool *p, const PgError *err)
{
    Req *r;
    while ((r = pop(p)))
        req_fail(r, err);
}

static void connected(void *ud, PgConn *c, const PgError *err)
{
    Slot *s = ud;
    PgPool *p = s->pool;
    if (err) {
        s->conn = NULL; /* pgconn frees itself after a failed connect */
        if (err->kind == PGE_AUTH && !s->auth_retried && !p->closing) {
            /* perhaps the password was rotated: fetch it again and retry, once */
            s->auth_retried = true;
            start_connect(s, true);
            return;
        }
        slot_remove(s);
        /* with no other connection alive, the waiting requests get this error */
        if (!p->closing && p->nslots == 0)
            fail_waiting(p, err);
        return;
    }
    s->ready = true;
    if (p->closing) {
        s->conn = NULL;
        slot_remove(s);
        pgconn_close(c);
        return;
    }
    dispatch(p);
    if (!s->busy)
        uv_timer_start(&s->idle, idle_cb, (uint64_t)p->opts.idle_timeout_ms, 0);
}

typedef struct PwCtx {
    Slot *s;
} PwCtx;

static void password_ready(void *ud, const char *password, const PgError *err)
{
    PwCtx *ctx = ud;
    Slot *s = ctx->s;
    free(ctx);
    PgPool *p = s->pool;
    if (err || p->closing) {
        slot_remove(s);
        if (!p->closing && p->nslots == 0)
            fail_waiting(p, err);
        return;
    }
    PgConnParams cp = p->base;
    cp.password = password;
    s->conn = pgconn_connect(p->loop, &cp, connected, s);
}

static void start_connect(Slot *s, bool after_auth_failure)
{
    PwCtx *ctx = xmalloc(sizeof *ctx);
    ctx->s = s;
    s->pool->password_fn(s->pool->provider, after_auth_failure, password_ready, ctx);
}

static void open_slot(PgPool *p)
{
    Slot *s = xcalloc(1, sizeof *s);
    s->pool = p;
    uv_timer_init(p->loop, &s->idle);
    s->idle.data = s;
    s->next = p->slots;
    p->slots = s;
    p->nslots++;
    start_connect(s, false);
}

static void dispatch(PgPool *p)
{
    if (p->closing)
        return;
    for (Slot *s = p->slots; s && p->head; s = s->next)
        if (s->ready && !s->busy && pgconn_ok(s->conn))
            run_on(s, pop(p));
    /* open more connections for what still waits, up to the limit */
    int opening = 0;
    for (Slot *s = p->slots; s; s = s->next)
        if (!s->ready)
            opening++;
    while (p->nqueued > opening && p->nslots < p->opts.max_size) {
        open_slot(p);
        opening++;
    }
}

static void enqueue(PgPool *p, Req *r)
{
    p->draining = false;
    if (p->tail)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
    p->nqueued++;
    dispatch(p);
}

PgPool *pgpool_new(uv_loop_t *loop, const PgConnParams *base, PgPasswordFn password_fn,
                   void *provider, const PgPoolOptions *opts)
{
    PgPool *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->base = *base;
    p->base.password = NULL;
    p->host = base->host ? xstrdup(base->host) : NULL;
    p->dbname = base->dbname ? xstrdup(base->dbname) : NULL;
    p->user = base->user ? xstrdup(base->user) : NULL;
    p->sslmode = base->sslmode ? xstrdup(base->sslmode) : NULL;
    p->sslrootcert = base->sslrootcert ? xstrdup(base->sslrootcert) : NULL;
    p->appname = base->application_name ? xstrdup(base->application_name) : NULL;
    p->base.host = p->host;
    p->base.dbname = p->dbname;
    p->base.user = p->user;
    p->base.sslmode = p->sslmode;
    p->base.sslrootcert = p->sslrootcert;
    p->base.application_name = p->appname;
    p->password_fn = password_fn;
    p->provider = provider;
    p->opts.max_size = opts && opts->max_size > 0 ? opts->max_size : 4;
    p->opts.idle_timeout_ms = opts && opts->idle_timeout_ms > 0 ? opts->idle_timeout_ms : 60000;
    return p;
}

void pgpool_query(PgPool *p, const char *sql, int nparams, const char *const *params, PgResultCb cb,
                  void *ud)
{
    Req *r = xcalloc(1, sizeof *r);
    r->sqls = xcalloc(1, sizeof(char *));
    r->sqls[0] = xstrdup(sql);
    r->nsql = 1;
    r->nparams = nparams;
    r->params = xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof(char *));
    for (int i = 0; i < nparams; i++)
        r->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    r->cb = cb;
    r->ud = ud;
    enqueue(p, r);
}

void pgpool_pipeline(PgPool *p, const char *const *sqls, int n, PgResultCb cb, void *ud)
{
    Req *r = xcalloc(1, sizeof *r);
    r->sqls = xcalloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++)
        r->sqls[i] = xstrdup(sqls[i]);
    r->nsql = n;
    r->pipeline = true;
    r->cb = cb;
    r->ud = ud;
    enqueue(p, r);
}

int pgpool_open(const PgPool *p)
{
    return p->nslots;
}

int pgpool_queued(const PgPool *p)
{
    return p->nqueued;
}

void pgpool_free(PgPool *p)
{
    if (!p)
        return;
    p->closing = true;
    PgError e = {.kind = PGE_CLOSED};
    snprintf(e.message, sizeof e.message, "connection pool closed");
    Req *r;
    while ((r = pop(p)))
        req_fail(r, &e);
    Slot *s = p->slots;
    while (s) {
        Slot *next = s->next;
        PgConn *c = s->conn;
        s->conn = NULL;
        if (c && s->ready) {
            pgconn_close(c); /* a request in flight gets PGE_CLOSED */
            slot_remove(s);
        } else if (c) {
            pgconn_close(c); /* connected() sees PGE_CLOSED and removes the slot */
        }
        /* slots waiting for a password are removed by password_ready */
        s = next;
    }
    pool_release(p);
}
