/*
 * pgconn: one PostgreSQL connection driven by the loop (libpq non-blocking).
 *
 * Connect: the host name is resolved off the loop (uv_getaddrinfo) and passed
 * as hostaddr (host stays for TLS verification); PQconnectPoll is driven by
 * uv_poll, re-reading PQsocket after every step; our own timer bounds the
 * whole connect. Every session gets statement_timeout. dbname is never
 * expanded as a conninfo string, so values with quotes, spaces or '=' are
 * only ever names.
 *
 * One request at a time: a parameterized query, or a batch of statements
 * sent in pipeline mode in one round trip. Cancel runs PQcancel (blocking by
 * design in libpq 15) on the threadpool.
 *
 * Callbacks run from the loop, never inside the call that started them. The
 * PGresults passed to a result callback are freed after it returns.
 */
#ifndef PGFLEET_PGCONN_H
#define PGFLEET_PGCONN_H

#include <stdbool.h>

#include <libpq-fe.h>
#include <uv.h>

typedef enum PgErrKind {
    PGE_NONE,
    PGE_DNS,      /* unknown host */
    PGE_CONNECT,  /* refused, unreachable */
    PGE_TIMEOUT,  /* connect or statement timeout */
    PGE_AUTH,     /* password authentication failed, no such role */
    PGE_HBA,      /* no pg_hba.conf entry */
    PGE_TLS,      /* TLS required, refused or not verifiable */
    PGE_DATABASE, /* the database does not exist */
    PGE_LIMIT,    /* too many connections */
    PGE_QUERY,    /* an SQL error */
    PGE_CANCELLED,
    PGE_CLOSED, /* the connection was closed or lost */
    PGE_OTHER,
} PgErrKind;

typedef struct PgError {
    PgErrKind kind;
    char sqlstate[6];
    char message[512];
    char hint[300];
} PgError;

typedef struct PgConnParams {
    const char *host;
    int port;
    const char *dbname;
    const char *user;
    const char *password;    /* may be NULL */
    const char *sslmode;     /* disable ... verify-full; NULL: prefer */
    const char *sslrootcert; /* CA bundle, or NULL */
    const char *application_name;
    long connect_timeout_ms;   /* 0: 5000 */
    long statement_timeout_ms; /* 0: 30000 */
} PgConnParams;

typedef struct PgConn PgConn;

/* err is NULL on success; on failure the connection is already closed and freed */
typedef void (*PgConnectCb)(void *ud, PgConn *c, const PgError *err);
/* results[0..n) in statement order; err set on the first failure (results so far given) */
typedef void (*PgResultCb)(void *ud, PgConn *c, PGresult *const *results, int n,
                           const PgError *err);

/* Starts connecting; the callback always runs. */
PgConn *pgconn_connect(uv_loop_t *loop, const PgConnParams *p, PgConnectCb cb, void *ud);
/* One statement with text parameters. False when the connection is busy or closed. */
bool pgconn_query(PgConn *c, const char *sql, int nparams, const char *const *params, PgResultCb cb,
                  void *ud) __attribute__((warn_unused_result));
/* n statements without parameters, pipelined: one round trip. */
bool pgconn_pipeline(PgConn *c, const char *const *sqls, int n, PgResultCb cb, void *ud)
    __attribute__((warn_unused_result));
/* asks the server to cancel the running statement; the query's callback reports it */
void pgconn_cancel(PgConn *c);
/* closes; a pending callback runs with PGE_CLOSED */
void pgconn_close(PgConn *c);

bool pgconn_busy(const PgConn *c);
bool pgconn_ok(const PgConn *c);
/*
 * A daemon among several names every session it opens after itself
 * ("pgfleet:<instance id>", at most 63 bytes), whatever the caller asked, so
 * pg_stat_activity shows which instance holds what. NULL: callers' names.
 */
void pgconn_set_instance_name(const char *name);
PGconn *pgconn_raw(PgConn *c);
/* "host:port" as reached */
const char *pgconn_target(const PgConn *c);

/*
 * Owned copies: pgconn_params_copy duplicates every string of src into dst;
 * pgconn_params_clear wipes the password and frees them. set_password
 * replaces an owned copy's password.
 */
void pgconn_params_copy(PgConnParams *dst, const PgConnParams *src);
void pgconn_params_set_password(PgConnParams *p, const char *password);
void pgconn_params_clear(PgConnParams *p);

const char *pg_err_kind_name(PgErrKind k);
/* a result's rows as JSON objects (bool, integers, floats and text[] typed; the rest text) */
struct json_t;
struct json_t *pg_rows_json(const PGresult *r);
/* classifies a libpq connection error message (and sets a hint) */
void pg_error_classify(PgError *e, const char *msg, const PgConnParams *p);

#endif
