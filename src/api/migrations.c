/*
 * migrations: POST /api/migrations/execute runs a migration across registered
 * databases in the background; progress goes to WebSocket topic
 * migration:<id>, the record (MigrationExecution-shaped report, updated on
 * every step) to Redis hash <prefix>migrations. A record still "running"
 * when a daemon starts belonged to one that died: it is marked "interrupted"
 * (each target's own history table says what it has).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "auth/rbac.h"
#include "common/xalloc.h"
#include "migrate/migrate.h"
#include "model/database.h"
#include "pg/target.h"

#define MIG_HASH    "migrations"
#define MAX_TARGETS 256

typedef struct Run {
    ApiContext *ctx;
    Migrate *m;
    char id[40];
    char *name, *sql;
    MigrateOptions o;
    MigrateTarget *targets;
    char **strs; /* owned strings the targets point into */
    size_t nstrs;
    int n, waiting;
    bool failed_pw;
    char pw_error[600];
    json_t *record;
    struct Run *next;
} Run;

static Run *runs; /* running in this process */

static void saved(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_warn("a migration record was not saved: %s", errmsg);
}

static void save(Run *r)
{
    if (!r->record)
        return; /* a start-up recovery keeps no record */
    char *s = json_dumps(r->record, JSON_COMPACT);
    if (store_hset(r->ctx->store, MIG_HASH, r->id, s, strlen(s), saved, NULL) != PGF_OK)
        log_warn("migration %s: the record could not be saved (store down)", r->id);
    free(s);
}

static char *own(Run *r, const char *s)
{
    r->strs = xrealloc(r->strs, (r->nstrs + 1) * sizeof *r->strs);
    return r->strs[r->nstrs++] = xstrdup(s ? s : "");
}

static void free_run(Run *r)
{
    for (Run **pp = &runs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    for (size_t i = 0; i < r->nstrs; i++)
        free(r->strs[i]);
    free(r->strs);
    free(r->targets);
    free(r->name);
    free(r->sql);
    json_decref(r->record);
    free(r);
}

static void on_event(void *ud, const json_t *e)
{
    Run *r = ud;
    char topic[64];
    snprintf(topic, sizeof topic, "migration:%s", r->id);
    wshub_publish(r->ctx->hub, topic, json_deep_copy(e));
    /* the per-target line of the record follows the events */
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r->record, "targets"), i, t)
    {
        if (strcmp(jsonutil_str(t, "target"), jsonutil_str(e, "target")) != 0)
            continue;
        const char *ev = jsonutil_str(e, "event");
        if (!strcmp(ev, "statement"))
            json_object_set(t, "statements_done", json_object_get(e, "k"));
        else
            json_object_set_new(t, "status", json_string(!strcmp(ev, "started") ? "running" : ev));
    }
    save(r);
}

static void on_done(void *ud, const json_t *report)
{
    Run *r = ud;
    if (r->o.recover_only) {
        size_t i;
        const json_t *x;
        json_array_foreach(json_object_get(report, "recovered"), i, x)
            log_warn("start-up: prepared transaction %s on %s left by an interrupted atomic "
                     "migration: %s",
                     jsonutil_str(x, "gid"), jsonutil_str(x, "target"),
                     jsonutil_str(x, "error") ? jsonutil_str(x, "error")
                     : !strcmp(jsonutil_str(x, "action"), "commit")
                         ? "committed (another target of that run had committed)"
                         : "rolled back (no target of that run had committed)");
        r->m = NULL;
        free_run(r);
        return;
    }
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    json_t *rec = json_deep_copy(report);
    json_object_set(rec, "started_at", json_object_get(r->record, "started_at"));
    json_object_set(rec, "applied_by", json_object_get(r->record, "applied_by"));
    json_object_set_new(rec, "finished_at", json_string(now));
    json_decref(r->record);
    r->record = rec;
    save(r);
    char topic[64];
    snprintf(topic, sizeof topic, "migration:%s", r->id);
    wshub_publish(
        r->ctx->hub, topic,
        json_pack("{s:s, s:s, s:O}", "execution_id", r->id, "event", "finished", "report", rec));
    log_info("migration %s (%s): %s", r->id, r->name, jsonutil_str(rec, "status"));
    r->m = NULL;
    free_run(r);
}

