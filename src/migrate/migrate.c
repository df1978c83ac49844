#include "migrate/migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "migrate/order.h"
#include "migrate/sqlsplit.h"
#include "pg/pgquote.h"
#include "model/migration.h"
#include "pgfleet_version.h"
#include "pg/discover.h"

/*
 * The session advisory locks a run holds on each of its targets: ('pgfm', 1), one pgfleet
 * migration per database at a time; and ('pgfn', hash of the run's id), which says "this run
 * is alive" to another run's recovery: a prepared transaction is resolved only when the run
 * that prepared it no longer holds its lock there (its sessions ended).
 */
#define LOCK_SQL                                                                                   \
    "SELECT pg_try_advisory_lock(1885824621, 1), pg_advisory_lock(1885824622, hashtext($1))"
#define ALIVE_SQL "SELECT NOT pg_try_advisory_lock(1885824622, hashtext($1))"

static const char *const history_ddl =
    "CREATE TABLE IF NOT EXISTS pgfleet.migration_history (name text PRIMARY KEY, checksum text "
    "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), duration_ms float8, applied_by "
    "text, pgfleet_version text, execution_id text)";

typedef enum Step {
    S_CONNECT,
    S_PROBE,
    S_IDLE, /* planned, waiting its turn */
    S_LOCK,
    S_BEGIN,
    S_TIMEOUTS,
    S_SCHEMA,
    S_TABLE,
    S_CHECK,
    S_STMT,
    S_RECORD,
    S_END,
    S_ABORT, /* ROLLBACK after a failure */
    S_DONE,
} Step;

typedef struct Tgt {
    struct Migrate *m;
    int idx;
    const char *label;
    PgConnParams params;
    PgConn *conn;
    Step step;
    TargetStatus status;
    size_t stmt; /* next statement */
    size_t done; /* statements that ran */
    bool standby;
    long max_prepared;
    json_t *prepared; /* gids of pgfleet prepared transactions here */
    bool has_history;
    json_t *subs;   /* subscriptions of this database: [{conninfo, name}] */
    json_t *slots;  /* logical slots of this database: its subscribers' */
    char node[300]; /* host:port as given */
    uint64_t started_ns;
    double duration_ms;
    char error[900];
    char note[400];
} Tgt;

struct Migrate {
    uv_loop_t *loop;
    char id[40];
    char *name, *sql, *applied_by;
    char checksum[65];
    bool dry_run, atomic, continue_on_error, non_tx, cancelled, stopping, recover_only;
    int parallel;
    long lock_timeout_ms, statement_timeout_ms;
    SqlScript script;
    Tgt *t;
    int n;
    int *order; /* indexes into t, in run order */
    int next;   /* next position in order to start */
    int running;
    int probing;       /* probes not finished */
    int probe_next;    /* next target to probe */
    json_t *plan;      /* notes shown before running */
    json_t *recovered; /* prepared transactions resolved at start */
    json_t *recovery;  /* queued recovery work: [{target, sql, param, gid, exec}] */
    json_t *committed_execs;
    MigrateEventCb on_event;
    MigrateDoneCb done;
    void *ud;
    int commit_i; /* atomic: the target being committed / rolled back */
    bool finished;
};

static void emit(Tgt *t, const char *event, json_t *extra)
{
    json_t *e =
        json_pack("{s:s, s:s, s:s}", "execution_id", t->m->id, "target", t->label, "event", event);
    if (extra) {
        json_object_update(e, extra);
        json_decref(extra);
    }
    if (t->m->on_event)
        t->m->on_event(t->m->ud, e);
    json_decref(e);
}

/* ---- the report ---- */

static json_t *report(Migrate *m)
{
    json_t *targets = json_array();
    int failed = 0, ok = 0, skipped = 0;
    for (int k = 0; k < m->n; k++) {
        Tgt *t = &m->t[m->order ? m->order[k] : k];
        json_array_append_new(
            targets,
            json_pack("{s:s, s:s, s:I, s:I, s:f, s:s?, s:s?}", "target", t->label, "status",
                      target_status_names[t->status], "statements_done", (json_int_t)t->done,
                      "statements_total", (json_int_t)m->script.n, "duration_ms", t->duration_ms,
                      "error", t->error[0] ? t->error : NULL, "note", t->note[0] ? t->note : NULL));
        if (t->status == TGT_FAILED)
            failed++;
        else if (t->status == TGT_COMMITTED || t->status == TGT_ROLLED_BACK)
            ok++;
        else
            skipped++;
    }
    MigrationStatus st = m->cancelled   ? MIG_CANCELLED
                         : failed && ok ? MIG_PARTIAL
                         : failed       ? MIG_FAILED
                                        : MIG_SUCCEEDED;
    if (failed && ok && m->atomic)
        st = MIG_FAILED;
    const char *status = migration_status_names[st];
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:O, s:O, s:o}", "execution_id",
                     m->id, "name", m->name, "checksum", m->checksum, "status", status, "dry_run",
                     m->dry_run, "atomic", m->atomic, "continue_on_error", m->continue_on_error,
                     "non_transactional", m->non_tx, "plan", m->plan, "recovered", m->recovered,
                     "targets", targets);
}

