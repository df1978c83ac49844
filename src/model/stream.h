/*
 * stream: ReplicationStream, one replication link pgfleet created or found.
 *
 * Logical streams name a publication on the source database and a
 * subscription (and its slot) on the target; physical streams name the slot
 * the standby uses, if any.
 */
#ifndef PGFLEET_STREAM_H
#define PGFLEET_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "model/validate.h"

#define STREAM_SCHEMA_VERSION 1

typedef enum StreamKind { STREAM_LOGICAL, STREAM_PHYSICAL } StreamKind;

typedef enum StreamState {
    STREAM_PENDING,
    STREAM_CREATING,
    STREAM_INITIALIZING,
    STREAM_STREAMING,
    STREAM_PAUSED,
    STREAM_ERROR,
    STREAM_DROPPING,
    STREAM_DROPPED,
} StreamState;

typedef struct ReplicationStream {
    char *id;
    StreamKind kind;
    char *source_database_id;
    char *target_database_id;
    char *publication;  /* logical: required */
    char *subscription; /* logical: required */
    char *slot;         /* optional; defaults to the subscription name in PostgreSQL */
    char **tables;      /* "schema.table"; empty = all tables */
    size_t ntables;
    StreamState state;
    char *error; /* last error, optional */
    char *created_at;
    char *updated_at;
} ReplicationStream;

extern const char *const stream_kind_names[];
extern const char *const stream_state_names[];

bool stream_from_json(ReplicationStream *s, const json_t *obj, Validation *v)
    __attribute__((warn_unused_result));
json_t *stream_to_json(const ReplicationStream *s);
void stream_free(ReplicationStream *s);

#endif
