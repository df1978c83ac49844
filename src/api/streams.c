/*
 * streams: logical replication streams between registered databases.
 *
 *   POST /api/replication/validate   the pre-flight checks (preflight.c)
 *   POST /api/replication/create     checks, then publication (source), slot (source),
 *                                    subscription (target); follows the initial copy
 *   GET  /api/replication/streams[/{id}], POST .../{id}/pause|resume|refresh|tables,
 *   DELETE /api/replication/streams/{id}
 *
 * Every step is idempotent (IF NOT EXISTS in SQL, or a check first), and the
 * record in Redis (hash <prefix>streams) says what pgfleet created before it
 * creates it, so a create interrupted by a crash is finished by sending the
 * same create again (with the stream's id) and a drop only removes what
 * pgfleet made. The subscription's connection string carries the source's
 * password (PostgreSQL keeps it in pg_subscription); it is never logged or
 * returned, and the target session that runs the DDL stops PostgreSQL from
 * logging the statement text (log_min_error_statement = panic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "api/api.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "model/database.h"
#include "pg/pgseq.h"
#include "pg/target.h"
#include "replication/collector.h"
#include "streams/preflight.h"

#define STREAM_HASH "streams"

/* ---- connections to registered databases ---- */

typedef void (*OpenCb)(void *ud, PgConn *c, const PgError *err);

typedef struct Open {
    ApiContext *ctx;
    PgConnParams p;
    char *host, *dbname, *user, *password;
    OpenCb cb;
    void *ud;
} Open;

static void open_free(Open *o)
{
    free(o->host);
    free(o->dbname);
    free(o->user);
    if (o->password) {
        sodium_memzero(o->password, strlen(o->password));
        free(o->password);
    }
    free(o);
}

static void opened(void *ud, PgConn *c, const PgError *err)
{
    Open *o = ud;
    o->cb(o->ud, err ? NULL : c, err);
    open_free(o);
}

static void open_password(void *ud, const char *password, const PgError *err)
{
    Open *o = ud;
    if (err) {
        o->cb(o->ud, NULL, err);
        open_free(o);
        return;
    }
    o->password = xstrdup(password);
    o->p.password = o->password;
    pgconn_connect(o->ctx->loop, &o->p, opened, o);
}

/* connects to the registered database as its configured user */
static void open_db(ApiContext *ctx, PgTarget *t, OpenCb cb, void *ud)
{
    const DatabaseConfig *db = pgtarget_config(t);
    Open *o = xcalloc(1, sizeof *o);
    o->ctx = ctx;
    o->cb = cb;
    o->ud = ud;
    o->host = xstrdup(db->host);
    o->dbname = xstrdup(db->dbname);
    o->user = xstrdup(db->user);
    o->p = (PgConnParams){.host = o->host,
                          .port = (int)db->port,
                          .dbname = o->dbname,
                          .user = o->user,
                          .sslmode = sslmode_names[db->sslmode],
                          .sslrootcert = config_get(ctx->cfg, CFG_PG_CA_FILE),
                          .application_name = "pgfleet streams",
                          .connect_timeout_ms = ctx->cfg->pg_connect_timeout_ms,
                          .statement_timeout_ms = ctx->cfg->pg_statement_timeout_ms};
    pgtarget_password(t, open_password, o);
}

/*
 * v between quote characters q; each character of `escaped` is preceded by esc.
 * SQL literals and identifiers double their quote (standard_conforming_strings
 * on); libpq conninfo values escape ' and \ with a backslash.
 */
static void quoted(StrBuf *sb, const char *v, char q, const char *escaped, char esc)
{
    strbuf_append(sb, &q, 1);
    for (const char *p = v; *p; p++) {
        if (strchr(escaped, *p))
            strbuf_append(sb, &esc, 1);
        strbuf_append(sb, p, 1);
    }
    strbuf_append(sb, &q, 1);
}

static void conninfo_kv(StrBuf *sb, const char *k, const char *v)
{
    strbuf_printf(sb, "%s%s=", sb->len ? " " : "", k);
    quoted(sb, v, '\'', "\\'", '\\');
}

static void sql_literal(StrBuf *sb, const char *v)
{
    quoted(sb, v, '\'', "'", '\'');
}

static void sql_ident(StrBuf *sb, const char *v)
{
    quoted(sb, v, '"', "\"", '"');
}

/* "schema.table" -> "schema"."table" */
static void sql_table(StrBuf *sb, const char *q)
{
    const char *dot = strchr(q, '.');
    char *schema = xstrndup(q, (size_t)(dot - q));
    sql_ident(sb, schema);
    strbuf_puts(sb, ".");
    sql_ident(sb, dot + 1);
    free(schema);
}

/* {"a","b"} as a text[] parameter */
static char *text_array(const json_t *names)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "{");
    size_t i;
    const json_t *x;
    json_array_foreach(names, i, x)
    {
        strbuf_puts(&sb, i ? ",\"" : "\"");
        for (const char *p = json_string_value(x); *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_puts(&sb, "\\");
            strbuf_append(&sb, p, 1);
        }
        strbuf_puts(&sb, "\"");
    }
    strbuf_puts(&sb, "}");
    return strbuf_detach(&sb);
}

/* ---- records ---- */

static void saved(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_warn("a stream record was not saved: %s", errmsg);
}

static void save_record(ApiContext *ctx, json_t *rec)
{
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    json_object_set_new(rec, "updated_at", json_string(now));
    char *s = json_dumps(rec, JSON_COMPACT);
    if (store_hset(ctx->store, STREAM_HASH, jsonutil_str(rec, "id"), s, strlen(s), saved, NULL) !=
        PGF_OK)
        log_warn("stream %s: the record could not be saved (store down)", jsonutil_str(rec, "id"));
    free(s);
}

static void publish(ApiContext *ctx, const json_t *rec, json_t *extra)
{
    char topic[128];
    snprintf(topic, sizeof topic, "stream:%s", jsonutil_str(rec, "id"));
    json_t *e = json_pack("{s:O, s:O}", "stream_id", json_object_get(rec, "id"), "state",
                          json_object_get(rec, "state"));
    if (extra) {
        json_object_update(e, extra);
        json_decref(extra);
    }
    wshub_publish(ctx->hub, topic, e);
}

static void set_state(ApiContext *ctx, json_t *rec, const char *state, const char *error)
{
    json_object_set_new(rec, "state", json_string(state));
    json_object_set_new(rec, "error", error ? json_string(error) : json_null());
    save_record(ctx, rec);
    publish(ctx, rec, error ? json_pack("{s:s}", "error", error) : NULL);
    log_info("stream %s: %s%s%s", jsonutil_str(rec, "id"), state, error ? ": " : "",
             error ? error : "");
}

/* ---- following the initial copy ---- */

typedef struct Follow {
    ApiContext *ctx;
    json_t *rec;
    PgConn *conn;
    uv_timer_t timer;
    bool busy, closing;
    int refs;
    struct Follow *next;
} Follow;

static Follow *follows;

static void follow_unref(Follow *f)
{
    if (--f->refs > 0)
        return;
    json_decref(f->rec);
    free(f);
}