static void free_migrate(Migrate *m)
{
    for (int i = 0; i < m->n; i++) {
        free((char *)(uintptr_t)m->t[i].label);
        pgconn_params_clear(&m->t[i].params);
        json_decref(m->t[i].prepared);
        json_decref(m->t[i].subs);
        json_decref(m->t[i].slots);
    }
    free(m->t);
    free(m->order);
    free(m->name);
    free(m->sql);
    free(m->applied_by);
    sqlsplit_free(&m->script);
    json_decref(m->plan);
    json_decref(m->recovered);
    json_decref(m->recovery);
    json_decref(m->committed_execs);
    free(m);
}

static void finish(Migrate *m)
{
    if (m->finished)
        return;
    m->finished = true;
    for (int i = 0; i < m->n; i++)
        if (m->t[i].conn) {
            pgconn_close(m->t[i].conn); /* ends the session: its advisory lock goes too */
            m->t[i].conn = NULL;
        }
    json_t *r = report(m);
    if (m->done)
        m->done(m->ud, r);
    json_decref(r);
    free_migrate(m);
}

static void set_error(Tgt *t, const PgError *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(Tgt *t, const PgError *e, const char *fmt, ...)
{
    char lead[400] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(lead, sizeof lead, fmt, ap);
        va_end(ap);
    }
    snprintf(t->error, sizeof t->error, "%s%s%s%s%s", lead, lead[0] && e ? ": " : "",
             e ? e->message : "", e && e->hint[0] ? " HINT: " : "", e ? e->hint : "");
}

/* ---- applying ---- */

static void schedule(Migrate *m);
static void step(Tgt *t);
static void atomic_finish(Migrate *m);

static void target_finished(Tgt *t)
{
    Migrate *m = t->m;
    t->duration_ms = (double)(uv_hrtime() - t->started_ns) / 1e6;
    t->step = S_DONE;
    m->running--;
    if (t->status == TGT_FAILED && !m->continue_on_error)
        m->stopping = true;
    if (!m->atomic && t->conn) {
        pgconn_close(t->conn);
        t->conn = NULL;
    }
    schedule(m);
}

static void fail(Tgt *t, const PgError *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void answered(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)c;
    Tgt *t = ud;
    Migrate *m = t->m;
    const PGresult *r = n > 0 ? res[0] : NULL;
    if (err) {
        if (t->step == S_ABORT) {
            t->status = TGT_FAILED;
            target_finished(t);
            return;
        }
        if (t->step == S_STMT) {
            const SqlStmt *s = &m->script.stmts[t->stmt];
            fail(t, err, "statement %zu of %zu (line %d) failed", t->stmt + 1, m->script.n,
                 s->line);
        } else if (t->step == S_LOCK)
            fail(t, err, "could not take the migration lock");
        else
            fail(t, err, "%s",
                 t->step == S_END ? (m->atomic ? "PREPARE TRANSACTION failed" : "COMMIT failed")
                 : t->step == S_RECORD ? "could not write the history row"
                                       : "could not prepare the migration");
        return;
    }
    switch (t->step) {
    case S_LOCK:
        if (!(PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't')) {
            t->status = TGT_FAILED;
            snprintf(t->error, sizeof t->error,
                     "already running: another pgfleet migration holds this database's migration "
                     "lock; wait for it to finish (or find it in pg_locks, locktype advisory)");
            emit(t, "failed", json_pack("{s:s}", "error", t->error));
            target_finished(t);
            return;
        }
        t->step = m->non_tx ? S_TIMEOUTS : S_BEGIN;
        break;
    case S_BEGIN:
        t->step = S_TIMEOUTS;
        break;
    case S_TIMEOUTS:
        t->step = S_SCHEMA;
        break;
    case S_SCHEMA:
        t->step = S_TABLE;
        break;
    case S_TABLE:
        t->step = S_CHECK;
        break;
    case S_CHECK:
        if (PQntuples(r) == 1) {
            const char *have = PQgetvalue(r, 0, 0);
            if (strcmp(have, m->checksum) == 0) {
                t->status = TGT_SKIPPED;
                snprintf(t->note, sizeof t->note,
                         "already applied (same name and checksum, at %s): nothing to do",
                         PQgetvalue(r, 0, 1));
                emit(t, "skipped", json_pack("{s:s}", "note", t->note));
            } else {
                t->status = TGT_FAILED;
                snprintf(t->error, sizeof t->error,
                         "drift: '%s' was applied here with checksum %.12s..., this script's is "
                         "%.12s...; a changed migration must get a new name",
                         m->name, have, m->checksum);
                emit(t, "failed", json_pack("{s:s}", "error", t->error));
            }
            t->step = m->non_tx ? S_DONE : S_ABORT;
            if (m->non_tx) {
                target_finished(t);
                return;
            }
            break;
        }
        t->step = m->script.n ? S_STMT : S_RECORD;
        break;
    case S_STMT:
        t->done++;
        emit(t, "statement",
             json_pack("{s:I, s:I}", "k", (json_int_t)t->done, "n", (json_int_t)m->script.n));
        if (++t->stmt >= m->script.n)
            t->step = S_RECORD;
        if (m->cancelled) {
            fail(t, NULL, "cancelled");
            return;
        }
        break;
    case S_RECORD:
        t->step = S_END;
        if (m->non_tx) {
            t->status = TGT_COMMITTED;
            emit(t, "committed", NULL);
            target_finished(t);
            return;
        }
        break;
    case S_END:
        if (m->dry_run) {
            t->status = TGT_ROLLED_BACK;
            snprintf(t->note, sizeof t->note,
                     "dry run: all %zu statements ran, then the transaction was rolled back",
                     m->script.n);
            emit(t, "rolled_back", json_pack("{s:s}", "note", t->note));
        } else if (m->atomic) {
            t->status = TGT_PREPARED;
            emit(t, "prepared", NULL);
        } else {
            t->status = TGT_COMMITTED;
            emit(t, "committed", NULL);
        }
        target_finished(t);
        return;
    case S_ABORT:
        if (t->status == TGT_RUNNING)
            t->status = TGT_FAILED;
        target_finished(t);
        return;
    default:
        break;
    }
    step(t);
}

