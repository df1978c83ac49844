#include "pg/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "aws/rds.h"
#include "common/backoff.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pg/pgquote.h"

struct PgTarget {
    PgTargetDeps deps;
    DatabaseConfig db;
    PgPool *pool;
    PgHealth health;
    json_t *last; /* the last probe report */
    uv_timer_t probe_timer;
    Backoff backoff;
    bool probing;
    bool polling;        /* health probes on (pgtarget_set_polling) */
    uint64_t health_gen; /* changes whenever what pgtarget_health_json answers does */
    PgTarget *via;       /* probes run on this target's pool (pgtarget_probe_via), or NULL */
    char *via_sql;       /* the last probe statement then: this database in pg_database */
    bool closing;
    int refs; /* probe in flight, timer open, password lookups */
};

static const char *const health_names[] = {"unknown", "ok", "degraded", "unreachable"};

const char *pg_health_name(PgHealth h)
{
    return health_names[h <= HEALTH_UNREACHABLE ? h : 0];
}

static void unref(void *owner)
{
    PgTarget *t = owner;
    if (--t->refs > 0)
        return;
    json_decref(t->last);
    database_free(&t->db);
    free(t->via_sql);
    free(t);
}

/* ---- passwords ---- */

typedef struct PwReq {
    PgTarget *t;
    PgPasswordCb cb;
    void *ud;
} PwReq;

static void pw_fail(PwReq *r, PgErrKind kind, const char *hint, const char *msg)
{
    PgError e = {.kind = kind};
    snprintf(e.message, sizeof e.message, "%.*s", (int)sizeof e.message - 1, msg);
    if (hint)
        snprintf(e.hint, sizeof e.hint, "%.*s", (int)sizeof e.hint - 1, hint);
    r->cb(r->ud, NULL, &e);
}

static void secret_ready(void *ud, const json_t *secret, const AwsResult *res)
{
    PwReq *r = ud;
    if (!secret) {
        char msg[512];
        snprintf(msg, sizeof msg, "could not read secret %s: %s: %s",
                 r->t->db.credentials.secret_id, res->code ? res->code : "error",
                 res->message ? res->message : "");
        pw_fail(r, PGE_AUTH, res->hint, msg);
    } else {
        const char *value = jsonutil_str(secret, "value");
        char err[64];
        json_t *j = value ? jsonutil_parse(value, strlen(value), err, sizeof err) : NULL;
        const char *pw = json_is_object(j) ? jsonutil_str(j, "password") : value;
        if (!pw)
            pw_fail(r, PGE_AUTH, "store the credentials as RDS-format JSON: {\"password\": ...}",
                    "the secret has no \"password\"");
        else
            r->cb(r->ud, pw, NULL);
        json_decref(j);
    }
    unref(r->t);
    free(r);
}

static void iam_creds(void *ud, const AwsCredentials *creds, const char *error)
{
    PwReq *r = ud;
    PgTarget *t = r->t;
    if (!creds) {
        char msg[512];
        snprintf(msg, sizeof msg, "no AWS credentials for the RDS IAM token: %s", error);
        pw_fail(r, PGE_AUTH, "see 'pgfleet aws check'", msg);
    } else {
        const char *region = t->db.aws_region ? t->db.aws_region : aws_client_region(t->deps.aws);
        char *tok = region ? rds_iam_token(creds, region, t->db.host, (int)t->db.port, t->db.user,
                                           time(NULL))
                           : NULL;
        if (!tok)
            pw_fail(r, PGE_AUTH, "set aws.region on the database or AWS_REGION",
                    "could not make an RDS IAM token: no region");
        else
            r->cb(r->ud, tok, NULL);
        free(tok);
    }
    unref(t);
    free(r);
}

/* the policy, asked again before every use: a record planted in Redis gets no secret */
static bool credential_allowed(const PgTarget *t, char *why, size_t len)
{
    const CredentialRef *cr = &t->db.credentials;
    char want[300], what[400];
    bool ok = true;
    switch (cr->source) {
    case CRED_ENV:
        ok = !t->deps.policy || credpolicy_env_ok(t->deps.policy, cr->env, what, sizeof what);
        break;
    case CRED_SECRETSMANAGER:
        ok = !t->deps.policy ||
             credpolicy_secret_ok(t->deps.policy, cr->secret_id, what, sizeof what);
        break;
    case CRED_PASSWORD:
        snprintf(want, sizeof want, "pgfleet/db/%s", t->db.id);
        ok = cr->secret_id && !strcmp(cr->secret_id, want);
        snprintf(what, sizeof what, "a kept password lives only in %s", want);
        break;
    case CRED_RDS_IAM:
        break;
    }
    if (!ok)
        snprintf(why, len, "the credentials of database %.64s are refused: %.400s", t->db.id, what);
    return ok;
}

