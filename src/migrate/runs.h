/*
 * runs: the migration service of the daemon.
 *
 *   execute   validates the request, records the run (MigrationExecution,
 *             Redis hash "migrations") as running, answers at once with its
 *             id, gathers every target's password from its credential source
 *             and runs the executor (migrate.h); each progress event goes to
 *             topic migration:<id> and into the record, the report replaces
 *             it at the end
 *   cancel    a run in progress in this daemon
 *   recovery  when the store is ready, runs a dead daemon left "running" are
 *             marked "interrupted" (their unfinished targets "unknown"); when
 *             the registry is loaded, prepared transactions interrupted atomic
 *             runs left are resolved (see migrate.h)
 */
#ifndef PGFLEET_RUNS_H
#define PGFLEET_RUNS_H

#include <jansson.h>
#include <uv.h>

#include "common/config.h"
#include "common/failure.h"
#include "common/publish.h"
#include "registry/registry.h"
#include "store/store.h"

#define RUNS_MAX_TARGETS 256

typedef struct Runs Runs;

typedef struct RunsDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    const Registry *registry;
    Publisher pub;
    /* scale-out: this instance's id (a run's owner) and whether another one is alive */
    const char *instance;
    bool (*alive)(void *ud, const char *instance);
    /* asks the other instances to cancel a run (the one running it does) */
    void (*forward_cancel)(void *ud, const char *execution_id);
    void *alive_ud; /* for both */
} RunsDeps;

Runs *runs_new(const RunsDeps *deps);
/* runs in progress are cancelled (their targets roll back) and finish unrecorded */
void runs_free(Runs *r);
/*
 * Marks runs left running by an instance that is gone (or by this one before
 * a restart) as interrupted: at start-up, and on the leader whenever an
 * owner may have died.
 */
void runs_sweep(Runs *r);
/* resolves prepared transactions of interrupted atomic runs on every database */
void runs_recover_prepared(Runs *r);

/* body borrowed; applied_by: who asks. {"execution_id","status":"running","topic"} */
void runs_execute(Runs *r, const json_t *body, const char *applied_by, DoneCb cb, void *ud);
/* newest first: {"count","migrations":[...]} */
void runs_list(Runs *r, DoneCb cb, void *ud);
void runs_get(Runs *r, const char *id, DoneCb cb, void *ud);
/*
 * {"execution_id","status":"cancelling"}; a run of another live instance is
 * forwarded to it ("owner" says which); 409 when it is not running.
 */
void runs_cancel(Runs *r, const char *id, DoneCb cb, void *ud);
/* cancels the run when it runs here; false when it does not */
bool runs_cancel_here(Runs *r, const char *id);

#endif
