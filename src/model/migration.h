/*
 * migration: MigrationExecution, one run of a named SQL script across a list
 * of target databases, with the outcome on each target.
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
} MigrationStatus;

typedef enum TargetStatus {
    TGT_PENDING,
    TGT_RUNNING,
    TGT_COMMITTED,
    TGT_FAILED,
    TGT_ROLLED_BACK,
    TGT_SKIPPED,
} TargetStatus;

typedef struct MigrationTarget {
    char *database_id;
    TargetStatus status;
    long long statements_done;
    long long statements_total;
    char *started_at;  /* optional */
    char *finished_at; /* optional */
    char *error;       /* optional */
} MigrationTarget;

typedef struct MigrationExecution {
    char *id;
    char *name;
    char *checksum; /* sha256 hex of the script */
    MigrationTarget *targets;
    size_t ntargets;
    MigrationStatus status;
    char *applied_by;  /* optional */
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

#endif
