#include "streams/check.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"
#include "pg/pgquote.h"
#include "pg/pgseq.h"
#include "streams/preflight.h"
#include "streams/streamsql.h"

typedef struct Check {
    json_t *req;             /* what preflight_evaluate reads of the stream */
    PgTarget *src_t, *tgt_t; /* used only while opening */
    PgConn *src, *tgt;
    json_t *src_out, *tgt_out;
    char *conninfo; /* the source's, with its password: wiped */
    int pending;
    DoneCb cb;
    void *ud;
} Check;

static void check_free(Check *c)
{
    if (c->src)
        pgconn_close(c->src);
    if (c->tgt)
        pgconn_close(c->tgt);
    xfree_secret(c->conninfo);
    json_decref(c->req);
    json_decref(c->src_out);
    json_decref(c->tgt_out);
    free(c);
}

static void error_into(json_t *out, const PgError *err)
{
    json_object_set_new(out, "error", json_string(err->message));
    json_object_set_new(out, "hint", err->hint[0] ? json_string(err->hint) : json_null());
}

static void finish(Check *c)
{
    json_t *checks = preflight_evaluate(c->req, c->src_out, c->tgt_out);
    size_t errors = preflight_count(checks, "error"), warnings = preflight_count(checks, "warning");
    const json_t *settings = json_object_get(c->src_out, "settings");
    json_t *result =
        json_pack("{s:b, s:I, s:I, s:o, s:b}", "ok", errors == 0, "errors", (json_int_t)errors,
                  "warnings", (json_int_t)warnings, "checks", checks, "publication_exists",
                  json_is_true(json_object_get(settings, "pub_exists")));
    c->cb(c->ud, result, NULL);
    check_free(c);
}

static void reach_done(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)rows;
    Check *c = ud;
    json_t *reach = json_pack("{s:b, s:b}", "verified", 1, "ok", err == NULL);
    if (err) {
        if (failed_at < 4) { /* the SETs or BEGIN failed: nothing was tried */
            json_object_set_new(reach, "verified", json_false());
            json_object_set_new(reach, "why", json_string(err->message));
        } else
            json_object_set_new(reach, "error", json_string(err->message));
        /* the session is in an aborted transaction: drop it */
        pgconn_close(c->tgt);
        c->tgt = NULL;
    }
    json_object_set_new(c->tgt_out, "reach", reach);
    finish(c);
}

static void check_reach(Check *c)
{
    const json_t *t = json_object_get(c->tgt_out, "settings");
    if (!c->tgt || !t || !c->conninfo) {
        finish(c);
        return;
    }
    if (!json_is_true(json_object_get(t, "superuser"))) {
        json_object_set_new(c->tgt_out, "reach",
                            json_pack("{s:b, s:s}", "verified", 0, "why",
                                      "the target role may not create subscriptions, so pgfleet "
                                      "cannot make the target connect to the source"));
        finish(c);
        return;
    }
    char *id = model_new_id("pgfleet_preflight");
    char *sql = streamsql_probe_subscription(id, c->conninfo, jsonutil_str(c->req, "publication"));
    free(id);
    /* the check's own warnings (the publication does not exist yet) stay out of the log */
    PgStep steps[6] = {{streamsql_quiet_session[0], 0, {0}, NULL, false},
                       {streamsql_quiet_session[1], 0, {0}, NULL, false},
                       {streamsql_quiet_session[2], 0, {0}, NULL, false},
                       {"BEGIN", 0, {0}, NULL, false},
                       {sql, 0, {0}, NULL, false},
                       {"ROLLBACK", 0, {0}, NULL, false}};
    pgseq_run(c->tgt, steps, 6, reach_done, c);
    xfree_secret(sql);
}

/* one side's answer into out: {"settings": {row}, "tables": [rows]} or the error */
static void answer_into(json_t *out, const json_t *rows, const PgError *err)
{
    if (err) {
        error_into(out, err);
        return;
    }
    json_object_set(out, "settings", json_array_get(json_array_get(rows, 0), 0));
    json_object_set(out, "tables", json_array_get(rows, 1));
}

static void tgt_read(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)failed_at;
    Check *c = ud;
    answer_into(c->tgt_out, rows, err);
    check_reach(c);
}

/* the target's copies of the source's tables (or of the ones asked for) */
static void read_target(Check *c)
{
    json_t *names = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(c->src_out, "tables"), i, x)
        json_array_append_new(names, json_string(jsonutil_str(x, "qualified")));
    if (!json_array_size(names))
        json_array_extend(names, json_object_get(c->req, "tables"));
    char *arr = pgquote_text_array(names);
    json_decref(names);
    const char *sub = jsonutil_str(c->req, "subscription");
    PgStep steps[2] = {{preflight_target_settings_sql, 1, {sub}, NULL, false},
                       {preflight_tables_sql, 1, {arr}, NULL, false}};
    /* without the source only what the target says alone */
    pgseq_run(c->tgt, steps, c->src ? 2 : 1, tgt_read, c);
    free(arr);
}

static void src_read(void *ud, const json_t *rows, const PgError *err, int failed_at)
{
    (void)failed_at;
    Check *c = ud;
    answer_into(c->src_out, rows, err);
    if (c->tgt)
        read_target(c);
    else
        finish(c);
}

static void both_open(Check *c)
{
    if (--c->pending > 0)
        return;
    if (!c->src) {
        if (c->tgt)
            read_target(c);
        else
            finish(c);
        return;
    }
    char *arr = json_is_true(json_object_get(c->req, "all_tables"))
                    ? NULL
                    : pgquote_text_array(json_object_get(c->req, "tables"));
    PgStep steps[2] = {{preflight_source_settings_sql,
                        2,
                        {jsonutil_str(c->req, "publication"), jsonutil_str(c->req, "slot")},
                        NULL,
                        false},
                       {preflight_tables_sql, 1, {arr}, NULL, false}};
    pgseq_run(c->src, steps, 2, src_read, c);
    free(arr);
}

static void src_opened(void *ud, PgConn *conn, const PgError *err)
{
    Check *c = ud;
    c->src = conn;
    if (err)
        error_into(c->src_out, err);
    both_open(c);
}

static void tgt_opened(void *ud, PgConn *conn, const PgError *err)
{
    Check *c = ud;
    c->tgt = conn;
    if (err)
        error_into(c->tgt_out, err);
    both_open(c);
}

static void got_password(void *ud, const char *password, const PgError *err)
{
    Check *c = ud;
    if (!err)
        c->conninfo = streamsql_conninfo(pgtarget_config(c->src_t), password,
                                         jsonutil_str(c->req, "subscription"));
    c->pending = 3;
    pgtarget_open(c->src_t, "pgfleet streams", src_opened, c);
    pgtarget_open(c->tgt_t, "pgfleet streams", tgt_opened, c);
    both_open(c);
}

void streamcheck_run(PgTarget *src, PgTarget *tgt, const ReplicationStream *s, bool resume,
                     DoneCb cb, void *ud)
{
    Check *c = xcalloc(1, sizeof *c);
    c->req = stream_to_json(s);
    if (resume)
        json_object_set_new(c->req, "resume", stream_to_json(s));
    c->src_t = src;
    c->tgt_t = tgt;
    c->src_out = json_object();
    c->tgt_out = json_object();
    c->cb = cb;
    c->ud = ud;
    pgtarget_password(src, got_password, c);
}
