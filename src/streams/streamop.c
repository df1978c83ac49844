#include "streams/streamop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pg/pgseq.h"
#include "streams/streamsql.h"

#define SLOT_RETRIES  100
#define SLOT_RETRY_MS 100

typedef enum Side { SOURCE, TARGET } Side;

/* a lifecycle action: what it needs and what it leaves */
typedef struct ActionDef {
    const char *name;
    bool needs_source;   /* tables: the publication changes on the source first */
    const char *alter;   /* ALTER SUBSCRIPTION ... <alter> on the target */
    bool only_if_exists; /* skipped quietly when the subscription is gone */
    StreamState next;
} ActionDef;

static const ActionDef actions[] = {
    [ACTION_PAUSE] = {"pause", false, "DISABLE", true, STREAM_PAUSED},
    [ACTION_RESUME] = {"resume", false, "ENABLE", true, STREAM_INITIALIZING},
    [ACTION_REFRESH] = {"refresh", false, "REFRESH PUBLICATION", false, STREAM_INITIALIZING},
    [ACTION_TABLES] = {"tables", true, "REFRESH PUBLICATION", false, STREAM_INITIALIZING},
};

/* what each step is called in messages, and where it runs */
static const struct {
    const char *what;
    Side side;
} steps[] = {
    [STEP_PUBLICATION] = {"creating the publication on the source", SOURCE},
    [STEP_SLOT] = {"creating the replication slot on the source", SOURCE},
    [STEP_SUBSCRIPTION] = {"creating the subscription on the target", TARGET},
    [STEP_DISABLE] = {"disabling the subscription on the target", TARGET},
    [STEP_DETACH_SLOT] = {"detaching the subscription from its slot on the target", TARGET},
    [STEP_DROP_SUBSCRIPTION] = {"dropping the subscription on the target", TARGET},
    [STEP_DROP_SLOT] = {"dropping the replication slot on the source", SOURCE},
    [STEP_DROP_PUBLICATION] = {"dropping the publication on the source", SOURCE},
};

struct StreamOp {
    StreamOpConfig cfg;
    ReplicationStream s;
    bool force, aborted;
    int action; /* -1: a create or drop */
    json_t *add, *remove;
    int phase; /* actions: 0 source, 1 target */
    PgConn *conn[2];
    char *conninfo; /* the subscription's: carries the source's password */
    json_t *notes;
    uv_timer_t retry;
    int retries;
    int refs; /* the op itself, and each callback it waits for */
};

static void send_step(StreamOp *op);
static void send_action(StreamOp *op);

static void op_unref(void *owner)
{
    StreamOp *op = owner;
    if (--op->refs > 0)
        return;
    for (int i = 0; i < 2; i++)
        if (op->conn[i])
            pgconn_close(op->conn[i]);
    xfree_secret(op->conninfo);
    json_decref(op->add);
    json_decref(op->remove);
    json_decref(op->notes);
    stream_free(&op->s);
    free(op);
}

/* no more callbacks act: the sessions and the timer close, the op's own reference goes */
static void release(StreamOp *op)
{
    op->aborted = true;
    for (int i = 0; i < 2; i++)
        if (op->conn[i]) {
            pgconn_close(op->conn[i]); /* a statement in flight ends with PGE_CLOSED */
            op->conn[i] = NULL;
        }
    uvtimer_close(&op->retry, op_unref);
    op_unref(op);
}

/* the end: done once, then the op goes */
static void finish(StreamOp *op, const Failure *f)
{
    if (op->aborted)
        return;
    op->cfg.done(op->cfg.ud, &op->s, op->notes, f);
    release(op);
}

static void fail(StreamOp *op, PgfError code, const char *hint, const char *what, const char *msg)
{
    Failure f = {0};
    failure_set(&f, code, NULL,
                hint ? hint
                     : "fix the cause and send the request again: every "
                       "step is safe to repeat",
                "%s: %s", what, msg);
    finish(op, &f);
}

#define note(op, ...) json_array_append_new((op)->notes, json_sprintf(__VA_ARGS__))

static StreamOp *op_new(const StreamOpConfig *c, const ReplicationStream *s)
{
    StreamOp *op = xcalloc(1, sizeof *op);
    op->cfg = *c;
    stream_copy(&op->s, s);
    op->notes = json_array();
    op->action = -1;
    op->refs = 2; /* the op, and the retry timer's close */
    uv_timer_init(c->loop, &op->retry);
    op->retry.data = op;
    return op;
}

void streamop_abort(StreamOp *op)
{
    if (!op->aborted)
        release(op);
}

static void start_cb(uv_timer_t *t)
{
    StreamOp *op = t->data;
    if (op->action >= 0)
        send_action(op);
    else
        send_step(op);
}