static void fail(Tgt *t, const PgError *e, const char *fmt, ...)
{
    Migrate *m = t->m;
    char lead[400] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lead, sizeof lead, fmt, ap);
    va_end(ap);
    set_error(t, e, "%s", lead);
    t->status = TGT_FAILED;
    if (m->non_tx) {
        snprintf(t->note, sizeof t->note,
                 "non-transactional: statements 1..%zu were applied and stay; statement %zu and "
                 "later did not run",
                 t->done, t->done + 1);
        emit(t, "failed",
             json_pack("{s:s, s:I}", "error", t->error, "statements_done", (json_int_t)t->done));
        target_finished(t);
        return;
    }
    snprintf(t->note, sizeof t->note, "rolled back: nothing of this migration remains here");
    emit(t, "failed", json_pack("{s:s}", "error", t->error));
    t->step = S_ABORT;
    step(t);
}

static void step(Tgt *t)
{
    Migrate *m = t->m;
    char lt[32], st[32], gid[128], dur[32];
    const char *sql = NULL;
    const char *p[7];
    int np = 0;
    char *stmt = NULL;
    switch (t->step) {
    case S_LOCK:
        sql = LOCK_SQL;
        p[np++] = m->id;
        break;
    case S_BEGIN:
        sql = "BEGIN";
        break;
    case S_TIMEOUTS:
        snprintf(lt, sizeof lt, "%ldms", m->lock_timeout_ms);
        snprintf(st, sizeof st, "%ldms", m->statement_timeout_ms);
        sql = m->non_tx ? "SELECT set_config('lock_timeout', $1, false), "
                          "set_config('statement_timeout', $2, false)"
                        : "SELECT set_config('lock_timeout', $1, true), "
                          "set_config('statement_timeout', $2, true)";
        p[np++] = lt;
        p[np++] = st;
        break;
    case S_SCHEMA:
        sql = "CREATE SCHEMA IF NOT EXISTS pgfleet";
        break;
    case S_TABLE:
        sql = history_ddl;
        break;
    case S_CHECK:
        sql = "SELECT checksum, applied_at::text FROM pgfleet.migration_history WHERE name = $1";
        p[np++] = m->name;
        break;
    case S_STMT: {
        const SqlStmt *s = &m->script.stmts[t->stmt];
        stmt = xstrndup(m->sql + s->offset, s->len);
        sql = stmt;
        break;
    }
    case S_RECORD:
        snprintf(dur, sizeof dur, "%.3f", (double)(uv_hrtime() - t->started_ns) / 1e6);
        sql = "INSERT INTO pgfleet.migration_history (name, checksum, duration_ms, applied_by, "
              "pgfleet_version, execution_id) VALUES ($1, $2, $3, $4, $5, $6)";
        p[np++] = m->name;
        p[np++] = m->checksum;
        p[np++] = dur;
        p[np++] = m->applied_by;
        p[np++] = PGFLEET_VERSION;
        p[np++] = m->id;
        break;
    case S_END:
        if (m->dry_run)
            sql = "ROLLBACK";
        else if (m->atomic) {
            snprintf(gid, sizeof gid, "PREPARE TRANSACTION 'pgfleet:%s:%d'", m->id, t->idx);
            sql = gid;
        } else
            sql = "COMMIT";
        break;
    case S_ABORT:
        sql = "ROLLBACK";
        break;
    default:
        return;
    }
    if (!pgconn_query(t->conn, sql, np, p, answered, t)) {
        snprintf(t->error, sizeof t->error, "the connection to %s was lost", t->label);
        t->status = TGT_FAILED;
        target_finished(t);
    }
    free(stmt);
}

