/*
 * migration: MigrationExecution, one run of a named SQL script across a list
 * of target databases, with the outcome on each target.
 *
 * This is the record pgfleet keeps (Redis hash "migrations") and the answer
 * of GET /api/migrations/{id}: the executor's report has the same shape.
 * A run still "running" when its daemon died is marked "interrupted", its
 * unfinished targets "unknown" (each target's own migration_history table
 * says what it has).
 */
#ifndef PGFLEET_MIGRATION_H
#define PGFLEET_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "model/validate.h"

#define MIGRATION_SCHEMA_VERSION 1

typedef enum MigrationStatus {
    MIG_PENDING,
    MIG_RUNNING,
    MIG_SUCCEEDED,
    MIG_FAILED,
    MIG_PARTIAL, /* some targets committed, some failed */
    MIG_CANCELLED,
    MIG_INTERRUPTED, /* its daemon stopped before it finished */
} MigrationStatus;

typedef enum TargetStatus {
    TGT_PENDING,
    TGT_RUNNING,
    TGT_COMMITTED,
    TGT_PREPARED, /* atomic: waiting for the others */
    TGT_FAILED,
    TGT_ROLLED_BACK,
    TGT_SKIPPED,
    TGT_UNKNOWN, /* interrupted: the target's history table tells */
} TargetStatus;

typedef struct MigrationTarget {
    char *target; /* the database id (or, from the CLI, host:port/dbname) */
    TargetStatus status;
    long long statements_done;
    long long statements_total;
    double duration_ms;
    char *error; /* optional */
    char *note;  /* optional */
} MigrationTarget;

typedef struct MigrationExecution {
    char *id; /* "execution_id" in JSON */
    char *name;
    char *checksum; /* sha256 hex of the script */
    MigrationTarget *targets;
    size_t ntargets;
    MigrationStatus status;
    bool dry_run, atomic, continue_on_error, non_transactional;
    json_t *plan;      /* notes made before running: array of strings, optional */
    json_t *recovered; /* prepared transactions of earlier runs resolved first, optional */
    char *applied_by;  /* optional */
    char *owner;       /* the instance running it (scale-out), optional */
    char *sql;         /* the script that ran (optional: absent in older records) */
    char *started_at;  /* optional */
    char *finished_at; /* optional */
    char *error;       /* optional */
} MigrationExecution;

extern const char *const migration_status_names[];
extern const char *const target_status_names[];

bool migration_from_json(MigrationExecution *m, const json_t *obj, Validation *v)
    __attribute__((warn_unused_result));
json_t *migration_to_json(const MigrationExecution *m);
void migration_free(MigrationExecution *m);
/* sha256 of data as 64 hex digits into hex[65] */
void migration_checksum(const char *data, size_t len, char hex[65]);
/* the status name's index, or -1 */
int migration_target_status_parse(const char *name);

#endif
