/*
 * follow: watching a stream's initial copy on the target.
 *
 * Every second (one session to the target, reopened when lost) the
 * subscription's per-table sync states and its enabled flag are read; each
 * reading goes to the callback with the state it means: initializing while
 * tables copy, streaming when all are ready, paused when disabled, error
 * when the subscription is gone. The follower stops by itself after any of
 * the last three. The target is looked up in the registry at every tick
 * (the database may have been removed: the follower then stops without a
 * reading, sync NULL).
 *
 * The owner forgets the follower when a callback says stopped: it is freed
 * after that call.
 */
#ifndef PGFLEET_FOLLOW_H
#define PGFLEET_FOLLOW_H

#include <jansson.h>
#include <uv.h>

#include "model/stream.h"
#include "registry/registry.h"

typedef struct Follower Follower;

/* sync: {"tables","ready","detail":[{table_name,state}]} (borrowed) or NULL; error NULL
 * unless the subscription is gone */
typedef void (*FollowCb)(void *ud, Follower *f, StreamState state, const json_t *sync,
                         const char *error, bool stopped);

Follower *follow_start(uv_loop_t *loop, const Registry *registry, const ReplicationStream *s,
                       FollowCb cb, void *ud);
/* stops (the owner's call); the callback is not called again */
void follow_stop(Follower *f);
const char *follow_stream_id(const Follower *f);

#endif