static void apply_connected(void *ud, PgConn *c, const PgError *err)
{
    Tgt *t = ud;
    if (err) {
        set_error(t, err, "could not connect to %s", t->label);
        t->status = TGT_FAILED;
        emit(t, "failed", json_pack("{s:s}", "error", t->error));
        target_finished(t);
        return;
    }
    t->conn = c;
    step(t);
}

static void start_target(Tgt *t)
{
    Migrate *m = t->m;
    m->running++;
    t->status = TGT_RUNNING;
    t->started_ns = uv_hrtime();
    t->step = S_LOCK;
    emit(t, "started", json_pack("{s:I}", "statements_total", (json_int_t)m->script.n));
    if (t->conn)
        step(t);
    else
        pgconn_connect(m->loop, &t->params, apply_connected, t);
}

static void schedule(Migrate *m)
{
    int max = m->parallel > 1 ? m->parallel : 1;
    while (!m->stopping && !m->cancelled && m->next < m->n && m->running < max)
        start_target(&m->t[m->order[m->next++]]);
    if (m->running > 0)
        return;
    /* nothing runs: what was not started is skipped */
    for (int k = m->next; k < m->n; k++) {
        Tgt *t = &m->t[m->order[k]];
        if (t->status != TGT_PENDING)
            continue;
        t->status = TGT_SKIPPED;
        snprintf(t->note, sizeof t->note, "%s",
                 m->cancelled ? "not run: the execution was cancelled"
                              : "not run: stopped at the first failure (use continue-on-error to "
                                "go on)");
        emit(t, "skipped", json_pack("{s:s}", "note", t->note));
    }
    m->next = m->n;
    if (m->atomic)
        atomic_finish(m);
    else
        finish(m);
}

/* ---- atomic: COMMIT PREPARED everywhere once every target is prepared ---- */

static void atomic_next(Migrate *m);

static void atomic_answered(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)c;
    (void)res;
    (void)n;
    Tgt *t = ud;
    Migrate *m = t->m;
    bool all = !m->stopping && !m->cancelled;
    if (err) {
        set_error(t, err, "%s", all ? "COMMIT PREPARED failed" : "ROLLBACK PREPARED failed");
        t->status = TGT_FAILED;
    } else {
        t->status = all ? TGT_COMMITTED : TGT_SKIPPED;
        if (!all)
            snprintf(t->note, sizeof t->note,
                     "atomic: prepared, then rolled back because another target failed");
        emit(t, all ? "committed" : "rolled_back", NULL);
    }
    m->commit_i++;
    atomic_next(m);
}

static void atomic_next(Migrate *m)
{
    bool all = !m->stopping && !m->cancelled;
    while (m->commit_i < m->n) {
        Tgt *t = &m->t[m->order[m->commit_i]];
        if (t->status == TGT_PREPARED && t->conn) {
            char sql[160];
            snprintf(sql, sizeof sql, "%s PREPARED 'pgfleet:%s:%d'", all ? "COMMIT" : "ROLLBACK",
                     m->id, t->idx);
            if (pgconn_query(t->conn, sql, 0, NULL, atomic_answered, t))
                return;
            snprintf(t->error, sizeof t->error,
                     "lost the connection before %s PREPARED; the next pgfleet migrate on this "
                     "target resolves it",
                     all ? "COMMIT" : "ROLLBACK");
            t->status = TGT_FAILED;
        }
        m->commit_i++;
    }
    finish(m);
}

static void atomic_finish(Migrate *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->t[i].status == TGT_FAILED)
            m->stopping = true;
    m->commit_i = 0;
    atomic_next(m);
}

/* ---- planning ---- */