static void password_fn(void *provider, bool after_auth_failure, PgPasswordCb cb, void *cb_ud)
{
    PgTarget *t = provider;
    PwReq *r = xcalloc(1, sizeof *r);
    r->t = t;
    r->cb = cb;
    r->ud = cb_ud;
    const CredentialRef *cr = &t->db.credentials;
    char why[600];
    if (!credential_allowed(t, why, sizeof why)) {
        pw_fail(r, PGE_AUTH,
                "register the database again with allowed credentials (see README, Security)", why);
        free(r);
        return;
    }
    switch (cr->source) {
    case CRED_ENV: {
        const char *v = getenv(cr->env);
        if (!v) {
            char msg[300];
            snprintf(msg, sizeof msg, "environment variable %s is not set", cr->env);
            pw_fail(r, PGE_AUTH,
                    "set it in pgfleet's environment, or use another credentials source", msg);
        } else {
            cb(cb_ud, v, NULL);
        }
        free(r);
        return;
    }
    case CRED_PASSWORD:
    case CRED_SECRETSMANAGER:
        if (!t->deps.secrets || !cr->secret_id) {
            pw_fail(r, PGE_AUTH, "configure AWS (see 'pgfleet aws check')",
                    "no Secrets Manager access for this database's password");
            free(r);
            return;
        }
        if (after_auth_failure)
            secrets_invalidate(t->deps.secrets, cr->secret_id);
        t->refs++;
        secrets_get(t->deps.secrets, cr->secret_id, secret_ready, r);
        return;
    case CRED_RDS_IAM:
        if (!t->deps.aws) {
            pw_fail(r, PGE_AUTH, "configure AWS (see 'pgfleet aws check')",
                    "no AWS access for the RDS IAM token");
            free(r);
            return;
        }
        t->refs++;
        awscreds_get(aws_client_creds(t->deps.aws), iam_creds, r);
        return;
    }
}

/* ---- probes ---- */

/* one statement, one round trip: the server's facts and who this session is */
#define PROBE_COLUMNS                                                                              \
    "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "       \
    "pg_is_in_recovery(), (SELECT system_identifier::text FROM pg_control_system()), "             \
    "current_setting('wal_level'), "
static const char probe_sql[] = PROBE_COLUMNS "current_database(), current_user";

static json_t *error_json(const PgError *e)
{
    json_t *o = json_pack("{s:s, s:s}", "kind", pg_err_kind_name(e->kind), "message", e->message);
    json_object_set_new(o, "hint", e->hint[0] ? json_string(e->hint) : json_null());
    json_object_set_new(o, "sqlstate", e->sqlstate[0] ? json_string(e->sqlstate) : json_null());
    return o;
}

typedef struct Probe {
    PgTarget *t;
    uint64_t started_ns;
    PgTestCb cb; /* NULL for the periodic probe */
    void *ud;
    const PgTarget *via; /* the target whose pool it ran on, NULL: its own */
} Probe;

static void schedule(PgTarget *t, uint64_t delay_ms);

static void set_health(PgTarget *t, PgHealth h)
{
    PgHealth old = t->health;
    t->health = h;
    if (old != h) {
        log_event(h == HEALTH_OK ? LOG_INFO : LOG_WARN, NULL,
                  json_pack("{s:s, s:s, s:s}", "database", t->db.id, "from", pg_health_name(old),
                            "to", pg_health_name(h)),
                  "database %s (%s:%lld) is %s", t->db.id, t->db.host, t->db.port,
                  pg_health_name(h));
        if (t->deps.on_health)
            t->deps.on_health(t->deps.ud, t, old, h);
    }
}

