/*
 * migrate: one named SQL script applied to many databases.
 *
 *   check    the script is split (sqlsplit): unterminated quotes, BEGIN/COMMIT
 *            and statements that cannot run in a transaction are refused
 *            unless the run is marked non-transactional;
 *   plan     one connection per target: standbys are refused (read-only),
 *            atomic runs need max_prepared_transactions > 0 everywhere,
 *            prepared transactions left by an interrupted atomic run are
 *            resolved (committed when any target's history shows that run
 *            committed, else rolled back), and targets are ordered so that
 *            subscribers run before their publishers (logical replication does
 *            not carry DDL; a script that drops things runs publishers first);
 *   apply    per target, one at a time (or `parallel` at once): a session
 *            advisory lock (a second run gets "already running"), BEGIN,
 *            SET LOCAL lock_timeout / statement_timeout, the history table
 *            pgfleet.migration_history (same name and checksum: skipped; other
 *            checksum: drift, refused), the statements, the history row, then
 *            COMMIT, ROLLBACK (dry run) or PREPARE TRANSACTION (atomic: COMMIT
 *            PREPARED on all once every target is prepared, else ROLLBACK
 *            PREPARED). Non-transactional runs execute statement by statement
 *            and report exactly how far each target got.
 *
 * Progress events: {"target","event":"started"|"statement"|"committed"|
 * "prepared"|"failed"|"rolled_back"|"skipped",...}. The report:
 * {"execution_id","name","checksum","status","plan":[...],"targets":[{"target",
 * "status","statements_done","statements_total","duration_ms","error"|null,
 * "note"|null}]}.
 */
#ifndef PGFLEET_MIGRATE_H
#define PGFLEET_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "pg/pgconn.h"

typedef struct MigrateOptions {
    const char *execution_id; /* NULL: generated */
    const char *name;
    const char *sql;
    size_t sql_len;
    bool dry_run, atomic, continue_on_error, non_transactional;
    int parallel; /* 0 or 1: one target at a time */
    long lock_timeout_ms, statement_timeout_ms;
    const char *applied_by;
    /* only resolve prepared transactions left by interrupted atomic runs; sql may be empty */
    bool recover_only;
} MigrateOptions;

typedef struct MigrateTarget {
    const char *label; /* how reports name it, e.g. "127.0.0.1:5432/app" or a database id */
    PgConnParams params;
} MigrateTarget;

typedef struct Migrate Migrate;

typedef void (*MigrateEventCb)(void *ud, const json_t *event);
typedef void (*MigrateDoneCb)(void *ud, const json_t *report);

/* the checks migrate_start makes before connecting: false with err filled */
bool migrate_check(const MigrateOptions *o, int n, char *err, size_t errlen);

/*
 * Checks the script; NULL with err filled (and nothing started) when it is
 * refused. Otherwise runs on the loop; done is called once (events before).
 * The targets (labels and parameters) are copied.
 */
Migrate *migrate_start(uv_loop_t *loop, const MigrateOptions *o, const MigrateTarget *targets,
                       int n, MigrateEventCb on_event, MigrateDoneCb done, void *ud, char *err,
                       size_t errlen);
/* stops after the running statements: targets not finished are rolled back */
void migrate_cancel(Migrate *m);
/* at shutdown: cancelled, and neither events nor done are called again; it frees itself
 * once its sessions have ended (the loop must run on) */
void migrate_detach(Migrate *m);
const char *migrate_id(const Migrate *m);

#endif