static void follow_closed(uv_handle_t *h)
{
    follow_unref(h->data);
}

static void follow_stop(Follow *f)
{
    if (f->closing)
        return;
    f->closing = true;
    for (Follow **pp = &follows; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    if (f->conn)
        pgconn_close(f->conn);
    f->conn = NULL;
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, follow_closed);
}

static void follow_stop_id(const char *id)
{
    for (Follow *f = follows; f; f = f->next)
        if (!strcmp(jsonutil_str(f->rec, "id"), id)) {
            follow_stop(f);
            return;
        }
}

static void follow_rows(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)failed_at;
    Follow *f = ud;
    f->busy = false;
    if (f->closing) {
        follow_unref(f);
        return;
    }
    if (err) {
        log_debug("stream %s: progress query failed: %s", jsonutil_str(f->rec, "id"), err->message);
        if (f->conn)
            pgconn_close(f->conn);
        f->conn = NULL;
        follow_unref(f);
        return;
    }
    const json_t *rels = json_array_get(rows, 0);
    const json_t *sub = json_array_get(json_array_get(rows, 1), 0);
    size_t i, ready = 0, total = json_array_size(rels);
    const json_t *r;
    json_array_foreach(rels, i, r) if (!strcmp(jsonutil_str(r, "state"), "ready")) ready++;
    json_object_set_new(f->rec, "sync",
                        json_pack("{s:I, s:I, s:O}", "tables", (json_int_t)total, "ready",
                                  (json_int_t)ready, "detail", rels));
    bool enabled = json_is_true(json_object_get(sub, "enabled"));
    const char *state = !sub                      ? "error"
                        : !enabled                ? "paused"
                        : total && ready == total ? "streaming"
                                                  : "initializing";
    bool changed = strcmp(jsonutil_str(f->rec, "state"), state) != 0;
    json_object_set_new(f->rec, "state", json_string(state));
    if (!sub)
        json_object_set_new(f->rec, "error",
                            json_string("the subscription is gone from the target"));
    save_record(f->ctx, f->rec);
    publish(f->ctx, f->rec,
            json_pack("{s:I, s:I, s:O}", "tables", (json_int_t)total, "ready", (json_int_t)ready,
                      "detail", rels));
    if (changed)
        log_info("stream %s: %s (%zu/%zu tables ready)", jsonutil_str(f->rec, "id"), state, ready,
                 total);
    if (!strcmp(state, "streaming") || !strcmp(state, "error") || !strcmp(state, "paused"))
        follow_stop(f);
    follow_unref(f);
}

static const char *const sync_sql =
    "SELECT sr.srrelid::regclass::text AS table_name, CASE sr.srsubstate WHEN 'i' THEN 'init' "
    "WHEN 'd' THEN 'copying' WHEN 'f' THEN 'copied' WHEN 's' THEN 'synchronized' WHEN 'r' THEN "
    "'ready' ELSE sr.srsubstate::text END AS state FROM pg_subscription_rel sr JOIN "
    "pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = $1 ORDER BY 1";

static void follow_query(Follow *f)
{
    const char *sub = jsonutil_str(f->rec, "subscription");
    PgStep steps[2] = {{sync_sql, 1, {sub}},
                       {"SELECT subenabled AS enabled FROM pg_subscription WHERE subname = $1 AND "
                        "subdbid = (SELECT oid FROM pg_database WHERE datname = "
                        "current_database())",
                        1,
                        {sub}}};
    f->busy = true;
    f->refs++;
    pgseq_run(f->conn, steps, 2, follow_rows, f);
}

static void follow_opened(void *ud, PgConn *c, const PgError *err)
{
    Follow *f = ud;
    if (f->closing || err) {
        if (c)
            pgconn_close(c);
        f->busy = false;
        follow_unref(f);
        return;
    }
    f->conn = c;
    follow_unref(f); /* the open's reference; the query takes its own */
    follow_query(f);
}

static void follow_tick(uv_timer_t *t)
{
    Follow *f = t->data;
    if (f->busy || f->closing)
        return;
    if (!f->conn) {
        /* looked up each time: the database may have been removed meanwhile */
        PgTarget *tgt = databases_find(f->ctx->dbs, jsonutil_str(f->rec, "target_database_id"));
        if (!tgt) {
            follow_stop(f);
            return;
        }
        f->busy = true;
        f->refs++;
        open_db(f->ctx, tgt, follow_opened, f);
        return;
    }
    follow_query(f);
}

static void follow_start(ApiContext *ctx, const json_t *rec)
{
    follow_stop_id(jsonutil_str(rec, "id"));
    if (!databases_find(ctx->dbs, jsonutil_str(rec, "target_database_id")))
        return;
    Follow *f = xcalloc(1, sizeof *f);
    f->ctx = ctx;
    f->rec = json_deep_copy(rec);
    f->refs = 1;
    uv_timer_init(ctx->loop, &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, follow_tick, 200, 1000);
    f->next = follows;
    follows = f;
}

void streams_shutdown(void)
{
    while (follows)
        follow_stop(follows);
}

/* ---- one operation on a stream: source and/or target sessions, then an answer ---- */

typedef struct Op Op;
typedef void (*OpStep)(Op *op);

struct Op {
    ApiContext *ctx;
    HttpRequest *req; /* held; NULL once answered */
    json_t *body;
    json_t *rec; /* the stream record */
    PgTarget *src_t, *tgt_t;
    PgConn *src, *tgt;
    json_t *src_out, *tgt_out;
    json_t *checks;
    char *src_conninfo; /* with the password: never logged, never returned */
    int pending;
    OpStep next;
    bool creating, force, resume;
    void *life; /* a lifecycle action's state */
    char error[1200];
};

static void op_free(Op *op)
{
    if (op->src)
        pgconn_close(op->src);
    if (op->tgt)
        pgconn_close(op->tgt);
    if (op->src_conninfo) {
        sodium_memzero(op->src_conninfo, strlen(op->src_conninfo));
        free(op->src_conninfo);
    }
    json_decref(op->body);
    json_decref(op->rec);
    json_decref(op->src_out);
    json_decref(op->tgt_out);
    json_decref(op->checks);
    if (op->req)
        http_request_release(op->req);
    free(op);
}

static void answer_error(Op *op, PgfError code, const char *hint, json_t *extra, const char *msg)
{
    if (!op->req) {
        json_decref(extra);
        return;
    }
    if (extra)
        http_respond_error_extra(op->req, code, extra, hint, "%s", msg);
    else
        http_respond_error(op->req, code, hint, "%s", msg);
    http_request_release(op->req);
    op->req = NULL;
}

static void answer_json(Op *op, unsigned status, json_t *j)
{
    if (!op->req) {
        json_decref(j);
        return;
    }
    http_respond_json(op->req, status, j);
    http_request_release(op->req);
    op->req = NULL;
}

static void pg_error_json(json_t *out, const PgError *err)
{
    json_object_set_new(out, "error", json_string(err->message));
    json_object_set_new(out, "hint", err->hint[0] ? json_string(err->hint) : json_null());
}

/* opens the source and/or the target, then runs next */
static void both_opened(Op *op)
{
    if (--op->pending == 0)
        op->next(op);
}

