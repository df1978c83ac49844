/*
 * streams: the logical replication streams service.
 *
 *   validate   pre-flight checks of a stream request (check.h)
 *   create     the checks (errors refuse; warnings need force), then the record
 *              ("creating", with what pgfleet will make) is saved before any
 *              DDL; the answer (202) follows, and the create runs as a state
 *              machine (streamop.h) that records its step after each statement;
 *              then the initial copy is followed until streaming (follow.h).
 *              Sent again with the id of an interrupted create, it finishes it.
 *   actions    pause, resume, refresh, tables add/remove
 *   drop       runs the drop machine; answered when done, with notes
 *   recover    at start-up (once the registry is loaded), and on the leader
 *              whenever an owner may have died: creates and drops left
 *              half-way by no live instance resume from their recorded step,
 *              copies in progress are followed again
 *
 * Records live in Redis hash "streams" as ReplicationStream (model/stream.h);
 * one that does not validate is reported and skipped. The subscription's
 * connection string carries the source's password (PostgreSQL keeps it in
 * pg_subscription); it is never logged, recorded or answered. Events go to
 * topic stream:<id>. One operation at a time per stream (409 otherwise).
 */
#ifndef PGFLEET_STREAMS_H
#define PGFLEET_STREAMS_H

#include <stdbool.h>

#include <jansson.h>
#include <uv.h>

#include "common/config.h"
#include "common/failure.h"
#include "common/publish.h"
#include "registry/registry.h"
#include "store/store.h"
#include "streams/streamop.h"

typedef struct Streams Streams;

typedef struct StreamsDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    const Registry *registry;
    Publisher pub;
    /* scale-out: this instance's id (recorded as a record's owner while it works on it) and
       whether another instance is alive; NULL: alone */
    const char *instance;
    bool (*alive)(void *ud, const char *instance);
    void *alive_ud;
} StreamsDeps;

Streams *streams_new(const StreamsDeps *deps);
/* operations in flight stop where they are (their records keep the step) */
void streams_free(Streams *s);
/*
 * Resumes creates and drops no live instance works on from their recorded
 * step, and follows their copies in progress: at start-up, and on the
 * leader whenever asked (an owner may have died). Ones running here stay.
 */
void streams_recover(Streams *s);

/* body is borrowed; by: who asks (recorded as created_by) */
void streams_validate(Streams *s, const json_t *body, DoneCb cb, void *ud);
void streams_create(Streams *s, const json_t *body, const char *by, DoneCb cb, void *ud);
/* body may carry add/remove (tables) */
void streams_action(Streams *s, const char *id, StreamAction a, const json_t *body, DoneCb cb,
                    void *ud);
void streams_drop(Streams *s, const char *id, bool force, DoneCb cb, void *ud);
/* pgfleet's streams with their live state from topology (may be NULL), and the streams
 * found in it: {"count","streams":[...]} */
void streams_list(Streams *s, const json_t *topology, DoneCb cb, void *ud);
void streams_get(Streams *s, const char *id, const json_t *topology, DoneCb cb, void *ud);

#endif
