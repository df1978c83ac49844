#include "streams/follow.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pg/pgseq.h"
#include "streams/streamsql.h"

struct Follower {
    const Registry *registry;
    char *id, *target_id, *subscription;
    PgConn *conn;
    uv_timer_t timer;
    bool busy, closing;
    int refs; /* owner, timer, a query or an open in flight */
    FollowCb cb;
    void *ud;
};

static void unref(void *owner)
{
    Follower *f = owner;
    if (--f->refs > 0)
        return;
    free(f->id);
    free(f->target_id);
    free(f->subscription);
    free(f);
}

void follow_stop(Follower *f)
{
    if (!f || f->closing)
        return;
    f->closing = true;
    if (f->conn)
        pgconn_close(f->conn);
    f->conn = NULL;
    uvtimer_close(&f->timer, unref);
    unref(f);
}

static void rows_read(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)failed_at;
    Follower *f = ud;
    f->busy = false;
    if (f->closing) {
        unref(f);
        return;
    }
    if (err) {
        log_debug("stream %s: progress query failed: %s", f->id, err->message);
        if (f->conn)
            pgconn_close(f->conn);
        f->conn = NULL;
        unref(f);
        return;
    }
    const json_t *rels = json_array_get(rows, 0);
    const json_t *sub = json_array_get(json_array_get(rows, 1), 0);
    size_t i, ready = 0, total = json_array_size(rels);
    const json_t *r;
    json_array_foreach(rels, i, r) if (!strcmp(jsonutil_str(r, "state"), "ready")) ready++;
    json_t *sync = json_pack("{s:I, s:I, s:O}", "tables", (json_int_t)total, "ready",
                             (json_int_t)ready, "detail", rels);
    StreamState state = !sub                                             ? STREAM_ERROR
                        : !json_is_true(json_object_get(sub, "enabled")) ? STREAM_PAUSED
                        : total && ready == total                        ? STREAM_STREAMING
                                                                         : STREAM_INITIALIZING;
    bool stop = state != STREAM_INITIALIZING;
    f->cb(f->ud, f, state, sync, sub ? NULL : "the subscription is gone from the target", stop);
    json_decref(sync);
    if (stop)
        follow_stop(f);
    unref(f);
}

static void query(Follower *f)
{
    PgStep steps[2] = {{streamsql_sync_states, 1, {f->subscription}, NULL, false},
                       {streamsql_subscription_enabled, 1, {f->subscription}, NULL, false}};
    f->busy = true;
    f->refs++;
    pgseq_run(f->conn, steps, 2, rows_read, f);
}

static void opened(void *ud, PgConn *c, const PgError *err)
{
    Follower *f = ud;
    f->busy = false;
    if (f->closing || err) {
        if (c)
            pgconn_close(c);
        unref(f);
        return;
    }
    f->conn = c;
    query(f); /* takes its own reference before the open's goes */
    unref(f);
}

static void tick(uv_timer_t *t)
{
    Follower *f = t->data;
    if (f->busy || f->closing)
        return;
    if (f->conn) {
        query(f);
        return;
    }
    PgTarget *tgt = registry_find(f->registry, f->target_id);
    if (!tgt) {
        f->cb(f->ud, f, STREAM_INITIALIZING, NULL, NULL, true);
        follow_stop(f);
        return;
    }
    f->busy = true;
    f->refs++;
    pgtarget_open(tgt, "pgfleet streams", opened, f);
}

Follower *follow_start(uv_loop_t *loop, const Registry *registry, const ReplicationStream *s,
                       FollowCb cb, void *ud)
{
    Follower *f = xcalloc(1, sizeof *f);
    f->registry = registry;
    f->id = xstrdup(s->id);
    f->target_id = xstrdup(s->target_database_id);
    f->subscription = xstrdup(s->subscription);
    f->cb = cb;
    f->ud = ud;
    f->refs = 2; /* owner and timer */
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, tick, 200, 1000);
    return f;
}

const char *follow_stream_id(const Follower *f)
{
    return f->id;
}
