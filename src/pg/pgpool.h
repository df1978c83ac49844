/*
 * pgpool: a small pool of connections to one target.
 *
 * Requests queue until a connection is idle or one more may be opened (up to
 * max_size). Idle connections close after idle_timeout_ms. Each new
 * connection asks the credential callback for its password (an RDS IAM token
 * is made fresh per connection); after an authentication failure it asks once
 * more with after_auth_failure set (a rotated secret is read again) and
 * retries. When a connection cannot be made, the requests waiting for it fail
 * with that error. A request's callback runs exactly once.
 */
#ifndef PGFLEET_PGPOOL_H
#define PGFLEET_PGPOOL_H

#include "pg/pgconn.h"

typedef struct PgPool PgPool;

/* password NULL with err NULL: connect without one */
typedef void (*PgPasswordCb)(void *ud, const char *password, const PgError *err);
typedef void (*PgPasswordFn)(void *provider, bool after_auth_failure, PgPasswordCb cb, void *cb_ud);

typedef struct PgPoolOptions {
    int max_size;         /* default 4 */
    long idle_timeout_ms; /* default 60000 */
} PgPoolOptions;

/* base carries everything but the password (copied) */
PgPool *pgpool_new(uv_loop_t *loop, const PgConnParams *base, PgPasswordFn password_fn,
                   void *provider, const PgPoolOptions *opts);
/* fails what is queued (PGE_CLOSED), closes the connections */
void pgpool_free(PgPool *p);

void pgpool_query(PgPool *p, const char *sql, int nparams, const char *const *params, PgResultCb cb,
                  void *ud);
void pgpool_pipeline(PgPool *p, const char *const *sqls, int n, PgResultCb cb, void *ud);

/* closes the connections that are idle now (busy ones close when idle for the timeout) */
void pgpool_close_idle(PgPool *p);

int pgpool_open(const PgPool *p); /* connections open or opening */
int pgpool_queued(const PgPool *p);

#endif