static void probed(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)c;
    Probe *p = ud;
    PgTarget *t = p->t;
    if (err && p->via && p->via != t->via && !p->cb && !t->closing) {
        /* the shared connection it ran on went with its target: not this database's fault */
        t->probing = false;
        if (t->polling)
            schedule(t, 100);
        free(p);
        unref(t);
        return;
    }
    double ms = (double)(uv_hrtime() - p->started_ns) / 1e6;
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    json_t *rep =
        json_pack("{s:s, s:s, s:f}", "database_id", t->db.id, "checked_at", now, "latency_ms", ms);
    PgHealth h;
    if (err || n < 1 || PQntuples(res[0]) == 0) {
        PgError fallback = {.kind = PGE_OTHER};
        if (n >= 1)
            snprintf(fallback.message, sizeof fallback.message,
                     "database \"%s\" does not exist on the server or does not allow connections",
                     t->db.dbname);
        else
            snprintf(fallback.message, sizeof fallback.message, "the probe returned no rows");
        json_object_set_new(rep, "ok", json_false());
        json_object_set_new(rep, "error", error_json(err ? err : &fallback));
        json_object_set_new(rep, "server", json_null());
        h = HEALTH_UNREACHABLE;
    } else {
        json_t *server =
            json_pack("{s:s, s:i, s:b, s:s, s:s, s:s, s:s}", "version", PQgetvalue(res[0], 0, 0),
                      "version_num", atoi(PQgetvalue(res[0], 0, 1)), "in_recovery",
                      PQgetvalue(res[0], 0, 2)[0] == 't', "system_identifier",
                      PQgetvalue(res[0], 0, 3), "wal_level", PQgetvalue(res[0], 0, 4), "database",
                      PQgetvalue(res[0], 0, 5), "user", PQgetvalue(res[0], 0, 6));
        json_object_set_new(rep, "ok", json_true());
        json_object_set_new(rep, "error", json_null());
        json_object_set_new(rep, "server", server);
        h = ms > (double)t->deps.degraded_ms ? HEALTH_DEGRADED : HEALTH_OK;
    }
    json_object_set_new(rep, "state", json_string(pg_health_name(h)));
    if (!t->closing && t->polling) {
        json_decref(t->last);
        t->last = json_incref(rep);
        t->health_gen++;
        set_health(t, h);
    }
    if (p->cb) {
        p->cb(p->ud, rep);
    } else if (!t->closing) {
        t->probing = false;
        if (!t->polling)
            ; /* polling stopped while the probe ran */
        else if (h == HEALTH_UNREACHABLE)
            schedule(t, backoff_next(&t->backoff));
        else {
            backoff_reset(&t->backoff);
            schedule(t, (uint64_t)t->deps.health_interval_ms);
        }
    }
    json_decref(rep);
    free(p);
    unref(t);
}

static void run_probe(PgTarget *t, PgTestCb cb, void *ud)
{
    Probe *p = xcalloc(1, sizeof *p);
    p->t = t;
    p->cb = cb;
    p->ud = ud;
    p->started_ns = uv_hrtime();
    t->refs++;
    if (t->via && !cb) { /* the periodic probe, on the server's shared connection */
        p->via = t->via;
        pgpool_query(pgtarget_pool(t->via), t->via_sql, 0, NULL, probed, p);
        return;
    }
    pgpool_query(t->pool, probe_sql, 0, NULL, probed, p);
}

void pgtarget_probe_via(PgTarget *t, PgTarget *via)
{
    if (via == t)
        via = NULL;
    if (t->via == via)
        return;
    t->via = via;
    free(t->via_sql);
    t->via_sql = NULL;
    if (!via)
        return;
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, PROBE_COLUMNS "d.datname::text, current_user FROM pg_catalog.pg_database d "
                                   "WHERE d.datallowconn AND d.datname = ");
    pgquote_literal(&sb, t->db.dbname);
    t->via_sql = strbuf_detach(&sb);
    pgpool_close_idle(t->pool); /* its own connection is not needed for probes any more */
}

static void probe_cb(uv_timer_t *timer)
{
    PgTarget *t = timer->data;
    if (t->closing || t->probing)
        return;
    t->probing = true;
    run_probe(t, NULL, NULL);
}

static void schedule(PgTarget *t, uint64_t delay_ms)
{
    uv_timer_start(&t->probe_timer, probe_cb, delay_ms, 0);
}

void pgtarget_test(PgTarget *t, PgTestCb cb, void *ud)
{
    run_probe(t, cb, ud);
}

/* ---- lifetime ---- */

