/*
 * streamop: the long operations on a stream, as explicit state machines.
 *
 * A create or a drop runs from the stream's recorded step to its end, one
 * step at a time (model/stream.h draws both sequences). For each step one
 * function sends its SQL (send_step) on the side that step needs, and one
 * transition function reads the answer (step_answered): it moves the copy of
 * the record to the next step and hands it to `changed` (the service saves
 * it), then sends the next. Every step is idempotent (a guard query, IF
 * EXISTS, WHERE NOT EXISTS), so a daemon killed anywhere resumes from the
 * recorded step and nothing is made twice or left half made.
 *
 * Lifecycle actions (pause, resume, refresh, tables) are one-shot: a table
 * says for each whether it needs the source, the subscription change it
 * makes on the target, and the state it leaves.
 *
 * Sessions are opened per side when a step first needs them (pgtarget_open),
 * as the database's configured user. A drop whose target cannot be reached
 * fails unless forced; forced, it leaves the subscription and goes on with
 * the source. A slot still used by a walsender is released (the walsender
 * ended) and the drop retried.
 */
#ifndef PGFLEET_STREAMOP_H
#define PGFLEET_STREAMOP_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "common/failure.h"
#include "model/stream.h"
#include "registry/registry.h"

typedef enum StreamAction {
    ACTION_PAUSE,
    ACTION_RESUME,
    ACTION_REFRESH,
    ACTION_TABLES,
} StreamAction;

typedef struct StreamOp StreamOp;

typedef struct StreamOpConfig {
    uv_loop_t *loop;
    const Registry *registry;
    const char *exit_after; /* test hook: SIGKILL itself after this step's SQL (not recorded) */
    /* after each step: the record with its next step (borrowed) */
    void (*changed)(void *ud, const ReplicationStream *s);
    /* once, at the end: the record as left, notes (array of strings), f NULL on success;
     * the op is freed after this returns */
    void (*done)(void *ud, const ReplicationStream *s, const json_t *notes, const Failure *f);
    void *ud;
} StreamOpConfig;

/* runs a create (state creating) or a drop (state dropping) from s->step; s is copied */
StreamOp *streamop_run(const StreamOpConfig *c, const ReplicationStream *s, bool force);
/* one lifecycle action; add/remove: qualified table names (tables action) */
StreamOp *streamop_action(const StreamOpConfig *c, const ReplicationStream *s, StreamAction a,
                          const json_t *add, const json_t *remove);
/* at shutdown: sessions closed, done is never called, the record keeps its step */
void streamop_abort(StreamOp *op);

/* the state an action leaves */
StreamState streamop_action_state(StreamAction a);
const char *streamop_action_name(StreamAction a);

#endif