/* the first step is sent from the loop: done never runs inside the call that started it */
static void start(StreamOp *op)
{
    uv_timer_start(&op->retry, start_cb, 0, 0);
}

/* ---- sessions ---- */

static const char *side_db(const StreamOp *op, Side side)
{
    return side == SOURCE ? op->s.source_database_id : op->s.target_database_id;
}

typedef struct OpenCtx {
    StreamOp *op;
    Side side;
} OpenCtx;

static void side_unreachable(StreamOp *op, Side side, const PgError *err);

static void opened(void *ud, PgConn *c, const PgError *err)
{
    OpenCtx *o = ud;
    StreamOp *op = o->op;
    Side side = o->side;
    free(o);
    if (op->aborted) {
        if (c)
            pgconn_close(c);
    } else if (err) {
        side_unreachable(op, side, err);
    } else {
        op->conn[side] = c;
        if (op->action >= 0)
            send_action(op);
        else
            send_step(op);
    }
    op_unref(op);
}

/* true when the side's session is open; otherwise opens it and the step is sent again */
static bool have_conn(StreamOp *op, Side side)
{
    if (op->conn[side])
        return true;
    PgTarget *t = registry_find(op->cfg.registry, side_db(op, side));
    if (!t) {
        PgError e = {.kind = PGE_OTHER};
        snprintf(e.message, sizeof e.message, "database '%s' is no longer registered",
                 side_db(op, side));
        snprintf(e.hint, sizeof e.hint, "register the database again with the same id");
        side_unreachable(op, side, &e);
        return false;
    }
    OpenCtx *o = xmalloc(sizeof *o);
    o->op = op;
    o->side = side;
    op->refs++;
    pgtarget_open(t, "pgfleet streams", opened, o);
    return false;
}

/* ---- create and drop ---- */

static StreamStep next_step(const ReplicationStream *s, StreamStep st)
{
    switch (st) {
    case STEP_PUBLICATION:
        return s->options.create_slot ? STEP_SLOT : STEP_SUBSCRIPTION;
    case STEP_SLOT:
        return STEP_SUBSCRIPTION;
    case STEP_SUBSCRIPTION:
        return STEP_CREATED;
    case STEP_DISABLE:
        return STEP_DETACH_SLOT;
    case STEP_DETACH_SLOT:
        return STEP_DROP_SUBSCRIPTION;
    case STEP_DROP_SUBSCRIPTION:
        return s->slot_created ? STEP_DROP_SLOT : next_step(s, STEP_DROP_SLOT);
    case STEP_DROP_SLOT:
        return s->publication_created ? STEP_DROP_PUBLICATION : STEP_DROPPED;
    case STEP_DROP_PUBLICATION:
        return STEP_DROPPED;
    default:
        return st;
    }
}

static void side_unreachable(StreamOp *op, Side side, const PgError *err)
{
    bool dropping = op->action < 0 && op->s.state == STREAM_DROPPING;
    if (dropping && side == TARGET && op->force) {
        note(op, "the target was not reachable: subscription %s was left there",
             op->s.subscription);
        op->s.step = next_step(&op->s, STEP_DROP_SUBSCRIPTION);
        op->cfg.changed(op->cfg.ud, &op->s);
        send_step(op);
        return;
    }
    char what[200];
    snprintf(what, sizeof what, "cannot reach the %s", side == SOURCE ? "source" : "target");
    const char *hint = err->hint[0] ? err->hint : NULL;
    if (dropping && side == TARGET)
        hint = "bring the target back, or send force=true to drop the slot and the publication "
               "on the source anyway (the subscription stays on the target)";
    fail(op, PGF_ERR_UNREACHABLE, hint, what, err->message);
}

static void slot_retry(uv_timer_t *t)
{
    send_step(t->data);
}

/* the transition function: the step's answer moves the record to the next step */
static void step_answered(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    (void)failed_at;
    StreamOp *op = ud;
    if (op->aborted) {
        op_unref(op);
        return;
    }
    StreamStep st = op->s.step;
    if (err && st == STEP_DROP_SLOT && !strcmp(err->sqlstate, "55006") &&
        op->retries++ < SLOT_RETRIES) {
        uv_timer_start(&op->retry, slot_retry, SLOT_RETRY_MS, 0); /* the walsender is ending */
    } else if (err) {
        if (err->kind == PGE_CLOSED || err->kind == PGE_CONNECT) {
            pgconn_close(op->conn[steps[st].side]);
            op->conn[steps[st].side] = NULL;
        }
        fail(op, PGF_ERR_UNREACHABLE, err->hint[0] ? err->hint : NULL, steps[st].what,
             err->message);
    } else {
        if (op->cfg.exit_after && !strcmp(op->cfg.exit_after, stream_step_names[st])) {
            /* test hook: die as a killed server would, after the SQL, before the record */
            log_warn("PGFLEET_TEST_EXIT_AFTER=%s: killing myself", stream_step_names[st]);
            raise(SIGKILL);
        }
        if (st == STEP_DROP_SUBSCRIPTION)
            note(op, "subscription %s dropped on the target", op->s.subscription);
        if (st == STEP_DROP_SLOT)
            note(op, "replication slot %s dropped on the source", op->s.slot);
        if (st == STEP_DROP_PUBLICATION)
            note(op, "publication %s dropped on the source", op->s.publication);
        op->retries = 0;
        op->s.step = next_step(&op->s, st);
        op->cfg.changed(op->cfg.ud, &op->s);
        send_step(op);
    }
    op_unref(op);
}