static void plan_note(Migrate *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plan_note(Migrate *m, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(m->plan, json_string(buf));
}

/* the targets as the ordering sees them (strings borrowed from m) */
static OrderNode *order_nodes(const Migrate *m)
{
    OrderNode *nodes = xcalloc((size_t)m->n, sizeof *nodes);
    for (int i = 0; i < m->n; i++)
        nodes[i] = (OrderNode){.label = m->t[i].label,
                               .host = m->t[i].params.host,
                               .port = m->t[i].params.port,
                               .dbname = m->t[i].params.dbname,
                               .subs = m->t[i].subs,
                               .slots = m->t[i].slots};
    return nodes;
}

static bool script_drops(const Migrate *m)
{
    char **heads = xcalloc(m->script.n + 1, sizeof *heads);
    for (size_t i = 0; i < m->script.n; i++) {
        const SqlStmt *st = &m->script.stmts[i];
        heads[i] = xstrndup(m->sql + st->offset, st->len < 63 ? st->len : 63);
    }
    bool drops = order_script_drops((const char *const *)heads, (int)m->script.n);
    for (size_t i = 0; i < m->script.n; i++)
        free(heads[i]);
    free(heads);
    return drops;
}

/* a publisher's logical slots that no subscriber among the targets uses: subscribers this
 * run does not reach, whose apply fails if the publisher sends a shape they lack */
static void outside_subscribers(Migrate *m, const OrderNode *nodes)
{
    for (int i = 0; i < m->n; i++) {
        Tgt *pub = &m->t[i];
        json_t *outside = json_array();
        size_t k;
        const json_t *slot;
        json_array_foreach(pub->slots, k, slot)
        {
            bool ours = false;
            for (int j = 0; j < m->n && !ours; j++) {
                size_t q;
                const json_t *sub;
                json_array_foreach(m->t[j].subs, q, sub) ours |=
                    order_publisher(nodes, m->n, sub, NULL) == i && jsonutil_str(sub, "slot") &&
                    !strcmp(jsonutil_str(sub, "slot"), json_string_value(slot));
            }
            if (!ours)
                json_array_append(outside, (json_t *)(uintptr_t)slot);
        }
        if (json_array_size(outside)) {
            char *names = json_dumps(outside, JSON_COMPACT);
            plan_note(m,
                      "warning: %s publishes to subscribers that are not targets of this run "
                      "(logical slots %s): logical replication does not carry DDL, so give them "
                      "the same change first, or their apply stops on the new shape",
                      pub->label, names);
            free(names);
        }
        json_decref(outside);
    }
}

/* subscribers before their publishers (or after, for a script that drops things) */
static void order_run(Migrate *m)
{
    OrderNode *nodes = order_nodes(m);
    outside_subscribers(m, nodes);
    m->order = xcalloc((size_t)m->n, sizeof *m->order);
    order_targets(nodes, m->n, script_drops(m), m->order, m->plan);
    free(nodes);
}

static void run_recovery(Migrate *m);

static void start_apply(Migrate *m)
{
    if (m->recover_only) {
        for (int i = 0; i < m->n; i++)
            if (m->t[i].status == TGT_PENDING)
                m->t[i].status = TGT_SKIPPED;
        m->order = xcalloc((size_t)m->n, sizeof *m->order);
        for (int i = 0; i < m->n; i++)
            m->order[i] = i;
        m->next = m->n;
        finish(m);
        return;
    }
    /* refusals that apply to the whole run, before anything changes */
    for (int i = 0; i < m->n; i++) {
        Tgt *t = &m->t[i];
        if (t->status == TGT_FAILED)
            continue;
        if (t->standby) {
            t->status = TGT_FAILED;
            snprintf(t->error, sizeof t->error,
                     "%s is a standby (read-only, in recovery): migrate its primary; the change "
                     "reaches the standby through replication",
                     t->label);
        } else if (m->atomic && t->max_prepared <= 0) {
            t->status = TGT_FAILED;
            snprintf(t->error, sizeof t->error,
                     "atomic mode needs two-phase commit: max_prepared_transactions is 0 on %s "
                     "(set it, e.g. 10, and restart PostgreSQL)",
                     t->label);
        }
    }
    for (int i = 0; i < m->n; i++) {
        if (m->t[i].status == TGT_FAILED) {
            plan_note(m, "refused before running: %s", m->t[i].error);
            m->stopping = true;
        }
    }
    order_run(m);
    if (m->stopping) {
        for (int i = 0; i < m->n; i++)
            if (m->t[i].status == TGT_PENDING) {
                m->t[i].status = TGT_SKIPPED;
                snprintf(m->t[i].note, sizeof m->t[i].note,
                         "not run: the run was refused before it started");
            }
        m->next = m->n;
        finish(m);
        return;
    }
    if (m->dry_run)
        plan_note(m, "dry run: every target runs the script in a transaction that is rolled back");
    if (m->atomic)
        plan_note(m, "atomic: every target is prepared (PREPARE TRANSACTION) before any commits");
    schedule(m);
}

static void recovery_answered(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)c;
    Migrate *m = ud;
    json_t *job = json_array_get(m->recovery, 0);
    const char *kind = jsonutil_str(job, "kind");
    if (!strcmp(kind, "lookup")) {
        if (!err && n > 0 && PQntuples(res[0]) > 0)
            json_object_set_new(m->committed_execs, jsonutil_str(job, "exec"), json_true());
    } else if (!strcmp(kind, "alive")) {
        /* its run still holds its lock here (or the check failed): its resolve is dropped */
        if (err || (n > 0 && PQntuples(res[0]) == 1 && PQgetvalue(res[0], 0, 0)[0] == 't')) {
            json_array_remove(m->recovery, 1);
            plan_note(m,
                      "prepared transaction %s on %s belongs to run %s, which is still running: "
                      "left alone",
                      jsonutil_str(job, "gid"), jsonutil_str(job, "target"),
                      jsonutil_str(job, "exec"));
        }
    } else {
        json_array_append_new(m->recovered, json_pack("{s:O, s:O, s:s, s:s?}", "target",
                                                      json_object_get(job, "target"), "gid",
                                                      json_object_get(job, "gid"), "action", kind,
                                                      "error", err ? err->message : NULL));
    }
    json_array_remove(m->recovery, 0);
    run_recovery(m);
}