static void src_opened(void *ud, PgConn *c, const PgError *err)
{
    Op *op = ud;
    op->src = c;
    if (err)
        pg_error_json(op->src_out, err);
    both_opened(op);
}

static void tgt_opened(void *ud, PgConn *c, const PgError *err)
{
    Op *op = ud;
    op->tgt = c;
    if (err)
        pg_error_json(op->tgt_out, err);
    both_opened(op);
}

static void open_both(Op *op, bool source, bool target, OpStep next)
{
    op->next = next;
    op->pending = 1 + source + target;
    if (source)
        open_db(op->ctx, op->src_t, src_opened, op);
    if (target)
        open_db(op->ctx, op->tgt_t, tgt_opened, op);
    both_opened(op);
}

/* ---- pre-flight ---- */

static void preflight_done(Op *op);

static void reach_done(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    Op *op = ud;
    json_t *reach = json_pack("{s:b, s:b}", "verified", 1, "ok", err == NULL);
    if (err) {
        if (failed_at < 4) { /* the SETs or BEGIN failed: nothing was tried */
            json_object_set_new(reach, "verified", json_false());
            json_object_set_new(reach, "why", json_string(err->message));
        } else
            json_object_set_new(reach, "error", json_string(err->message));
        /* the session is in an aborted transaction: drop it */
        pgconn_close(op->tgt);
        op->tgt = NULL;
    }
    json_object_set_new(op->tgt_out, "reach", reach);
    preflight_done(op);
}

static void check_reach(Op *op)
{
    const json_t *t = json_object_get(op->tgt_out, "settings");
    if (!op->tgt || !t || !op->src_conninfo) {
        preflight_done(op);
        return;
    }
    if (!json_is_true(json_object_get(t, "superuser"))) {
        json_object_set_new(op->tgt_out, "reach",
                            json_pack("{s:b, s:s}", "verified", 0, "why",
                                      "the target role may not create subscriptions, so pgfleet "
                                      "cannot make the target connect to the source"));
        preflight_done(op);
        return;
    }
    unsigned char rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    StrBuf sql = STRBUF_INIT;
    strbuf_printf(&sql,
                  "CREATE SUBSCRIPTION pgfleet_preflight_%02x%02x%02x%02x%02x%02x CONNECTION ",
                  rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    sql_literal(&sql, op->src_conninfo);
    strbuf_puts(&sql, " PUBLICATION ");
    sql_ident(&sql, jsonutil_str(op->body, "publication"));
    strbuf_puts(&sql, " WITH (create_slot = false, enabled = false, slot_name = NONE)");
    /* the check's own warnings (the publication does not exist yet) stay out of the log */
    PgStep steps[6] = {{"SET log_min_error_statement = panic", 0, {0}},
                       {"SET log_statement = 'none'", 0, {0}},
                       {"SET log_min_messages = error", 0, {0}},
                       {"BEGIN", 0, {0}},
                       {sql.data, 0, {0}},
                       {"ROLLBACK", 0, {0}}};
    pgseq_run(op->tgt, steps, 6, reach_done, op);
    sodium_memzero(sql.data, sql.len);
    strbuf_free(&sql);
}

static void tgt_read(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)failed_at;
    Op *op = ud;
    if (err)
        pg_error_json(op->tgt_out, err);
    else {
        json_object_set(op->tgt_out, "settings", json_array_get(json_array_get(rows, 0), 0));
        json_object_set(op->tgt_out, "tables", json_array_get(rows, 1));
    }
    check_reach(op);
}

static void src_read(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)failed_at;
    Op *op = ud;
    if (err)
        pg_error_json(op->src_out, err);
    else {
        json_object_set(op->src_out, "settings", json_array_get(json_array_get(rows, 0), 0));
        json_object_set(op->src_out, "tables", json_array_get(rows, 1));
    }
    if (!op->tgt) {
        preflight_done(op);
        return;
    }
    /* the target's copies of the source's tables (or of the ones asked for) */
    json_t *names = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(op->src_out, "tables"), i, x)
        json_array_append_new(names, json_string(jsonutil_str(x, "qualified")));
    if (!json_array_size(names))
        json_array_extend(names, json_object_get(op->body, "tables"));
    char *arr = text_array(names);
    json_decref(names);
    PgStep steps[2] = {{preflight_target_settings_sql, 1, {jsonutil_str(op->body, "subscription")}},
                       {preflight_tables_sql, 1, {arr}}};
    pgseq_run(op->tgt, steps, 2, tgt_read, op);
    free(arr);
}

static void preflight_opened(Op *op)
{
    if (!op->src) {
        if (op->tgt) {
            /* still read the target for what can be said without the source */
            PgStep steps[1] = {
                {preflight_target_settings_sql, 1, {jsonutil_str(op->body, "subscription")}}};
            pgseq_run(op->tgt, steps, 1, tgt_read, op);
            return;
        }
        preflight_done(op);
        return;
    }
    const json_t *tables = json_object_get(op->body, "tables");
    char *arr = json_is_true(json_object_get(op->body, "all_tables")) ? NULL : text_array(tables);
    PgStep steps[2] = {{preflight_source_settings_sql,
                        2,
                        {jsonutil_str(op->body, "publication"), jsonutil_str(op->body, "slot")}},
                       {preflight_tables_sql, 1, {arr}}};
    pgseq_run(op->src, steps, 2, src_read, op);
    free(arr);
}

static void create_start(Op *op);

static void preflight_done(Op *op)
{
    json_t *req = json_deep_copy(op->body);
    if (op->resume)
        json_object_set(req, "resume", op->rec);
    op->checks = preflight_evaluate(req, op->src_out, op->tgt_out);
    json_decref(req);
    size_t errors = preflight_count(op->checks, "error"),
           warnings = preflight_count(op->checks, "warning");
    if (!op->creating) {
        answer_json(op, 200,
                    json_pack("{s:b, s:I, s:I, s:O}", "ok", errors == 0, "errors",
                              (json_int_t)errors, "warnings", (json_int_t)warnings, "checks",
                              op->checks));
        op_free(op);
        return;
    }
    if (errors) {
        char msg[300];
        snprintf(msg, sizeof msg, "the stream was not created: %zu check(s) failed", errors);
        answer_error(op, PGF_ERR_VALIDATION, "see error.checks: each failed check names its fix",
                     json_pack("{s:O}", "checks", op->checks), msg);
        op_free(op);
        return;
    }
    if (warnings && !op->force) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "%zu warning(s): send again with \"force\": true to create anyway", warnings);
        answer_error(op, PGF_ERR_CONFLICT, "see error.checks",
                     json_pack("{s:O}", "checks", op->checks), msg);
        op_free(op);
        return;
    }
    create_start(op);
}

/* ---- create ---- */

static void create_fail(Op *op, const char *what, const PgError *err)
{
    snprintf(op->error, sizeof op->error, "%s: %s", what, err ? err->message : "failed");
    set_state(op->ctx, op->rec, "error", op->error);
    op_free(op);
}

