#include "pg/pgseq.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef struct Seq {
    PgConn *conn;
    PgStep *steps;
    int n, i;
    json_t *rows;
    PgSeqCb cb;
    void *ud;
} Seq;

static void seq_free(Seq *s)
{
    for (int i = 0; i < s->n; i++) {
        free((char *)(uintptr_t)s->steps[i].sql);
        for (int k = 0; k < s->steps[i].nparams; k++)
            free((char *)(uintptr_t)s->steps[i].params[k]);
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
    json_array_append_new(s->rows, n > 0 ? pg_rows_json(res[0]) : json_array());
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
    if (!pgconn_query(s->conn, st->sql, st->nparams, st->params, answered, s)) {
        PgError e = {.kind = PGE_CLOSED};
        strcpy(e.message, "the connection is closed");
        s->cb(s->ud, s->rows, &e, s->i);
        seq_free(s);
    }
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
        s->steps[i].sql = xstrdup(steps[i].sql);
        s->steps[i].nparams = steps[i].nparams;
        for (int k = 0; k < steps[i].nparams; k++)
            s->steps[i].params[k] = steps[i].params[k] ? xstrdup(steps[i].params[k]) : NULL;
    }
    next(s);
}