static void recovery_send(Migrate *m, Tgt *t)
{
    json_t *job = json_array_get(m->recovery, 0);
    const char *p[1] = {jsonutil_str(job, "param")};
    if (!pgconn_query(t->conn, jsonutil_str(job, "sql"), p[0] ? 1 : 0, p, recovery_answered, m)) {
        json_array_remove(m->recovery, 0);
        run_recovery(m);
    }
}

static void recovery_connected(void *ud, PgConn *c, const PgError *err)
{
    Tgt *t = ud;
    Migrate *m = t->m;
    if (err) {
        json_t *job = json_array_get(m->recovery, 0);
        const char *kind = jsonutil_str(job, "kind");
        if (strcmp(kind, "lookup") != 0)
            json_array_append_new(m->recovered,
                                  json_pack("{s:s, s:O, s:s, s:s}", "target", t->label, "gid",
                                            json_object_get(job, "gid"), "action", "none", "error",
                                            err->message));
        if (!strcmp(kind, "alive")) /* not known to be dead: its resolve goes too */
            json_array_remove(m->recovery, 1);
        json_array_remove(m->recovery, 0);
        run_recovery(m);
        return;
    }
    t->conn = c;
    recovery_send(m, t);
}

/* lookups first, then COMMIT/ROLLBACK PREPARED decided from them */
static void run_recovery(Migrate *m)
{
    json_t *job = json_array_get(m->recovery, 0);
    if (!job) {
        for (int i = 0; i < m->n; i++)
            if (m->t[i].conn) {
                pgconn_close(m->t[i].conn);
                m->t[i].conn = NULL;
            }
        start_apply(m);
        return;
    }
    const char *kind = jsonutil_str(job, "kind");
    Tgt *t = &m->t[json_integer_value(json_object_get(job, "idx"))];
    StrBuf sql = STRBUF_INIT;
    const char *p[1];
    int np = 0;
    if (!strcmp(kind, "lookup")) {
        strbuf_puts(&sql,
                    "SELECT 1 FROM pgfleet.migration_history WHERE execution_id = $1 LIMIT 1");
        p[np++] = jsonutil_str(job, "exec");
    } else if (!strcmp(kind, "alive")) {
        strbuf_puts(&sql, ALIVE_SQL);
        p[np++] = jsonutil_str(job, "exec");
    } else {
        /* decided now: a commit anywhere means the run had reached its commit phase */
        bool commit = json_object_get(m->committed_execs, jsonutil_str(job, "exec")) != NULL;
        json_object_set_new(job, "kind", json_string(commit ? "commit" : "rollback"));
        strbuf_puts(&sql, commit ? "COMMIT PREPARED " : "ROLLBACK PREPARED ");
        pgquote_literal(&sql, jsonutil_str(job, "gid")); /* a gid is any text: quoted */
        plan_note(m, "found prepared transaction %s left by an interrupted atomic run on %s: %s",
                  jsonutil_str(job, "gid"), t->label,
                  commit ? "committed (another target of that run had committed)"
                         : "rolled back (no target of that run had committed)");
    }
    json_object_set_new(job, "sql", json_string(sql.data));
    strbuf_free(&sql);
    if (np)
        json_object_set_new(job, "param", json_string(p[0]));
    if (t->conn) {
        recovery_send(m, t);
        return;
    }
    pgconn_connect(m->loop, &t->params, recovery_connected, t);
}

static void plan_ready(Migrate *m)
{
    /* every prepared pgfleet transaction found: look its run up in every history */
    json_t *execs = json_object();
    for (int i = 0; i < m->n; i++) {
        size_t k;
        const json_t *g;
        if (m->t[i].standby)
            continue; /* a standby shows its primary's prepared transactions, read-only */
        json_array_foreach(m->t[i].prepared, k, g)
        {
            char exec[64] = "";
            const char *gid = json_string_value(g);
            const char *a = strchr(gid, ':'), *b = a ? strchr(a + 1, ':') : NULL;
            if (a && b && (size_t)(b - a - 1) < sizeof exec)
                snprintf(exec, sizeof exec, "%.*s", (int)(b - a - 1), a + 1);
            json_object_set_new(execs, exec, json_true());
            json_array_append_new(m->recovery,
                                  json_pack("{s:s, s:i, s:s, s:s, s:s}", "kind", "alive", "idx", i,
                                            "target", m->t[i].label, "gid", gid, "exec", exec));
            json_array_append_new(m->recovery,
                                  json_pack("{s:s, s:i, s:s, s:s, s:s}", "kind", "resolve", "idx",
                                            i, "target", m->t[i].label, "gid", gid, "exec", exec));
        }
    }
    json_t *lookups = json_array();
    const char *exec;
    json_t *v;
    json_object_foreach(execs, exec, v) for (int i = 0; i < m->n; i++) if (m->t[i].has_history)
        json_array_append_new(
            lookups, json_pack("{s:s, s:i, s:s}", "kind", "lookup", "idx", i, "exec", exec));
    json_array_extend(lookups, m->recovery);
    json_decref(m->recovery);
    m->recovery = lookups;
    json_decref(execs);
    run_recovery(m);
}