PgTarget *pgtarget_new(const DatabaseConfig *db, const PgTargetDeps *deps)
{
    PgTarget *t = xcalloc(1, sizeof *t);
    t->deps = *deps;
    json_t *j = database_to_json(db);
    Validation v;
    validation_init(&v);
    if (!database_from_json(&t->db, j, &v)) {
        /* cannot happen for a validated config; keep the copy anyway */
    }
    json_decref(j);
    t->refs = 1;
    PgConnParams cp;
    pgtarget_params(t, "pgfleet", &cp);
    PgPoolOptions po = {.max_size = deps->pool_size, .idle_timeout_ms = 60000};
    t->pool = pgpool_new(deps->loop, &cp, password_fn, t, &po);
    backoff_init(&t->backoff, 250,
                 (uint64_t)(deps->health_interval_ms > 250 ? deps->health_interval_ms : 250));
    uv_timer_init(deps->loop, &t->probe_timer);
    t->probe_timer.data = t;
    t->refs++; /* the timer */
    pgtarget_set_polling(t, !deps->no_polling);
    return t;
}

void pgtarget_set_polling(PgTarget *t, bool on)
{
    if (t->polling == on || t->closing)
        return;
    t->polling = on;
    if (on) {
        backoff_reset(&t->backoff);
        /* spread: many targets turned on at once (a start, a takeover) do not probe together */
        long within = t->last ? t->deps.health_interval_ms : t->deps.first_probe_within_ms;
        schedule(t, within > 0 ? randombytes_uniform((uint32_t)within + 1) : 0);
        return;
    }
    uv_timer_stop(&t->probe_timer);
    pgpool_close_idle(t->pool);
    json_decref(t->last);
    t->last = NULL;
    t->health_gen++;
    t->health = HEALTH_UNKNOWN;
}

uint64_t pgtarget_health_gen(const PgTarget *t)
{
    return t->health_gen;
}

bool pgtarget_polling(const PgTarget *t)
{
    return t->polling;
}

void pgtarget_free(PgTarget *t)
{
    if (!t)
        return;
    t->closing = true;
    uvtimer_close(&t->probe_timer, unref);
    pgpool_free(t->pool); /* a probe in flight ends with PGE_CLOSED */
    t->pool = NULL;
    unref(t);
}

const DatabaseConfig *pgtarget_config(const PgTarget *t)
{
    return &t->db;
}

PgPool *pgtarget_pool(PgTarget *t)
{
    return t->pool;
}

PgHealth pgtarget_health(const PgTarget *t)
{
    return t->health;
}

json_t *pgtarget_health_json(const PgTarget *t)
{
    if (!t->last)
        return json_pack("{s:s, s:n, s:n, s:n, s:n}", "state", pg_health_name(t->health),
                         "checked_at", "latency_ms", "error", "server");
    json_t *o = json_deep_copy(t->last);
    json_object_del(o, "database_id");
    json_object_del(o, "ok");
    return o;
}

void pgtarget_password(PgTarget *t, PgPasswordCb cb, void *ud)
{
    password_fn(t, false, cb, ud);
}

void pgtarget_params(const PgTarget *t, const char *application_name, PgConnParams *out)
{
    *out = (PgConnParams){.host = t->db.host,
                          .port = (int)t->db.port,
                          .dbname = t->db.dbname,
                          .user = t->db.user,
                          .sslmode = sslmode_names[t->db.sslmode],
                          .sslrootcert = t->deps.ca_file,
                          .application_name = application_name,
                          .connect_timeout_ms = t->deps.connect_timeout_ms,
                          .statement_timeout_ms = t->deps.statement_timeout_ms};
}

/* ---- dedicated sessions ---- */

typedef struct Open {
    uv_loop_t *loop;
    PgConnParams p; /* owned */
    PgConnectCb cb;
    void *ud;
} Open;

static void open_done(Open *o)
{
    pgconn_params_clear(&o->p);
    free(o);
}

static void opened(void *ud, PgConn *c, const PgError *err)
{
    Open *o = ud;
    o->cb(o->ud, err ? NULL : c, err);
    open_done(o);
}

static void open_password(void *ud, const char *password, const PgError *err)
{
    Open *o = ud;
    if (err) {
        o->cb(o->ud, NULL, err);
        open_done(o);
        return;
    }
    pgconn_params_set_password(&o->p, password);
    pgconn_connect(o->loop, &o->p, opened, o);
}

void pgtarget_open(PgTarget *t, const char *application_name, PgConnectCb cb, void *ud)
{
    Open *o = xcalloc(1, sizeof *o);
    o->loop = t->deps.loop;
    o->cb = cb;
    o->ud = ud;
    PgConnParams p;
    pgtarget_params(t, application_name, &p);
    pgconn_params_copy(&o->p, &p);
    pgtarget_password(t, open_password, o);
}