static void begin(Run *r)
{
    if (r->failed_pw && r->o.recover_only) {
        log_warn("start-up: prepared transactions not checked: %s", r->pw_error);
        free_run(r);
        return;
    }
    if (r->failed_pw) {
        json_object_set_new(r->record, "status", json_string("failed"));
        json_object_set_new(r->record, "error", json_string(r->pw_error));
        save(r);
        free_run(r);
        return;
    }
    char err[600];
    r->m =
        migrate_start(r->ctx->loop, &r->o, r->targets, r->n, on_event, on_done, r, err, sizeof err);
    if (!r->m) { /* checked before; only a race could get here */
        json_object_set_new(r->record, "status", json_string("failed"));
        json_object_set_new(r->record, "error", json_string(err));
        save(r);
        free_run(r);
    }
}

typedef struct PwWait {
    Run *r;
    int idx;
} PwWait;

static void got_password(void *ud, const char *password, const PgError *err)
{
    PwWait *w = ud;
    Run *r = w->r;
    if (err) {
        r->failed_pw = true;
        snprintf(r->pw_error, sizeof r->pw_error, "no password for %s: %s",
                 r->targets[w->idx].label, err->message);
    } else
        r->targets[w->idx].params.password = own(r, password);
    free(w);
    if (--r->waiting == 0)
        begin(r);
}

/* the run's target i: the registered database's connection, strings owned by the run */
static void set_target(Run *r, int i, const DatabaseConfig *db)
{
    ApiContext *ctx = r->ctx;
    r->targets[i].label = own(r, db->id);
    r->targets[i].params = (PgConnParams){.host = own(r, db->host),
                                          .port = (int)db->port,
                                          .dbname = own(r, db->dbname),
                                          .user = own(r, db->user),
                                          .sslmode = sslmode_names[db->sslmode],
                                          .sslrootcert = config_get(ctx->cfg, CFG_PG_CA_FILE),
                                          .connect_timeout_ms = ctx->cfg->pg_connect_timeout_ms};
}

/* registers the run, asks every target's credential source; begin() once all answered */
static void fetch_passwords(Run *r)
{
    r->next = runs;
    runs = r;
    r->waiting = r->n + 1;
    for (int k = 0; k < r->n; k++) {
        PwWait *w = xmalloc(sizeof *w);
        w->r = r;
        w->idx = k;
        pgtarget_password(databases_find(r->ctx->dbs, r->targets[k].label), got_password, w);
    }
}

static bool opt_bool(const json_t *body, const char *key)
{
    return json_is_true(json_object_get(body, key));
}