static const char *const probe_sql[] = {
    "SELECT pg_is_in_recovery(), current_setting('max_prepared_transactions')::int, "
    "to_regclass('pgfleet.migration_history') IS NOT NULL, "
    "coalesce((SELECT string_agg(gid, ' ') FROM pg_prepared_xacts WHERE gid LIKE 'pgfleet:%' "
    "AND database = current_database()), ''), "
    "coalesce((SELECT string_agg(slot_name, ' ') FROM pg_replication_slots WHERE slot_type = "
    "'logical' AND database = current_database()), '')",
    NULL, /* discover's subscription query */
};

#define PLAN_PARALLEL 8

static void connected(void *ud, PgConn *c, const PgError *err);

static void probe_more(Migrate *m)
{
    while (m->probe_next < m->n && m->probe_next - (m->n - m->probing) < PLAN_PARALLEL) {
        Tgt *t = &m->t[m->probe_next++];
        t->step = S_CONNECT;
        pgconn_connect(m->loop, &t->params, connected, t);
    }
}

static void probe_done(Migrate *m)
{
    if (--m->probing == 0)
        plan_ready(m);
    else
        probe_more(m);
}

static void probed(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)c;
    Tgt *t = ud;
    Migrate *m = t->m;
    if (err) {
        set_error(t, err, "could not inspect %s", t->label);
        t->status = TGT_FAILED;
    } else {
        const PGresult *r = res[0];
        t->standby = PQgetvalue(r, 0, 0)[0] == 't';
        t->max_prepared = strtol(PQgetvalue(r, 0, 1), NULL, 10);
        t->has_history = PQgetvalue(r, 0, 2)[0] == 't';
        char *slots = xstrdup(PQgetvalue(r, 0, 4));
        for (char *save = NULL, *g = strtok_r(slots, " ", &save); g; g = strtok_r(NULL, " ", &save))
            json_array_append_new(t->slots, json_string(g));
        free(slots);
        char *gids = xstrdup(PQgetvalue(r, 0, 3));
        for (char *save = NULL, *g = strtok_r(gids, " ", &save); g; g = strtok_r(NULL, " ", &save))
            json_array_append_new(t->prepared, json_string(g));
        free(gids);
        const char *db = t->params.dbname ? t->params.dbname : "postgres";
        for (int i = 0; n > 1 && i < PQntuples(res[1]); i++) {
            int fdb = PQfnumber(res[1], "database"), fci = PQfnumber(res[1], "conninfo"),
                fname = PQfnumber(res[1], "name"), fslot = PQfnumber(res[1], "slot");
            if (strcmp(PQgetvalue(res[1], i, fdb), db) != 0)
                continue;
            json_array_append_new(
                t->subs,
                json_pack("{s:s?, s:s, s:s?}", "conninfo",
                          PQgetisnull(res[1], i, fci) ? NULL : PQgetvalue(res[1], i, fci), "name",
                          PQgetvalue(res[1], i, fname), "slot",
                          PQgetisnull(res[1], i, fslot) ? NULL : PQgetvalue(res[1], i, fslot)));
        }
    }
    t->step = S_IDLE;
    /* a target's session is opened again when its turn comes: a run over many databases of
     * one server holds at most `parallel` connections there (PLAN_PARALLEL while planning) */
    if (t->conn) {
        pgconn_close(t->conn);
        t->conn = NULL;
    }
    probe_done(m);
}

static void connected(void *ud, PgConn *c, const PgError *err)
{
    Tgt *t = ud;
    Migrate *m = t->m;
    if (err) {
        set_error(t, err, "could not connect to %s", t->label);
        t->status = TGT_FAILED;
        t->step = S_IDLE;
        probe_done(m);
        return;
    }
    t->conn = c;
    t->step = S_PROBE;
    const char *q[2] = {probe_sql[0], discover_subscriptions_sql};
    if (!pgconn_pipeline(c, q, 2, probed, t)) {
        PgError e = {.kind = PGE_CLOSED};
        snprintf(e.message, sizeof e.message, "the connection closed");
        probed(t, c, NULL, 0, &e);
    }
}

/* ---- start ---- */

