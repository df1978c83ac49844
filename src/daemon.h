/*
 * daemon: `pgfleet serve`: owns the loop and every long-lived object.
 *
 * Start-up: store (connects in the background), WebSocket hub, HTTP server,
 * heartbeat timer, SIGTERM/SIGINT handlers. Shutdown on SIGTERM/SIGINT: stop
 * accepting, let in-flight requests finish for up to shutdown_grace_ms, close
 * every connection, drop Redis, close our handles and let the loop end. A
 * second signal skips the wait.
 */
#ifndef PGFLEET_DAEMON_H
#define PGFLEET_DAEMON_H

#include "common/config.h"
#include "common/error.h"

/* Runs until a signal stops it; returns the process exit status. */
int daemon_run(const Config *cfg);

#endif