static void sub_created(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    (void)failed_at;
    Op *op = ud;
    if (err) {
        create_fail(op, "creating the subscription on the target", err);
        return;
    }
    set_state(op->ctx, op->rec, "initializing", NULL);
    follow_start(op->ctx, op->rec);
    op_free(op);
}

static void create_subscription(Op *op)
{
    const json_t *o = json_object_get(op->rec, "options");
    StrBuf ddl = STRBUF_INIT, sql = STRBUF_INIT;
    strbuf_puts(&ddl, "CREATE SUBSCRIPTION ");
    sql_ident(&ddl, jsonutil_str(op->rec, "subscription"));
    strbuf_puts(&ddl, " CONNECTION ");
    sql_literal(&ddl, op->src_conninfo);
    strbuf_puts(&ddl, " PUBLICATION ");
    sql_ident(&ddl, jsonutil_str(op->rec, "publication"));
    strbuf_puts(&ddl, " WITH (create_slot = false, slot_name = ");
    sql_literal(&ddl, jsonutil_str(op->rec, "slot"));
    strbuf_printf(&ddl, ", copy_data = %s, streaming = %s, binary = %s)",
                  json_is_false(json_object_get(o, "copy_data")) ? "false" : "true",
                  json_is_true(json_object_get(o, "streaming")) ? "on" : "off",
                  json_is_true(json_object_get(o, "binary")) ? "true" : "false");
    strbuf_puts(&sql, "DO $pgfleet$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_subscription WHERE "
                      "subname = ");
    sql_literal(&sql, jsonutil_str(op->rec, "subscription"));
    strbuf_puts(&sql, ") THEN EXECUTE ");
    sql_literal(&sql, ddl.data);
    strbuf_puts(&sql, "; END IF; END $pgfleet$");
    PgStep steps[3] = {{"SET log_min_error_statement = panic", 0, {0}},
                       {"SET log_statement = 'none'", 0, {0}},
                       {sql.data, 0, {0}}};
    pgseq_run(op->tgt, steps, 3, sub_created, op);
    sodium_memzero(ddl.data, ddl.len);
    sodium_memzero(sql.data, sql.len);
    strbuf_free(&ddl);
    strbuf_free(&sql);
}

static void source_created(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    Op *op = ud;
    if (err) {
        create_fail(op,
                    failed_at == 0 ? "creating the publication on the source"
                                   : "creating the replication slot on the source",
                    err);
        return;
    }
    const char *crash = getenv("PGFLEET_TEST_EXIT_AFTER");
    if (crash && !strcmp(crash, "source")) {
        /* test hook: die the way a killed server would, between the source and the target */
        log_warn("PGFLEET_TEST_EXIT_AFTER=source: exiting now");
        _exit(9);
    }
    create_subscription(op);
}

static void create_source(Op *op)
{
    StrBuf ddl = STRBUF_INIT, sql = STRBUF_INIT;
    strbuf_puts(&ddl, "CREATE PUBLICATION ");
    sql_ident(&ddl, jsonutil_str(op->rec, "publication"));
    const json_t *tables = json_object_get(op->rec, "tables");
    if (json_is_true(json_object_get(op->rec, "all_tables")))
        strbuf_puts(&ddl, " FOR ALL TABLES");
    else {
        strbuf_puts(&ddl, " FOR TABLE ");
        size_t i;
        const json_t *x;
        json_array_foreach(tables, i, x)
        {
            if (i)
                strbuf_puts(&ddl, ", ");
            sql_table(&ddl, json_string_value(x));
        }
    }
    strbuf_puts(&sql, "DO $pgfleet$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE "
                      "pubname = ");
    sql_literal(&sql, jsonutil_str(op->rec, "publication"));
    strbuf_puts(&sql, ") THEN EXECUTE ");
    sql_literal(&sql, ddl.data);
    strbuf_puts(&sql, "; END IF; END $pgfleet$");
    const char *slot = jsonutil_str(op->rec, "slot");
    PgStep steps[2] = {{sql.data, 0, {0}},
                       {"SELECT pg_create_logical_replication_slot($1, 'pgoutput') WHERE NOT "
                        "EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                        1,
                        {slot}}};
    bool create_slot =
        !json_is_false(json_object_get(json_object_get(op->rec, "options"), "create_slot"));
    pgseq_run(op->src, steps, create_slot ? 2 : 1, source_created, op);
    strbuf_free(&ddl);
    strbuf_free(&sql);
}

static void create_start(Op *op)
{
    /* what pgfleet is about to create is recorded first, so a retry and a drop know it */
    const json_t *s = json_object_get(op->src_out, "settings");
    if (!op->resume) {
        json_object_set_new(op->rec, "publication_created",
                            json_boolean(!json_is_true(json_object_get(s, "pub_exists"))));
        bool create_slot =
            !json_is_false(json_object_get(json_object_get(op->rec, "options"), "create_slot"));
        json_object_set_new(op->rec, "slot_created", json_boolean(create_slot));
    }
    json_object_set(op->rec, "checks", op->checks);
    set_state(op->ctx, op->rec, "creating", NULL);
    answer_json(op, 202, json_deep_copy(op->rec));
    create_source(op);
}

/* ---- requests ---- */

static const char *const option_keys[] = {"copy_data", "create_slot", "streaming", "binary", NULL};