/* the subscription carries the source's conninfo: its password first */
static void conninfo_ready(void *ud, const char *password, const PgError *err)
{
    StreamOp *op = ud;
    if (!op->aborted && err)
        fail(op, PGF_ERR_UNREACHABLE, err->hint[0] ? err->hint : NULL,
             "reading the source's password", err->message);
    else if (!op->aborted) {
        PgTarget *src = registry_find(op->cfg.registry, op->s.source_database_id);
        op->conninfo = streamsql_conninfo(pgtarget_config(src), password, op->s.subscription);
        send_step(op);
    }
    op_unref(op);
}

static bool need_conninfo(StreamOp *op)
{
    if (op->conninfo)
        return false;
    PgTarget *src = registry_find(op->cfg.registry, op->s.source_database_id);
    if (!src) {
        PgError e = {.kind = PGE_OTHER};
        snprintf(e.message, sizeof e.message, "database '%s' is no longer registered",
                 op->s.source_database_id);
        side_unreachable(op, SOURCE, &e);
        return true;
    }
    op->refs++;
    pgtarget_password(src, conninfo_ready, op);
    return true;
}

static void ended(StreamOp *op)
{
    if (op->s.step == STEP_DROPPED) {
        if (!op->s.slot_created)
            note(op,
                 "replication slot %s kept: pgfleet did not create it (it retains WAL until "
                 "dropped: SELECT pg_drop_replication_slot('%s'))",
                 op->s.slot, op->s.slot);
        if (!op->s.publication_created)
            note(op, "publication %s kept: pgfleet did not create it", op->s.publication);
    }
    finish(op, NULL);
}

/* sends the SQL of the recorded step on its side */
static void send_step(StreamOp *op)
{
    StreamStep st = op->s.step;
    if (st == STEP_CREATED || st == STEP_DROPPED || st == STEP_NONE) {
        ended(op);
        return;
    }
    if (st == STEP_SUBSCRIPTION && need_conninfo(op))
        return;
    if (!have_conn(op, steps[st].side))
        return;
    const char *sub = op->s.subscription, *slot = op->s.slot ? op->s.slot : sub;
    PgStep q[3];
    memset(q, 0, sizeof q);
    char *ddl = NULL;
    int n = 1;
    switch (st) {
    case STEP_PUBLICATION:
        ddl = streamsql_create_publication(&op->s);
        q[0] = (PgStep){ddl, 1, {op->s.publication}, streamsql_publication_exists, false};
        break;
    case STEP_SLOT:
        q[0] = (PgStep){streamsql_create_slot, 1, {slot}, NULL, false};
        break;
    case STEP_SUBSCRIPTION:
        ddl = streamsql_create_subscription(&op->s, op->conninfo);
        q[0] = (PgStep){streamsql_quiet_session[0], 0, {0}, NULL, false};
        q[1] = (PgStep){streamsql_quiet_session[1], 0, {0}, NULL, false};
        q[2] = (PgStep){ddl, 1, {sub}, streamsql_subscription_exists, false};
        n = 3;
        break;
    case STEP_DISABLE:
    case STEP_DETACH_SLOT:
        ddl = streamsql_alter_subscription(sub, st == STEP_DISABLE ? "DISABLE"
                                                                   : "SET (slot_name = NONE)");
        q[0] = (PgStep){ddl, 1, {sub}, streamsql_subscription_exists, true};
        break;
    case STEP_DROP_SUBSCRIPTION:
        ddl = streamsql_drop_subscription(sub);
        q[0] = (PgStep){ddl, 0, {0}, NULL, false};
        break;
    case STEP_DROP_SLOT:
        q[0] = (PgStep){streamsql_terminate_slot_user, 1, {slot}, NULL, false};
        q[1] = (PgStep){streamsql_drop_slot, 1, {slot}, NULL, false};
        n = 2;
        break;
    default: /* STEP_DROP_PUBLICATION */
        ddl = streamsql_drop_publication(op->s.publication);
        q[0] = (PgStep){ddl, 0, {0}, NULL, false};
        break;
    }
    op->refs++;
    pgseq_run(op->conn[steps[st].side], q, n, step_answered, op);
    xfree_secret(ddl);
}

