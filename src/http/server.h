/*
 * server: HTTP and WebSocket on the libuv loop, through libwebsockets.
 *
 * libwebsockets runs in foreign-loop mode on the daemon's loop (as ttyd does).
 * This module is the only one that knows libwebsockets: it turns callbacks
 * into HttpRequest objects, authenticates them, matches the route table,
 * answers static UI files, and hands WebSocket frames to the hub.
 *
 * Every request is admitted or refused when its headers are in: a Host the
 * daemon does not serve (421), no valid credentials for a protected route
 * (401; without a session cookie the body is never read), a role too low
 * (403), a cookie-authenticated state change without the session's
 * X-CSRF-Token (403), a state-changing request whose Origin is foreign (403) or that
 * a plain HTML form or a no-cors fetch could send (403: it must carry
 * Content-Type: application/json or a credentials header), a body that is
 * not JSON (415) or too large (413). A body must arrive whole within
 * body_timeout_seconds. WebSocket upgrades are checked the same way (Host,
 * Origin); an unauthenticated socket must send {"type":"auth"} within
 * ws_auth_timeout_seconds, fails at most 3 times, and one client address
 * holds at most ws_unauthenticated_per_address of them.
 *
 * Credentials: an API key (Authorization: Bearer, X-API-Key), else the
 * pgfleet_session cookie, looked up in the session store while the request
 * waits (the body, if any, is buffered meanwhile within max_body_bytes). A
 * WebSocket opened with a session cookie is re-checked every
 * ws_session_check_ms and closed when its session has ended.
 */
#ifndef PGFLEET_SERVER_H
#define PGFLEET_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "auth/auth.h"
#include "http/router.h"
#include "http/wshub.h"

typedef struct HttpServer HttpServer;

typedef struct HttpServerOptions {
    uv_loop_t *loop;
    const char *host;
    int port;
    long max_body_bytes;
    const Route *routes;
    size_t nroutes;
    void *app;  /* passed to every route handler */
    Auth *auth; /* keys, sessions; auth_open: every caller is admin */
    WsHub *hub;
    const char *public_url;      /* PGFLEET_PUBLIC_URL, or NULL */
    const char *allowed_origins; /* PGFLEET_ALLOWED_ORIGINS, or NULL */
    long body_timeout_seconds;   /* a body not whole by then ends the connection */
    long ws_auth_timeout_seconds;
    long ws_unauthenticated_per_address;
    long ws_session_check_ms;
    bool trust_proxy; /* X-Forwarded-For / X-Forwarded-Proto come from our proxy */
    /* every request when it ends, answered or not (the audit trail) */
    void (*on_finished)(void *ud, const HttpRequest *req);
    void *finished_ud;
} HttpServerOptions;

/* Binds and starts serving. NULL with err filled when it cannot listen. */
HttpServer *http_server_new(const HttpServerOptions *opts, char *err, size_t errlen);
/* Closes the listening socket; open connections finish what they are doing. */
void http_server_stop_accepting(HttpServer *srv);
/* requests received and not yet answered and written */
size_t http_server_inflight(const HttpServer *srv);
size_t http_server_total_requests(const HttpServer *srv);
/*
 * Closes every connection and destroys the libwebsockets context; the loop
 * must run on so the closes complete. Call http_server_free after the loop ends.
 */
void http_server_close(HttpServer *srv);
void http_server_free(HttpServer *srv);

#endif