/* the request body, normalized (names defaulted, tables qualified); NULL when answered */
static json_t *stream_request(HttpRequest *req, ApiContext *ctx, json_t *body, PgTarget **src,
                              PgTarget **tgt)
{
    Validation v;
    validation_init(&v);
    const char *sid = jsonutil_str(body, "source_database_id"),
               *tid = jsonutil_str(body, "target_database_id");
    if (!sid)
        validation_add(&v, NULL, "source_database_id", "required", "is required");
    else if (!(*src = databases_find(ctx->dbs, sid)))
        validation_add(&v, NULL, "source_database_id", "not_found",
                       "'%s' is not a registered database", sid);
    if (!tid)
        validation_add(&v, NULL, "target_database_id", "required", "is required");
    else if (!(*tgt = databases_find(ctx->dbs, tid)))
        validation_add(&v, NULL, "target_database_id", "not_found",
                       "'%s' is not a registered database", tid);
    if (sid && tid && !strcmp(sid, tid))
        validation_add(&v, NULL, "target_database_id", "distinct",
                       "must differ from source_database_id");
    bool all = json_is_true(json_object_get(body, "all_tables"));
    const json_t *tables = json_object_get(body, "tables");
    json_t *qualified = json_array();
    if (all && json_array_size(tables))
        validation_add(&v, NULL, "tables", "exclusive", "give tables or all_tables, not both");
    else if (!all && (!json_is_array(tables) || !json_array_size(tables)))
        validation_add(&v, NULL, "tables", "required",
                       "is required: [\"schema.table\", ...], or all_tables: true");
    size_t i;
    const json_t *x;
    json_array_foreach(tables, i, x)
    {
        if (!json_is_string(x) || !*json_string_value(x) || strlen(json_string_value(x)) > 127) {
            validation_add(&v, "tables", "item", "type", "each table is a name, schema.table");
            continue;
        }
        char *q = preflight_qualify(json_string_value(x));
        json_array_append_new(qualified, json_string(q));
        free(q);
    }
    const json_t *opts = json_object_get(body, "options");
    if (opts && !json_is_object(opts))
        validation_add(&v, NULL, "options", "type", "must be an object");
    const char *k;
    const json_t *ov;
    json_object_foreach((json_t *)(uintptr_t)opts, k, ov)
    {
        bool known = false;
        for (const char *const *o = option_keys; *o; o++)
            known |= !strcmp(*o, k);
        if (!known)
            validation_add(&v, "options", k, "unknown_field",
                           "is not an option (copy_data, create_slot, streaming, binary)");
        else if (!json_is_boolean(ov))
            validation_add(&v, "options", k, "type", "must be true or false");
    }
    char defname[80];
    const char *src_db = *src ? pgtarget_config(*src)->dbname : "db";
    snprintf(defname, sizeof defname, "pgfleet_%.40s", src_db);
    const char *pub =
        jsonutil_str(body, "publication") ? jsonutil_str(body, "publication") : defname;
    const char *sub = jsonutil_str(body, "subscription");
    char subname[80];
    if (!sub) {
        snprintf(subname, sizeof subname, "pgfleet_%.30s_%.20s", src_db,
                 *tgt ? pgtarget_config(*tgt)->id : "t");
        for (char *p = subname; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                *p = '_';
        sub = subname;
    }
    const char *slot = jsonutil_str(body, "slot") ? jsonutil_str(body, "slot") : sub;
    for (const char *p = slot; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            validation_add(&v, NULL, "slot", "slot_name",
                           "a slot name is lower-case letters, digits and _ (default: the "
                           "subscription's name)");
            break;
        }
    if (strlen(pub) > 63 || strlen(sub) > 63 || strlen(slot) > 63)
        validation_add(&v, NULL, "publication", "length", "names are at most 63 bytes");
    if (!validation_ok(&v)) {
        api_respond_validation(req, &v);
        json_decref(qualified);
        return NULL;
    }
    json_t *out = json_pack("{s:s, s:s, s:b, s:o, s:s, s:s, s:s, s:o}", "source_database_id", sid,
                            "target_database_id", tid, "all_tables", all, "tables", qualified,
                            "publication", pub, "subscription", sub, "slot", slot, "options",
                            opts ? json_deep_copy(opts) : json_object());
    return out;
}

typedef struct PwConn {
    Op *op;
    OpStep then;
} PwConn;

static void conninfo_password(void *ud, const char *password, const PgError *err)
{
    PwConn *w = ud;
    Op *op = w->op;
    OpStep then = w->then;
    free(w);
    if (!err) {
        const DatabaseConfig *db = pgtarget_config(op->src_t);
        StrBuf sb = STRBUF_INIT;
        char port[16];
        snprintf(port, sizeof port, "%lld", db->port);
        conninfo_kv(&sb, "host", db->host);
        conninfo_kv(&sb, "port", port);
        conninfo_kv(&sb, "dbname", db->dbname);
        conninfo_kv(&sb, "user", db->user);
        conninfo_kv(&sb, "password", password);
        conninfo_kv(&sb, "sslmode", sslmode_names[db->sslmode]);
        conninfo_kv(&sb, "application_name", jsonutil_str(op->rec, "subscription"));
        op->src_conninfo = strbuf_detach(&sb);
    }
    then(op);
}

static void with_conninfo(Op *op, OpStep then)
{
    PwConn *w = xmalloc(sizeof *w);
    w->op = op;
    w->then = then;
    pgtarget_password(op->src_t, conninfo_password, w);
}

static void preflight_begin(Op *op)
{
    open_both(op, true, true, preflight_opened);
}

static Op *op_new(HttpRequest *req, ApiContext *ctx)
{
    Op *op = xcalloc(1, sizeof *op);
    op->ctx = ctx;
    op->req = req;
    op->src_out = json_object();
    op->tgt_out = json_object();
    http_request_hold(req);
    return op;
}

static void run_preflight(HttpRequest *req, ApiContext *ctx, bool creating)
{
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    PgTarget *src = NULL, *tgt = NULL;
    json_t *norm = stream_request(req, ctx, body, &src, &tgt);
    bool force = json_is_true(json_object_get(body, "force"));
    const char *id = jsonutil_str(body, "id");
    char idbuf[64];
    if (id)
        snprintf(idbuf, sizeof idbuf, "%s", id);
    json_decref(body);
    if (!norm)
        return;
    if (creating && store_state(ctx->store) != STORE_READY) {
        json_decref(norm);
        http_respond_error(req, PGF_ERR_STORE_DOWN, "check PGFLEET_REDIS_URL and that Redis is up",
                           "the state store is not available: the stream could not be recorded");
        return;
    }
    Op *op = op_new(req, ctx);
    op->body = norm;
    op->src_t = src;
    op->tgt_t = tgt;
    op->creating = creating;
    op->force = force;
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    op->rec = json_deep_copy(norm);
    json_object_set_new(op->rec, "schema_version", json_integer(1));
    json_object_set_new(op->rec, "kind", json_string("logical"));
    json_object_set_new(op->rec, "created_at", json_string(now));
    if (id)
        json_object_set_new(op->rec, "id", json_string(idbuf));
    else {
        unsigned char rnd[6];
        randombytes_buf(rnd, sizeof rnd);
        char sid[40];
        snprintf(sid, sizeof sid, "stream-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
                 rnd[4], rnd[5]);
        json_object_set_new(op->rec, "id", json_string(sid));
    }
    with_conninfo(op, preflight_begin);
}

void api_streams_validate(HttpRequest *req, void *app)
{
    run_preflight(req, app, false);
}

/* create: a new stream, or (same id) the finishing of one a crash interrupted */
typedef struct Lookup {
    HttpRequest *req;
    ApiContext *ctx;
    char id[64];
    json_t *body;
    void (*then)(struct Lookup *l, json_t *rec);
} Lookup;

static void looked_up(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *fields, const char *const *values, const size_t *lens)
{
    Lookup *l = ud;
    json_t *rec = NULL;
    if (err != PGF_OK) {
        http_respond_error(l->req, err, "check PGFLEET_REDIS_URL and that Redis is up",
                           "could not read streams: %s", errmsg);
        http_request_release(l->req);
        json_decref(l->body);
        free(l);
        return;
    }
    for (size_t i = 0; i < n && !rec; i++)
        if (!strcmp(fields[i], l->id))
            rec = json_loadb(values[i], lens[i], 0, NULL);
    l->then(l, rec);
    json_decref(rec);
    json_decref(l->body);
    free(l);
}

static bool lookup(HttpRequest *req, ApiContext *ctx, const char *id, json_t *body,
                   void (*then)(Lookup *l, json_t *rec))
{
    Lookup *l = xcalloc(1, sizeof *l);
    l->req = req;
    l->ctx = ctx;
    l->body = body;
    l->then = then;
    snprintf(l->id, sizeof l->id, "%s", id);
    if (store_hgetall(ctx->store, STREAM_HASH, looked_up, l) != PGF_OK) {
        json_decref(body);
        free(l);
        http_respond_error(req, PGF_ERR_STORE_DOWN, "check PGFLEET_REDIS_URL and that Redis is up",
                           "the state store is not available");
        return false;
    }
    http_request_hold(req);
    return true;
}

/* an operation on a stream's two databases; NULL (answered, released) when one is gone */
static Op *op_for_record(HttpRequest *req, ApiContext *ctx, const json_t *rec)
{
    PgTarget *src = databases_find(ctx->dbs, jsonutil_str(rec, "source_database_id"));
    PgTarget *tgt = databases_find(ctx->dbs, jsonutil_str(rec, "target_database_id"));
    if (!src || !tgt) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, "register the databases again with the same ids",
                           "the stream's databases are no longer registered");
        http_request_release(req);
        return NULL;
    }
    Op *op = op_new(req, ctx);
    http_request_release(req); /* op_new took its own hold */
    op->src_t = src;
    op->tgt_t = tgt;
    return op;
}

