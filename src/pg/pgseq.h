/*
 * pgseq: statements run one after another on one connection, each in its own
 * (implicit) transaction, stopping at the first error. Each statement's rows
 * come back as JSON (pg_rows_json). For work that must not be pipelined:
 * DDL followed by pg_create_logical_replication_slot, a check whose failure
 * must not abort the next statement, ...
 *
 * A step may have a guard: a query run first with the step's parameters;
 * the step's own statement (which then takes no parameters: DDL cannot) runs
 * only when the guard returns rows (when_rows) or returns none (!when_rows).
 * That makes "CREATE ... unless it exists" idempotent without putting names
 * inside a DO block. A skipped step contributes an empty array of rows.
 *
 * Every string is copied, and wiped when freed: statements may carry a
 * password (CREATE SUBSCRIPTION ... CONNECTION).
 */
#ifndef PGFLEET_PGSEQ_H
#define PGFLEET_PGSEQ_H

#include <jansson.h>

#include "pg/pgconn.h"

#define PGSEQ_MAX_PARAMS 8

typedef struct PgStep {
    const char *sql;
    int nparams;
    const char *params[PGSEQ_MAX_PARAMS];
    const char *guard; /* optional; takes the params, and sql then takes none */
    bool when_rows;    /* run sql when the guard returns rows (else when it returns none) */
} PgStep;

/* rows: one array of row objects per statement that ran; err and failed_at (index) on failure */
typedef void (*PgSeqCb)(void *ud, const json_t *rows, const PgError *err, int failed_at);

/* steps and their strings are copied; cb runs once, from the loop */
void pgseq_run(PgConn *c, const PgStep *steps, int n, PgSeqCb cb, void *ud);

#endif
