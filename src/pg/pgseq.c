#include "pg/pgseq.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef struct Seq {
    PgConn *conn;
    PgStep *steps;
    int n, i;
    bool guarded; /* the current step's guard has answered: run its statement */
    json_t *rows;
    PgSeqCb cb;
    void *ud;
} Seq;

static void seq_free(Seq *s)
{
    for (int i = 0; i < s->n; i++) {
        xfree_secret((char *)(uintptr_t)s->steps[i].sql);
        xfree_secret((char *)(uintptr_t)s->steps[i].guard);
        for (int k = 0; k < s->steps[i].nparams; k++)
            xfree_secret((char *)(uintptr_t)s->steps[i].params[k]);
    }
    free(s->steps);
    json_decref(s->rows);
    free(s);
}

static void next(Seq *s);

static void answered(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)c;
    Seq *s = ud;
    if (err) {
        s->cb(s->ud, s->rows, err, s->i);
        seq_free(s);
        return;
    }
    const PgStep *st = &s->steps[s->i];
    if (st->guard && !s->guarded) {
        bool rows = n > 0 && PQntuples(res[0]) > 0;
        if (rows == st->when_rows) {
            s->guarded = true; /* now the statement itself */
            next(s);
            return;
        }
        json_array_append_new(s->rows, json_array()); /* skipped */
    } else {
        json_array_append_new(s->rows, n > 0 ? pg_rows_json(res[0]) : json_array());
    }
    s->guarded = false;
    s->i++;
    next(s);
}

static void next(Seq *s)
{
    if (s->i >= s->n) {
        s->cb(s->ud, s->rows, NULL, -1);
        seq_free(s);
        return;
    }
    const PgStep *st = &s->steps[s->i];
    bool ok = st->guard && !s->guarded
                  ? pgconn_query(s->conn, st->guard, st->nparams, st->params, answered, s)
              : st->guard ? pgconn_query(s->conn, st->sql, 0, NULL, answered, s)
                          : pgconn_query(s->conn, st->sql, st->nparams, st->params, answered, s);
    if (!ok) {
        PgError e = {.kind = PGE_CLOSED};
        strcpy(e.message, "the connection is closed");
        s->cb(s->ud, s->rows, &e, s->i);
        seq_free(s);
    }
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void pgseq_run(PgConn *c, const PgStep *steps, int n, PgSeqCb cb, void *ud)
{
    Seq *s = xcalloc(1, sizeof *s);
    s->conn = c;
    s->n = n;
    s->cb = cb;
    s->ud = ud;
    s->rows = json_array();
    s->steps = xcalloc((size_t)(n > 0 ? n : 1), sizeof *s->steps);
    for (int i = 0; i < n; i++) {
        s->steps[i] = steps[i];
        s->steps[i].sql = xstrdup(steps[i].sql);
        s->steps[i].guard = dup_or_null(steps[i].guard);
        for (int k = 0; k < steps[i].nparams; k++)
            s->steps[i].params[k] = dup_or_null(steps[i].params[k]);
    }
    next(s);
}