/* the checks that need no connection; fills s when they pass */
static bool check(const MigrateOptions *o, int n, SqlScript *out, char *err, size_t errlen)
{
    if (o->recover_only) {
        memset(out, 0, sizeof *out);
        if (n <= 0) {
            snprintf(err, errlen, "no targets");
            return false;
        }
        return true;
    }
    if (!o->name || !*o->name) {
        snprintf(err, errlen, "the migration needs a name");
        return false;
    }
    if (n <= 0) {
        snprintf(err, errlen, "no targets: give at least one database");
        return false;
    }
    if (o->atomic && (o->non_transactional || o->continue_on_error || o->dry_run)) {
        snprintf(err, errlen, "atomic cannot be combined with %s",
                 o->non_transactional   ? "non-transactional (two-phase commit needs a transaction)"
                 : o->continue_on_error ? "continue-on-error (atomic means all or nothing)"
                                        : "dry run (a dry run already changes nothing)");
        return false;
    }
    if (o->dry_run && o->non_transactional) {
        snprintf(err, errlen,
                 "a dry run needs a transaction to roll back; a non-transactional script cannot "
                 "be dry-run");
        return false;
    }
    SqlScript s;
    sqlsplit(o->sql, o->sql_len, &s);
    if (s.unterminated) {
        snprintf(err, errlen,
                 "the script has an unterminated string, quoted identifier, comment or dollar "
                 "quote starting at line %d",
                 s.unterminated_line);
        sqlsplit_free(&s);
        return false;
    }
    if (s.n == 0) {
        snprintf(err, errlen, "the script has no statements");
        sqlsplit_free(&s);
        return false;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.stmts[i].tx_control) {
            snprintf(err, errlen,
                     "statement %zu (line %d) is %s: pgfleet runs each target in its own "
                     "transaction; remove transaction control from the script",
                     i + 1, s.stmts[i].line, s.stmts[i].what);
            sqlsplit_free(&s);
            return false;
        }
        if (s.stmts[i].non_tx && !o->non_transactional) {
            snprintf(err, errlen,
                     "statement %zu (line %d) is %s, which cannot run inside a transaction: mark "
                     "the migration non-transactional (it then runs statement by statement, "
                     "without rollback)",
                     i + 1, s.stmts[i].line, s.stmts[i].what);
            sqlsplit_free(&s);
            return false;
        }
    }
    *out = s;
    return true;
}

bool migrate_check(const MigrateOptions *o, int n, char *err, size_t errlen)
{
    SqlScript s;
    if (!check(o, n, &s, err, errlen))
        return false;
    sqlsplit_free(&s);
    return true;
}

Migrate *migrate_start(uv_loop_t *loop, const MigrateOptions *o, const MigrateTarget *targets,
                       int n, MigrateEventCb on_event, MigrateDoneCb done, void *ud, char *err,
                       size_t errlen)
{
    SqlScript s;
    if (!check(o, n, &s, err, errlen))
        return NULL;
    Migrate *m = xcalloc(1, sizeof *m);
    m->loop = loop;
    m->script = s;
    if (o->execution_id)
        snprintf(m->id, sizeof m->id, "%s", o->execution_id);
    else {
        char *id = model_new_id("mig");
        snprintf(m->id, sizeof m->id, "%s", id);
        free(id);
    }
    m->name = xstrdup(o->name);
    m->sql = xstrndup(o->sql, o->sql_len);
    m->applied_by = xstrdup(o->applied_by ? o->applied_by : "pgfleet");
    migration_checksum(o->sql, o->sql_len, m->checksum);
    m->dry_run = o->dry_run;
    m->atomic = o->atomic;
    m->continue_on_error = o->continue_on_error;
    m->non_tx = o->non_transactional;
    m->recover_only = o->recover_only;
    m->parallel = o->atomic ? 1 : o->parallel;
    m->lock_timeout_ms = o->lock_timeout_ms > 0 ? o->lock_timeout_ms : 5000;
    m->statement_timeout_ms = o->statement_timeout_ms > 0 ? o->statement_timeout_ms : 300000;
    m->plan = json_array();
    m->recovered = json_array();
    m->recovery = json_array();
    m->committed_execs = json_object();
    m->on_event = on_event;
    m->done = done;
    m->ud = ud;
    m->n = n;
    m->t = xcalloc((size_t)n, sizeof *m->t);
    m->probing = n;
    for (int i = 0; i < n; i++) {
        Tgt *t = &m->t[i];
        t->m = m;
        t->idx = i;
        t->label = xstrdup(targets[i].label);
        PgConnParams p = targets[i].params;
        p.application_name = "pgfleet migrate";
        pgconn_params_copy(&t->params, &p);
        t->params.statement_timeout_ms = m->statement_timeout_ms;
        t->prepared = json_array();
        t->subs = json_array();
        t->slots = json_array();
    }
    probe_more(m);
    return m;
}

void migrate_cancel(Migrate *m)
{
    if (m->cancelled || m->finished)
        return;
    m->cancelled = true;
    for (int i = 0; i < m->n; i++)
        if (m->t[i].status == TGT_RUNNING && m->t[i].conn)
            pgconn_cancel(m->t[i].conn);
}

void migrate_detach(Migrate *m)
{
    m->on_event = NULL;
    m->done = NULL;
    migrate_cancel(m);
}

const char *migrate_id(const Migrate *m)
{
    return m->id;
}