void api_migrations_execute(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    const char *name = jsonutil_str(body, "name"), *sql = jsonutil_str(body, "sql");
    const json_t *ids = json_object_get(body, "database_ids");
    Validation v;
    validation_init(&v);
    if (!name || !*name)
        validation_add(&v, NULL, "name", "required", "is required");
    if (!sql || !*sql)
        validation_add(&v, NULL, "sql", "required", "is required: the migration script");
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > MAX_TARGETS)
        validation_add(&v, NULL, "database_ids", "required",
                       "is required: 1 to 256 registered database ids");
    size_t i;
    const json_t *x;
    json_array_foreach(ids, i,
                       x) if (!json_is_string(x) || !databases_find(ctx->dbs, json_string_value(x)))
    {
        validation_add(&v, "database_ids", json_is_string(x) ? json_string_value(x) : "?",
                       "not_found", "'%s' is not a registered database",
                       json_is_string(x) ? json_string_value(x) : "?");
    }
    if (!validation_ok(&v)) {
        api_respond_validation(req, &v);
        json_decref(body);
        return;
    }
    if (store_state(ctx->store) != STORE_READY) {
        json_decref(body);
        http_respond_error(req, PGF_ERR_STORE_DOWN, "check PGFLEET_REDIS_URL and that Redis is up",
                           "the state store is not available: the run could not be recorded");
        return;
    }
    Run *r = xcalloc(1, sizeof *r);
    r->ctx = ctx;
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(r->id, sizeof r->id, "mig-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    r->name = xstrdup(name);
    r->sql = xstrdup(sql);
    r->o = (MigrateOptions){
        .execution_id = r->id,
        .name = r->name,
        .sql = r->sql,
        .sql_len = strlen(r->sql),
        .dry_run = opt_bool(body, "dry_run"),
        .atomic = opt_bool(body, "atomic"),
        .continue_on_error = opt_bool(body, "continue_on_error"),
        .non_transactional = opt_bool(body, "non_transactional"),
        .parallel = (int)json_integer_value(json_object_get(body, "parallel")),
        .lock_timeout_ms = (long)json_integer_value(json_object_get(body, "lock_timeout_ms")),
        .statement_timeout_ms =
            (long)json_integer_value(json_object_get(body, "statement_timeout_ms"))};
    char applied_by[200];
    snprintf(applied_by, sizeof applied_by, "%s (api, %s)", role_name(req->role),
             req->auth_method ? req->auth_method : "none");
    r->o.applied_by = own(r, applied_by);
    r->n = (int)json_array_size(ids);
    char err[600];
    if (!migrate_check(&r->o, r->n, err, sizeof err)) {
        json_decref(body);
        free_run(r);
        http_respond_error(req, PGF_ERR_VALIDATION, "fix the script or the options", "%s", err);
        return;
    }

    r->targets = xcalloc((size_t)r->n, sizeof *r->targets);
    json_t *tlist = json_array();
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    json_array_foreach(ids, i, x)
    {
        const DatabaseConfig *db = pgtarget_config(databases_find(ctx->dbs, json_string_value(x)));
        set_target(r, (int)i, db);
        json_array_append_new(tlist, json_pack("{s:s, s:s, s:i}", "target", db->id, "status",
                                               "pending", "statements_done", 0));
    }
    r->record =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "execution_id", r->id, "name",
                  r->name, "status", "running", "started_at", now, "applied_by", r->o.applied_by,
                  "dry_run", r->o.dry_run, "atomic", r->o.atomic, "targets", tlist);
    save(r);
    fetch_passwords(r);
    json_decref(body);
    char topic[64];
    snprintf(topic, sizeof topic, "migration:%s", r->id);
    http_respond_json(
        req, 202,
        json_pack("{s:s, s:s, s:s}", "execution_id", r->id, "status", "running", "topic", topic));
    if (--r->waiting == 0)
        begin(r);
}

/* ---- reading ---- */

typedef struct Read {
    HttpRequest *req;
    char id[64];
} Read;

static void listed(void *ud, PgfError err, const char *errmsg, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
    (void)fields;
    Read *q = ud;
    if (err != PGF_OK) {
        http_respond_error(q->req, err, "check PGFLEET_REDIS_URL and that Redis is up",
                           "could not read migrations: %s", errmsg);
    } else if (q->id[0]) {
        json_t *found = NULL;
        for (size_t i = 0; i < n && !found; i++)
            if (!strcmp(fields[i], q->id))
                found = json_loadb(values[i], lens[i], 0, NULL);
        if (found)
            http_respond_json(q->req, 200, found);
        else
            http_respond_error(q->req, PGF_ERR_NOT_FOUND, "list them: GET /api/migrations",
                               "no migration execution '%s'", q->id);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_loadb(values[i], lens[i], 0, NULL);
            if (m)
                json_array_append_new(arr, m);
        }
        /* newest first */
        size_t cnt = json_array_size(arr);
        for (size_t a = 1; a < cnt; a++)
            for (size_t b = a; b > 0; b--) {
                const char *x = jsonutil_str(json_array_get(arr, b - 1), "started_at"),
                           *y = jsonutil_str(json_array_get(arr, b), "started_at");
                if (x && y && strcmp(x, y) < 0) {
                    json_t *t = json_incref(json_array_get(arr, b));
                    json_array_set(arr, b, json_array_get(arr, b - 1));
                    json_array_set_new(arr, b - 1, t);
                } else
                    break;
            }
        http_respond_json(q->req, 200,
                          json_pack("{s:I, s:o}", "count", (json_int_t)cnt, "migrations", arr));
    }
    http_request_release(q->req);
    free(q);
}

