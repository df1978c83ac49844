/*
 * target: one registered database at run time: its configuration, a pool,
 * where its password comes from, and its health.
 *
 * Credentials: "env" reads the named variable; "secretsmanager" (and
 * "password", whose value pgfleet keeps in Secrets Manager) reads the secret
 * (RDS JSON format: its "password"; a plain string is the password itself),
 * and after an authentication failure reads it again bypassing the cache;
 * "rds_iam" makes a fresh RDS IAM token for every new connection. Before
 * any of it the policy (credpolicy.h) is asked; "password" may only use the
 * secret pgfleet made for this database (pgfleet/db/<id>).
 *
 * Health: a probe runs every health interval through the pool (server
 * version, recovery, system identifier, wal_level, round trip). ok; degraded
 * when the round trip is slower than the threshold; unreachable when no
 * connection can be made or the probe fails. While failing, probes follow
 * decorrelated-jitter backoff up to the interval. Changes are reported to the
 * health callback.
 */
#ifndef PGFLEET_TARGET_H
#define PGFLEET_TARGET_H

#include <jansson.h>
#include <uv.h>

#include "aws/aws.h"
#include "aws/secrets.h"
#include "model/database.h"
#include "pg/credpolicy.h"
#include "pg/pgpool.h"

typedef enum PgHealth { HEALTH_UNKNOWN, HEALTH_OK, HEALTH_DEGRADED, HEALTH_UNREACHABLE } PgHealth;

typedef struct PgTarget PgTarget;

typedef void (*PgHealthCb)(void *ud, PgTarget *t, PgHealth old_state, PgHealth new_state);

typedef struct PgTargetDeps {
    uv_loop_t *loop;
    AwsClient *aws;           /* for rds_iam; may be NULL */
    SecretsCache *secrets;    /* for secretsmanager/password; may be NULL */
    const CredPolicy *policy; /* which env variables and secrets a database may name */
    const char *ca_file;      /* sslrootcert, or NULL */
    long health_interval_ms;
    long degraded_ms;
    long connect_timeout_ms;
    long statement_timeout_ms;
    int pool_size;
    bool no_polling;            /* no health probes until pgtarget_set_polling(t, true) */
    long first_probe_within_ms; /* the first probe at a random time this soon (0: at once) */
    PgHealthCb on_health;
    void *ud;
} PgTargetDeps;

/* probes start at once; db is copied */
PgTarget *pgtarget_new(const DatabaseConfig *db, const PgTargetDeps *deps);
void pgtarget_free(PgTarget *t);

const DatabaseConfig *pgtarget_config(const PgTarget *t);
PgPool *pgtarget_pool(PgTarget *t);
/* the password from the database's credential source (cb runs once, maybe at once) */
void pgtarget_password(PgTarget *t, PgPasswordCb cb, void *ud);

/*
 * The one builder of libpq parameters for a registered database: host, port,
 * dbname, user, sslmode from its configuration, the CA file and timeouts
 * from the deps, without a password. The strings are borrowed from t (copy
 * them with pgconn_params_copy to keep them past t's life).
 */
void pgtarget_params(const PgTarget *t, const char *application_name, PgConnParams *out);

/*
 * A dedicated session (not from the pool) to the database as its configured
 * user, with the password from its credential source: for work that holds
 * a session (DDL sequences, following a copy). cb runs once, from the loop;
 * on success the connection is the caller's to close. t may be freed while
 * this runs.
 */
void pgtarget_open(PgTarget *t, const char *application_name, PgConnectCb cb, void *ud);
/*
 * Health probes on or off (another instance polls this database). Off
 * closes the idle connections at once and forgets the health, which is then
 * unknown here; on probes soon (at once the first time).
 */
void pgtarget_set_polling(PgTarget *t, bool on);
/*
 * PGFLEET_HEALTH_CONNECTIONS=server: the periodic probes of t run on via's
 * pool (a database of the same server), asking whether t's database exists
 * and accepts connections; via NULL or t itself: on t's own. The caller
 * changes it before via is freed. An explicit test (pgtarget_test) always
 * connects as t.
 */
void pgtarget_probe_via(PgTarget *t, PgTarget *via);
bool pgtarget_polling(const PgTarget *t);
/* a number that changes whenever pgtarget_health_json's answer does */
uint64_t pgtarget_health_gen(const PgTarget *t);
PgHealth pgtarget_health(const PgTarget *t);
const char *pg_health_name(PgHealth h);
/* {"state","checked_at","latency_ms","error":{...}|null,"server":{...}|null} (new reference) */
json_t *pgtarget_health_json(const PgTarget *t);

/* report is a new reference owned by the callee during the call; ok says which shape */
typedef void (*PgTestCb)(void *ud, const json_t *report);
/* connects (through the pool) and reports server facts or the first error with a hint */
void pgtarget_test(PgTarget *t, PgTestCb cb, void *ud);

#endif