StreamOp *streamop_run(const StreamOpConfig *c, const ReplicationStream *s, bool force)
{
    StreamOp *op = op_new(c, s);
    op->force = force;
    if (op->s.step == STEP_NONE)
        op->s.step = op->s.state == STREAM_DROPPING ? STEP_DISABLE : STEP_PUBLICATION;
    start(op);
    return op;
}

/* ---- lifecycle actions ---- */

static void action_answered(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    (void)failed_at;
    StreamOp *op = ud;
    if (!op->aborted && err) {
        fail(op, PGF_ERR_UNREACHABLE, err->hint[0] ? err->hint : NULL,
             op->phase == 0 ? "changing the publication on the source" : "on the target",
             err->message);
    } else if (!op->aborted && op->phase == 0) {
        op->phase = 1;
        send_action(op);
    } else if (!op->aborted) {
        stream_set_state(&op->s, actions[op->action].next, NULL);
        finish(op, NULL);
    }
    op_unref(op);
}

/* the publication's tables: each added or removed only when it is not already so */
static void send_tables(StreamOp *op)
{
    size_t na = json_array_size(op->add), nr = json_array_size(op->remove), n = na + nr;
    PgStep *q = xcalloc(n, sizeof *q);
    char **ddl = xcalloc(n, sizeof *ddl);
    char **schema = xcalloc(n, sizeof *schema);
    for (size_t i = 0; i < n; i++) {
        bool add = i < na;
        const char *t =
            json_string_value(json_array_get(add ? op->add : op->remove, add ? i : i - na));
        const char *dot = strchr(t, '.');
        schema[i] = xstrndup(t, (size_t)(dot - t));
        ddl[i] = streamsql_publication_table(op->s.publication, t, add);
        q[i] = (PgStep){ddl[i],
                        3,
                        {op->s.publication, schema[i], dot + 1},
                        streamsql_publication_has_table,
                        !add};
    }
    op->refs++;
    pgseq_run(op->conn[SOURCE], q, (int)n, action_answered, op);
    for (size_t i = 0; i < n; i++) {
        free(ddl[i]);
        free(schema[i]);
    }
    free(q);
    free(ddl);
    free(schema);
}

static void send_action(StreamOp *op)
{
    const ActionDef *a = &actions[op->action];
    if (op->phase == 0 && !a->needs_source)
        op->phase = 1;
    if (!have_conn(op, op->phase == 0 ? SOURCE : TARGET))
        return;
    if (op->phase == 0) {
        send_tables(op);
        return;
    }
    char *ddl = streamsql_alter_subscription(op->s.subscription, a->alter);
    PgStep q = {ddl,
                1,
                {op->s.subscription},
                a->only_if_exists ? streamsql_subscription_exists : NULL,
                true};
    if (!a->only_if_exists)
        q.nparams = 0;
    op->refs++;
    pgseq_run(op->conn[TARGET], &q, 1, action_answered, op);
    free(ddl);
}

/* the record's tables follow the publication */
static void apply_table_changes(ReplicationStream *s, const json_t *add, const json_t *remove)
{
    json_t *tables = json_array();
    for (size_t i = 0; i < s->ntables; i++)
        json_array_append_new(tables, json_string(s->tables[i]));
    size_t i;
    const json_t *x;
    json_array_foreach(add, i, x)
    {
        bool have = false;
        for (size_t k = 0; k < json_array_size(tables); k++)
            have |= json_equal(json_array_get(tables, k), x);
        if (!have)
            json_array_append(tables, jsonutil_unconst(x));
    }
    json_array_foreach(remove, i, x)
    {
        for (size_t k = 0; k < json_array_size(tables); k++)
            if (json_equal(json_array_get(tables, k), x)) {
                json_array_remove(tables, k);
                break;
            }
    }
    string_array_free(s->tables, s->ntables);
    s->ntables = json_array_size(tables);
    s->tables = xcalloc(s->ntables, sizeof *s->tables);
    json_array_foreach(tables, i, x) s->tables[i] = xstrdup(json_string_value(x));
    json_decref(tables);
}

StreamOp *streamop_action(const StreamOpConfig *c, const ReplicationStream *s, StreamAction a,
                          const json_t *add, const json_t *remove)
{
    StreamOp *op = op_new(c, s);
    op->action = (int)a;
    op->add = add ? json_deep_copy(add) : json_array();
    op->remove = remove ? json_deep_copy(remove) : json_array();
    if (a == ACTION_TABLES)
        apply_table_changes(&op->s, op->add, op->remove);
    start(op);
    return op;
}

StreamState streamop_action_state(StreamAction a)
{
    return actions[a].next;
}

const char *streamop_action_name(StreamAction a)
{
    return actions[a].name;
}