static void resume_create(Lookup *l, json_t *rec)
{
    HttpRequest *req = l->req;
    ApiContext *ctx = l->ctx;
    const char *st = rec ? jsonutil_str(rec, "state") : NULL;
    if (!rec || !st || (strcmp(st, "creating") && strcmp(st, "error"))) {
        http_respond_error(req, rec ? PGF_ERR_CONFLICT : PGF_ERR_NOT_FOUND,
                           "to create a new stream, leave out id",
                           rec ? "stream '%s' exists (state %s): only an interrupted create can "
                                 "be retried"
                               : "no stream '%s' to resume%s",
                           l->id, rec ? st : "");
        http_request_release(req);
        return;
    }
    Op *op = op_for_record(req, ctx, rec);
    if (!op)
        return;
    op->creating = true;
    op->resume = true;
    op->force = true; /* warnings were accepted when it was first created */
    op->rec = json_deep_copy(rec);
    op->body = json_deep_copy(rec);
    log_info("stream %s: resuming an interrupted create", l->id);
    with_conninfo(op, preflight_begin);
}

void api_streams_create(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    const char *id = jsonutil_str(body, "id");
    if (!id) {
        json_decref(body);
        /* the body is read again by run_preflight */
        run_preflight(req, ctx, true);
        return;
    }
    char idbuf[64];
    snprintf(idbuf, sizeof idbuf, "%s", id);
    lookup(req, ctx, idbuf, body, resume_create);
}

/* ---- lifecycle: pause, resume, refresh, tables, drop ---- */

typedef enum Action { A_PAUSE, A_RESUME, A_REFRESH, A_TABLES, A_DROP } Action;

typedef struct Life {
    Op *op;
    Action action;
    json_t *add, *remove;
    json_t *notes;
    bool force;
} Life;

static void life_free(Life *l)
{
    json_decref(l->add);
    json_decref(l->remove);
    json_decref(l->notes);
    op_free(l->op);
    free(l);
}

static void life_answer(Life *l, const char *state)
{
    Op *op = l->op;
    if (state)
        set_state(op->ctx, op->rec, state, NULL);
    json_t *out = json_deep_copy(op->rec);
    if (json_array_size(l->notes))
        json_object_set(out, "notes", l->notes);
    answer_json(op, 200, out);
    if (state && (!strcmp(state, "initializing") || !strcmp(state, "streaming")))
        follow_start(op->ctx, op->rec);
    life_free(l);
}

static void life_fail(Life *l, const char *what, const PgError *err)
{
    char msg[900];
    snprintf(msg, sizeof msg, "%s: %s", what, err ? err->message : "failed");
    answer_error(l->op, PGF_ERR_UNREACHABLE,
                 err && err->hint[0] ? err->hint
                                     : "fix the cause and send the request again: "
                                       "every step is safe to repeat",
                 NULL, msg);
    life_free(l);
}

/* DO block running ddl when the subscription exists in this database */
static void if_sub(StrBuf *sql, const char *sub, const char *what)
{
    StrBuf ddl = STRBUF_INIT;
    strbuf_puts(&ddl, "ALTER SUBSCRIPTION ");
    sql_ident(&ddl, sub);
    strbuf_printf(&ddl, " %s", what);
    strbuf_puts(sql,
                "DO $pgfleet$ BEGIN IF EXISTS (SELECT 1 FROM pg_subscription WHERE subname = ");
    sql_literal(sql, sub);
    strbuf_puts(sql, " AND subdbid = (SELECT oid FROM pg_database WHERE datname = "
                     "current_database())) THEN EXECUTE ");
    sql_literal(sql, ddl.data);
    strbuf_puts(sql, "; END IF; END $pgfleet$");
    strbuf_free(&ddl);
}

static void simple_done(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    (void)failed_at;
    Life *l = ud;
    static const char *const states[] = {"paused", "initializing", "initializing", "initializing",
                                         "dropped"};
    if (err) {
        life_fail(l, "on the target", err);
        return;
    }
    life_answer(l, states[l->action]);
}

/* drop, on the source: the slot (even when the target could not be reached) and the
 * publication when pgfleet created it */
static void source_dropped(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    Life *l = ud;
    if (err) {
        life_fail(l,
                  failed_at == 0 ? "dropping the replication slot on the source"
                                 : "dropping the publication on the source",
                  err);
        return;
    }
    json_array_append_new(l->notes, json_sprintf("replication slot %s dropped on the source",
                                                 jsonutil_str(l->op->rec, "slot")));
    if (json_is_true(json_object_get(l->op->rec, "publication_created")))
        json_array_append_new(l->notes, json_sprintf("publication %s dropped on the source",
                                                     jsonutil_str(l->op->rec, "publication")));
    else
        json_array_append_new(l->notes,
                              json_sprintf("publication %s kept: pgfleet did not create it",
                                           jsonutil_str(l->op->rec, "publication")));
    follow_stop_id(jsonutil_str(l->op->rec, "id"));
    life_answer(l, "dropped");
}

static void drop_source(Life *l)
{
    Op *op = l->op;
    if (!op->src) {
        PgError e = {.kind = PGE_CONNECT};
        snprintf(e.message, sizeof e.message, "%s", jsonutil_str(op->src_out, "error"));
        life_fail(l, "cannot reach the source to drop the slot", &e);
        return;
    }
    /* a walsender still using the slot is ended; the drop waits for it to go */
    StrBuf slot_sql = STRBUF_INIT, pub_sql = STRBUF_INIT;
    strbuf_puts(&slot_sql, "DO $pgfleet$ DECLARE s text := ");
    sql_literal(&slot_sql, jsonutil_str(op->rec, "slot"));
    strbuf_puts(&slot_sql,
                "; BEGIN FOR i IN 1..100 LOOP "
                "PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE "
                "slot_name = s AND active_pid IS NOT NULL; "
                "BEGIN PERFORM pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = s; RETURN; EXCEPTION WHEN object_in_use THEN PERFORM "
                "pg_sleep(0.1); END; END LOOP; RAISE EXCEPTION 'replication slot % stays in use', "
                "s; END $pgfleet$");
    strbuf_puts(&pub_sql, "DROP PUBLICATION IF EXISTS ");
    sql_ident(&pub_sql, jsonutil_str(op->rec, "publication"));
    PgStep steps[2] = {{slot_sql.data, 0, {0}}, {pub_sql.data, 0, {0}}};
    pgseq_run(op->src, steps, json_is_true(json_object_get(op->rec, "publication_created")) ? 2 : 1,
              source_dropped, l);
    strbuf_free(&slot_sql);
    strbuf_free(&pub_sql);
}