static void read_all(HttpRequest *req, ApiContext *ctx, const char *id)
{
    Read *q = xcalloc(1, sizeof *q);
    q->req = req;
    if (id)
        snprintf(q->id, sizeof q->id, "%s", id);
    if (store_hgetall(ctx->store, MIG_HASH, listed, q) != PGF_OK) {
        free(q);
        http_respond_error(req, PGF_ERR_STORE_DOWN, "check PGFLEET_REDIS_URL and that Redis is up",
                           "the state store is not available");
        return;
    }
    http_request_hold(req);
}

void api_migrations_list(HttpRequest *req, void *app)
{
    read_all(req, app, NULL);
}

void api_migrations_get(HttpRequest *req, void *app)
{
    read_all(req, app, http_param(req, "id"));
}

void api_migrations_cancel(HttpRequest *req, void *app)
{
    (void)app;
    const char *id = http_param(req, "id");
    for (Run *r = runs; r; r = r->next) {
        if (strcmp(r->id, id) != 0)
            continue;
        if (r->m)
            migrate_cancel(r->m);
        http_respond_json(req, 202,
                          json_pack("{s:s, s:s}", "execution_id", r->id, "status", "cancelling"));
        return;
    }
    http_respond_error(req, PGF_ERR_CONFLICT,
                       "only a run in progress in this server can be cancelled; see GET "
                       "/api/migrations/{id}",
                       "migration '%s' is not running here", id);
}

/* ---- start-up: runs a dead daemon left "running" ---- */

static void marked(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_warn("could not mark a migration interrupted: %s", errmsg);
}

static void recovered(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *fields, const char *const *values, const size_t *lens)
{
    ApiContext *ctx = ud;
    if (err != PGF_OK) {
        log_warn("could not read migrations at start: %s", errmsg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool mine = false;
        for (Run *r = runs; r; r = r->next)
            mine |= !strcmp(r->id, fields[i]);
        json_t *m = json_loadb(values[i], lens[i], 0, NULL);
        const char *st = jsonutil_str(m, "status");
        if (!mine && st && !strcmp(st, "running")) {
            json_object_set_new(m, "status", json_string("interrupted"));
            json_object_set_new(
                m, "error",
                json_string("the pgfleet server running it stopped before it finished; each "
                            "target's pgfleet.migration_history says what it has (a target's "
                            "transaction either committed with its history row or not at all)"));
            size_t k;
            json_t *t;
            json_array_foreach(json_object_get(m, "targets"), k, t)
            {
                const char *ts = jsonutil_str(t, "status");
                if (ts && (!strcmp(ts, "running") || !strcmp(ts, "pending")))
                    json_object_set_new(t, "status", json_string("unknown"));
            }
            char *s = json_dumps(m, JSON_COMPACT);
            if (store_hset(ctx->store, MIG_HASH, fields[i], s, strlen(s), marked, NULL) == PGF_OK)
                log_warn("migration %s was interrupted (its server stopped mid-run)", fields[i]);
            free(s);
        }
        json_decref(m);
    }
}

void migrations_on_store_ready(ApiContext *ctx)
{
    static bool done;
    if (done)
        return;
    if (store_hgetall(ctx->store, MIG_HASH, recovered, ctx) == PGF_OK)
        done = true;
}

/* ---- start-up: prepared transactions an interrupted atomic run left behind ---- */

void migrations_recover_prepared(ApiContext *ctx)
{
    json_t *ids = databases_ids(ctx->dbs);
    if (!json_array_size(ids)) {
        json_decref(ids);
        return;
    }
    Run *r = xcalloc(1, sizeof *r);
    r->ctx = ctx;
    snprintf(r->id, sizeof r->id, "startup-recovery");
    r->name = xstrdup("startup-recovery");
    r->sql = xstrdup("");
    r->o = (MigrateOptions){.execution_id = r->id,
                            .name = r->name,
                            .sql = r->sql,
                            .recover_only = true,
                            .applied_by = "pgfleet"};
    r->n = (int)json_array_size(ids);
    r->targets = xcalloc((size_t)r->n, sizeof *r->targets);
    size_t i;
    const json_t *x;
    json_array_foreach(ids, i, x)
    {
        const DatabaseConfig *db = pgtarget_config(databases_find(ctx->dbs, json_string_value(x)));
        set_target(r, (int)i, db);
    }
    json_decref(ids);
    fetch_passwords(r);
    if (--r->waiting == 0)
        begin(r);
}
