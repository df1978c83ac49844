/*
 * app: the composition root of `pgfleet serve`.
 *
 * It owns the loop and every long-lived object, starts the services in
 * order (each gets its dependencies explicitly; none reaches another's
 * internals) and stops them in the reverse order in one teardown path,
 * whatever the reason: a start-up failure or a signal.
 *
 *   start:  AWS client -> store (Redis; ElastiCache endpoint when named)
 *           -> WebSocket hub -> Secrets Manager cache -> event log
 *           -> registry -> replication -> streams -> runs -> HTTP server
 *           -> signals and heartbeat
 *   stop:   the reverse. SIGTERM/SIGINT first stop accepting and let
 *           in-flight requests finish for up to shutdown_grace_ms; a second
 *           signal skips the wait.
 *
 * Wiring between services happens here: the store becoming ready loads the
 * registry and marks interrupted migrations; the registry loaded resumes
 * interrupted stream operations and resolves prepared transactions; log
 * events go to the event log; every service publishes to the hub.
 */
#ifndef PGFLEET_APP_H
#define PGFLEET_APP_H

#include "common/config.h"
#include "common/error.h"

/* Runs until a signal stops it; returns the process exit status. */
int app_run(const Config *cfg);

#endif