static void target_dropped(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    (void)failed_at;
    Life *l = ud;
    if (err) {
        life_fail(l, "dropping the subscription on the target", err);
        return;
    }
    json_array_append_new(l->notes, json_sprintf("subscription %s dropped on the target",
                                                 jsonutil_str(l->op->rec, "subscription")));
    drop_source(l);
}

static void tables_changed(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    (void)failed_at;
    Life *l = ud;
    if (err) {
        life_fail(l, "changing the publication on the source", err);
        return;
    }
    /* the record's tables follow the publication */
    json_t *tables = json_object_get(l->op->rec, "tables");
    size_t i;
    const json_t *x;
    json_array_foreach(l->add, i, x)
    {
        bool have = false;
        size_t k;
        const json_t *y;
        json_array_foreach(tables, k, y) have |= json_equal(x, y);
        if (!have)
            json_array_append(tables, (json_t *)(uintptr_t)x);
    }
    json_array_foreach(l->remove, i, x)
    {
        for (size_t k = 0; k < json_array_size(tables); k++)
            if (json_equal(json_array_get(tables, k), x)) {
                json_array_remove(tables, k);
                break;
            }
    }
    StrBuf sql = STRBUF_INIT;
    strbuf_puts(&sql, "ALTER SUBSCRIPTION ");
    sql_ident(&sql, jsonutil_str(l->op->rec, "subscription"));
    strbuf_puts(&sql, " REFRESH PUBLICATION");
    PgStep steps[1] = {{sql.data, 0, {0}}};
    pgseq_run(l->op->tgt, steps, 1, simple_done, l);
    strbuf_free(&sql);
}

static void life_opened(Op *op)
{
    Life *l = op->life;
    const char *sub = jsonutil_str(op->rec, "subscription");
    StrBuf sql = STRBUF_INIT;
    if (l->action == A_DROP) {
        if (!op->tgt && !l->force) {
            char msg[700];
            snprintf(msg, sizeof msg, "cannot reach the target to drop the subscription: %s",
                     jsonutil_str(op->tgt_out, "error"));
            answer_error(op, PGF_ERR_UNREACHABLE,
                         "bring the target back, or send force=true to drop the slot and the "
                         "publication on the source anyway (the subscription stays on the target)",
                         NULL, msg);
            life_free(l);
            strbuf_free(&sql);
            return;
        }
        if (!op->tgt) {
            json_array_append_new(l->notes, json_sprintf("the target was not reachable: "
                                                         "subscription %s was left there",
                                                         sub));
            drop_source(l);
            strbuf_free(&sql);
            return;
        }
        StrBuf a = STRBUF_INIT, b2 = STRBUF_INIT, c = STRBUF_INIT;
        if_sub(&a, sub, "DISABLE");
        /* without a slot, DROP SUBSCRIPTION does not need the source: pgfleet drops the slot */
        if_sub(&b2, sub, "SET (slot_name = NONE)");
        strbuf_puts(&c, "DROP SUBSCRIPTION IF EXISTS ");
        sql_ident(&c, sub);
        PgStep steps[3] = {{a.data, 0, {0}}, {b2.data, 0, {0}}, {c.data, 0, {0}}};
        pgseq_run(op->tgt, steps, 3, target_dropped, l);
        strbuf_free(&a);
        strbuf_free(&b2);
        strbuf_free(&c);
        strbuf_free(&sql);
        return;
    }
    if (!op->tgt || (l->action == A_TABLES && !op->src)) {
        PgError e = {.kind = PGE_CONNECT};
        snprintf(e.message, sizeof e.message, "%s",
                 jsonutil_str(op->tgt ? op->src_out : op->tgt_out, "error"));
        life_fail(l, op->tgt ? "cannot reach the source" : "cannot reach the target", &e);
        strbuf_free(&sql);
        return;
    }
    if (l->action == A_PAUSE || l->action == A_RESUME) {
        if_sub(&sql, sub, l->action == A_PAUSE ? "DISABLE" : "ENABLE");
        PgStep steps[1] = {{sql.data, 0, {0}}};
        pgseq_run(op->tgt, steps, 1, simple_done, l);
    } else if (l->action == A_REFRESH) {
        strbuf_puts(&sql, "ALTER SUBSCRIPTION ");
        sql_ident(&sql, sub);
        strbuf_puts(&sql, " REFRESH PUBLICATION");
        PgStep steps[1] = {{sql.data, 0, {0}}};
        pgseq_run(op->tgt, steps, 1, simple_done, l);
    } else {
        /* each table added or removed only when it is not already so */
        PgStep steps[64];
        int n = 0;
        StrBuf parts[64];
        const json_t *lists[2] = {l->add, l->remove};
        for (int w = 0; w < 2; w++) {
            size_t i;
            const json_t *x;
            json_array_foreach(lists[w], i, x)
            {
                if (n >= 64)
                    break;
                StrBuf ddl = STRBUF_INIT;
                strbuf_puts(&ddl, "ALTER PUBLICATION ");
                sql_ident(&ddl, jsonutil_str(op->rec, "publication"));
                strbuf_puts(&ddl, w == 0 ? " ADD TABLE " : " DROP TABLE ");
                sql_table(&ddl, json_string_value(x));
                parts[n] = (StrBuf)STRBUF_INIT;
                strbuf_printf(
                    &parts[n],
                    "DO $pgfleet$ BEGIN IF %s EXISTS (SELECT 1 FROM pg_publication_tables "
                    "WHERE pubname = ",
                    w == 0 ? "NOT" : "");
                sql_literal(&parts[n], jsonutil_str(op->rec, "publication"));
                strbuf_puts(&parts[n], " AND schemaname || '.' || tablename = ");
                sql_literal(&parts[n], json_string_value(x));
                strbuf_puts(&parts[n], ") THEN EXECUTE ");
                sql_literal(&parts[n], ddl.data);
                strbuf_puts(&parts[n], "; END IF; END $pgfleet$");
                strbuf_free(&ddl);
                steps[n] = (PgStep){parts[n].data, 0, {0}};
                n++;
            }
        }
        pgseq_run(op->src, steps, n, tables_changed, l);
        for (int i = 0; i < n; i++)
            strbuf_free(&parts[i]);
    }
    strbuf_free(&sql);
}

