/*
 * stream: ReplicationStream, one replication link pgfleet created or found.
 *
 * Logical streams name a publication on the source database and a
 * subscription (and its slot) on the target; physical streams name the slot
 * the standby uses, if any. The record pgfleet keeps for a stream it manages
 * is this model: besides the names it says what pgfleet created (so a drop
 * removes only that), the options of the subscription, and, while a create
 * or a drop runs, the step it has reached (so a restart finishes it).
 *
 *   create:  publication -> slot -> subscription -> (initializing) -> streaming
 *   drop:    disable -> detach_slot -> drop_subscription -> drop_slot
 *            -> drop_publication -> (dropped)
 *
 * The step is the next one to run; each step is idempotent, so running the
 * recorded step again after a crash is safe.
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

typedef enum StreamStep {
    STEP_NONE,
    /* create, in order */
    STEP_PUBLICATION,
    STEP_SLOT,
    STEP_SUBSCRIPTION,
    STEP_CREATED,
    /* drop, in order */
    STEP_DISABLE,
    STEP_DETACH_SLOT,
    STEP_DROP_SUBSCRIPTION,
    STEP_DROP_SLOT,
    STEP_DROP_PUBLICATION,
    STEP_DROPPED,
} StreamStep;

typedef struct StreamOptions {
    bool copy_data;   /* default true */
    bool create_slot; /* default true */
    bool streaming;   /* default false */
    bool binary;      /* default false */
} StreamOptions;

typedef struct ReplicationStream {
    char *id;
    StreamKind kind;
    char *source_database_id;
    char *target_database_id;
    char *publication;  /* logical: required */
    char *subscription; /* logical: required */
    char *slot;         /* optional; defaults to the subscription name in PostgreSQL */
    char **tables;      /* "schema.table"; empty with all_tables */
    size_t ntables;
    bool all_tables;
    StreamOptions options;
    bool publication_created; /* pgfleet made the publication (a drop removes it) */
    bool slot_created;        /* pgfleet made the slot */
    StreamStep step;          /* the next step of a create or drop in progress */
    StreamState state;
    char *error;      /* last error, optional */
    json_t *sync;     /* initial copy: {"tables","ready","detail":[...]}, optional */
    json_t *checks;   /* the pre-flight checks of the create, optional */
    char *created_by; /* who created it, optional */
    char *owner;      /* the instance running its create or drop (scale-out), optional */
    char *created_at;
    char *updated_at;
} ReplicationStream;

extern const char *const stream_kind_names[];
extern const char *const stream_state_names[];
extern const char *const stream_step_names[];

bool stream_from_json(ReplicationStream *s, const json_t *obj, Validation *v)
    __attribute__((warn_unused_result));
json_t *stream_to_json(const ReplicationStream *s);
void stream_free(ReplicationStream *s);
/* a deep copy of src into dst */
void stream_copy(ReplicationStream *dst, const ReplicationStream *src);
/* sets state and error (NULL clears it) and updated_at to now */
void stream_set_state(ReplicationStream *s, StreamState state, const char *error);
/* true for the states a create or drop leaves while it runs */
bool stream_state_in_progress(StreamState state);

#endif