static void life_found(Lookup *lk, json_t *rec)
{
    HttpRequest *req = lk->req;
    ApiContext *ctx = lk->ctx;
    Action action = (Action)json_integer_value(json_object_get(lk->body, "_action"));
    if (!rec || !strcmp(jsonutil_str(rec, "state"), "dropped")) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, "list them: GET /api/replication/streams",
                           "no stream '%s'%s", lk->id, rec ? " (it was dropped)" : "");
        http_request_release(req);
        return;
    }
    Op *op = op_for_record(req, ctx, rec);
    if (!op)
        return;
    op->rec = json_deep_copy(rec);
    Life *l = xcalloc(1, sizeof *l);
    l->op = op;
    l->action = action;
    l->notes = json_array();
    l->force = json_is_true(json_object_get(lk->body, "force"));
    l->add = json_array();
    l->remove = json_array();
    const char *keys[2] = {"add", "remove"};
    json_t *dst[2] = {l->add, l->remove};
    for (int w = 0; w < 2; w++) {
        size_t i;
        const json_t *x;
        json_array_foreach(json_object_get(lk->body, keys[w]), i, x) if (json_is_string(x))
        {
            char *q = preflight_qualify(json_string_value(x));
            json_array_append_new(dst[w], json_string(q));
            free(q);
        }
    }
    op->life = l;
    if (action == A_DROP)
        set_state(ctx, op->rec, "dropping", NULL);
    open_both(op, action == A_DROP || action == A_TABLES, true, life_opened);
}

static void lifecycle(HttpRequest *req, ApiContext *ctx, Action action)
{
    json_t *body = NULL;
    if (req->body.len) {
        body = http_request_json_body(req);
        if (!body)
            return;
    } else
        body = json_object();
    if (action == A_TABLES && !json_array_size(json_object_get(body, "add")) &&
        !json_array_size(json_object_get(body, "remove"))) {
        json_decref(body);
        http_respond_error(req, PGF_ERR_VALIDATION,
                           "send {\"add\": [\"schema.table\"], "
                           "\"remove\": [...]}",
                           "nothing to add or remove");
        return;
    }
    json_object_set_new(body, "_action", json_integer(action));
    lookup(req, ctx, http_param(req, "id"), body, life_found);
}

void api_streams_pause(HttpRequest *req, void *app)
{
    lifecycle(req, app, A_PAUSE);
}

void api_streams_resume(HttpRequest *req, void *app)
{
    lifecycle(req, app, A_RESUME);
}

void api_streams_refresh(HttpRequest *req, void *app)
{
    lifecycle(req, app, A_REFRESH);
}

void api_streams_tables(HttpRequest *req, void *app)
{
    lifecycle(req, app, A_TABLES);
}

void api_streams_drop(HttpRequest *req, void *app)
{
    lifecycle(req, app, A_DROP);
}

/* ---- listing: pgfleet's streams with their live state, and the ones it found ---- */

static const json_t *live_edge(const json_t *topo, const char *sub)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(topo, "edges"), i, e)
    {
        const char *s = jsonutil_str(e, "subscription");
        if (s && !strcmp(s, sub))
            return e;
    }
    return NULL;
}

typedef struct ListQ {
    HttpRequest *req;
    ApiContext *ctx;
    char id[64];
} ListQ;

static void list_read(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *fields, const char *const *values, const size_t *lens)
{
    ListQ *q = ud;
    const json_t *topo = q->ctx->collector ? collector_topology(q->ctx->collector) : NULL;
    if (err != PGF_OK) {
        http_respond_error(q->req, err, "check PGFLEET_REDIS_URL and that Redis is up",
                           "could not read streams: %s", errmsg);
    } else {
        json_t *out = json_array();
        json_t *known = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *r = json_loadb(values[i], lens[i], 0, NULL);
            if (!r)
                continue;
            if (q->id[0] && strcmp(fields[i], q->id) != 0) {
                json_decref(r);
                continue;
            }
            json_object_del(r, "checks");
            const char *sub = jsonutil_str(r, "subscription");
            json_object_set_new(known, sub ? sub : "", json_true());
            const json_t *e = topo && sub ? live_edge(topo, sub) : NULL;
            if (e)
                json_object_set_new(
                    r, "live",
                    json_pack("{s:O, s:O, s:O, s:O}", "state", json_object_get(e, "state"),
                              "lag_bytes", json_object_get(e, "lag_bytes"), "from",
                              json_object_get(e, "from"), "to", json_object_get(e, "to")));
            json_object_set_new(r, "managed", json_true());
            if (q->id[0] || strcmp(jsonutil_str(r, "state"), "dropped") != 0)
                json_array_append_new(out, r);
            else
                json_decref(r);
        }
        if (q->id[0]) {
            json_t *one = json_incref(json_array_get(out, 0));
            if (one)
                http_respond_json(q->req, 200, one);
            else
                http_respond_error(q->req, PGF_ERR_NOT_FOUND,
                                   "list them: GET /api/replication/streams", "no stream '%s'",
                                   q->id);
        } else {
            size_t i;
            const json_t *e;
            json_array_foreach(topo ? json_object_get(topo, "edges") : NULL, i, e)
            {
                const char *sub = jsonutil_str(e, "subscription");
                if (!strcmp(jsonutil_str(e, "kind"), "physical")) {
                    /* a standby's WAL stream: found, never made by pgfleet */
                    json_array_append_new(
                        out,
                        json_pack("{s:n, s:b, s:s, s:O, s:O, s:O, s:O, s:O, s:O}", "id", "managed",
                                  0, "kind", "physical", "from", json_object_get(e, "from"), "to",
                                  json_object_get(e, "to"), "slot", json_object_get(e, "slot"),
                                  "state", json_object_get(e, "state"), "lag_bytes",
                                  json_object_get(e, "lag_bytes"), "replay_lag_seconds",
                                  json_object_get(e, "replay_lag_seconds")
                                      ? json_object_get(e, "replay_lag_seconds")
                                      : json_null()));
                    continue;
                }
                if (!sub || json_object_get(known, sub))
                    continue;
                json_array_append_new(
                    out, json_pack("{s:n, s:b, s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id",
                                   "managed", 0, "kind", "logical", "subscription", sub, "from",
                                   json_object_get(e, "from"), "to", json_object_get(e, "to"),
                                   "source_database", json_object_get(e, "source_database"),
                                   "target_database", json_object_get(e, "target_database"),
                                   "publications", json_object_get(e, "publications"), "state",
                                   json_object_get(e, "state"), "lag_bytes",
                                   json_object_get(e, "lag_bytes")));
            }
            http_respond_json(
                q->req, 200,
                json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(out), "streams", out));
            out = NULL;
        }
        json_decref(out);
        json_decref(known);
    }
    http_request_release(q->req);
    free(q);
}

static void list_streams(HttpRequest *req, ApiContext *ctx, const char *id)
{
    ListQ *q = xcalloc(1, sizeof *q);
    q->req = req;
    q->ctx = ctx;
    if (id)
        snprintf(q->id, sizeof q->id, "%s", id);
    if (store_hgetall(ctx->store, STREAM_HASH, list_read, q) != PGF_OK) {
        free(q);
        http_respond_error(req, PGF_ERR_STORE_DOWN, "check PGFLEET_REDIS_URL and that Redis is up",
                           "the state store is not available");
        return;
    }
    http_request_hold(req);
}

void api_streams_list(HttpRequest *req, void *app)
{
    list_streams(req, app, NULL);
}

void api_streams_get(HttpRequest *req, void *app)
{
    list_streams(req, app, http_param(req, "id"));
}
