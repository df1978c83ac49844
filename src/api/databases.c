/*
 * databases: the database configuration API and the live registry of targets.
 *
 * Records live in Redis (hash <prefix>databases: id -> DatabaseConfig JSON,
 * never a password). A password given at registration is put in Secrets
 * Manager as pgfleet/db/<id> (RDS secret format) and only its secret id is
 * kept. The registry holds one PgTarget per record (pool + health probes);
 * it is loaded from Redis when the store first becomes ready, and every
 * write goes to Redis first, then to the registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "aws/secrets.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "model/database.h"
#include "pg/target.h"
#include "replication/logsource.h"

#define DB_HASH "databases"

typedef struct Entry {
    PgTarget *t;
    LogSource *file_logs; /* logs.file */
    LogSource *rds_logs;  /* logs.rds */
    struct Entry *next;
} Entry;

struct DbRegistry {
    ApiContext *ctx;
    Entry *entries;
    size_t n;
    bool loaded;
    bool loading;
};

/* ---- registry ---- */

static Entry *find(DbRegistry *r, const char *id)
{
    for (Entry *e = r->entries; e; e = e->next)
        if (strcmp(pgtarget_config(e->t)->id, id) == 0)
            return e;
    return NULL;
}

static void on_health(void *ud, PgTarget *t, PgHealth old_state, PgHealth new_state)
{
    DbRegistry *r = ud;
    const DatabaseConfig *db = pgtarget_config(t);
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "component", "database",
                             "database_id", db->id, "name", db->name, "from",
                             pg_health_name(old_state), "state", pg_health_name(new_state), "port",
                             (json_int_t)db->port, "health", pgtarget_health_json(t));
    wshub_publish(r->ctx->hub, "health", json_incref(data));
    char topic[128];
    snprintf(topic, sizeof topic, "database:%s", db->id);
    wshub_publish(r->ctx->hub, topic, data);
}

static PgTarget *start_target(DbRegistry *r, const DatabaseConfig *db)
{
    const Config *cfg = r->ctx->cfg;
    PgTargetDeps deps = {.loop = r->ctx->loop,
                         .aws = r->ctx->aws,
                         .secrets = r->ctx->secrets,
                         .ca_file = config_get(cfg, CFG_PG_CA_FILE),
                         .health_interval_ms = cfg->health_interval_seconds * 1000,
                         .degraded_ms = cfg->health_degraded_ms,
                         .connect_timeout_ms = cfg->pg_connect_timeout_ms,
                         .statement_timeout_ms = cfg->pg_statement_timeout_ms,
                         .pool_size = (int)cfg->pg_pool_size,
                         .on_health = on_health,
                         .ud = r};
    return pgtarget_new(db, &deps);
}

static void log_event_cb(void *ud, json_t *event)
{
    events_add(ud, event);
}

/* the database's log sources, replaced whenever its configuration is */
static void start_logs(DbRegistry *r, Entry *e, const DatabaseConfig *db)
{
    logsource_free(e->file_logs);
    logsource_free(e->rds_logs);
    e->file_logs = e->rds_logs = NULL;
    char node[300];
    snprintf(node, sizeof node, "%s:%lld", db->host, db->port);
    LogSourceOptions o = {.loop = r->ctx->loop,
                          .node = node,
                          .database_id = db->id,
                          .format = (LogFormatKind)db->log_format,
                          .cb = log_event_cb,
                          .ud = r->ctx};
    if (db->log_file) {
        o.path = db->log_file;
        o.poll_ms = r->ctx->cfg->log_poll_ms;
        e->file_logs = logsource_new(&o);
    }
    if (db->log_rds) {
        o.path = NULL;
        o.aws = r->ctx->aws;
        o.rds_instance_id = db->aws_rds_instance_id;
        o.format = LOGF_STDERR;
        o.poll_ms = r->ctx->cfg->rds_log_poll_ms;
        e->rds_logs = logsource_new(&o);
    }
}

static void stop_entry(Entry *e)
{
    logsource_free(e->file_logs);
    logsource_free(e->rds_logs);
    pgtarget_free(e->t);
}

static void registry_put(DbRegistry *r, const DatabaseConfig *db)
{
    Entry *e = find(r, db->id);
    if (e) {
        pgtarget_free(e->t);
        e->t = start_target(r, db);
        start_logs(r, e, db);
        return;
    }
    e = xcalloc(1, sizeof *e);
    e->t = start_target(r, db);
    start_logs(r, e, db);
    e->next = r->entries;
    r->entries = e;
    r->n++;
}

static void registry_remove(DbRegistry *r, const char *id)
{
    for (Entry **pp = &r->entries; *pp; pp = &(*pp)->next) {
        if (strcmp(pgtarget_config((*pp)->t)->id, id) == 0) {
            Entry *e = *pp;
            *pp = e->next;
            stop_entry(e);
            free(e);
            r->n--;
            return;
        }
    }
}

DbRegistry *databases_new(ApiContext *ctx)
{
    DbRegistry *r = xcalloc(1, sizeof *r);
    r->ctx = ctx;
    return r;
}

void databases_free(DbRegistry *r)
{
    if (!r)
        return;
    Entry *e = r->entries;
    while (e) {
        Entry *next = e->next;
        stop_entry(e);
        free(e);
        e = next;
    }
    free(r);
}

static void loaded(void *ud, PgfError err, const char *errmsg, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
    DbRegistry *r = ud;
    r->loading = false;
    if (err != PGF_OK) {
        log_warn("could not load the database registry from redis: %s", errmsg ? errmsg : "");
        return;
    }
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        char perr[128];
        json_t *j = jsonutil_parse(values[i], lens[i], perr, sizeof perr);
        Validation v;
        validation_init(&v);
        DatabaseConfig db;
        if (j && database_from_json(&db, j, &v)) {
            registry_put(r, &db);
            ok++;
        } else {
            char first[256];
            log_warn("skipping stored database %s: %s", fields[i],
                     j ? validation_first_message(&v, first, sizeof first) : perr);
        }
        database_free(&db);
        json_decref(j);
    }
    r->loaded = true;
    log_info("database registry loaded: %zu databases", ok);
    migrations_recover_prepared(r->ctx);
}

void databases_on_store_ready(ApiContext *ctx)
{
    DbRegistry *r = ctx->dbs;
    if (!r || r->loaded || r->loading)
        return;
    if (store_hgetall(ctx->store, DB_HASH, loaded, r) == PGF_OK)
        r->loading = true;
}

/* ---- helpers ---- */

static bool registry_ready(HttpRequest *req, ApiContext *ctx)
{
    if (ctx->dbs->loaded)
        return true;
    databases_on_store_ready(ctx);
    http_respond_error(req, PGF_ERR_STORE_DOWN,
                       "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by itself",
                       "the database registry is not loaded: redis is %s",
                       store_state_name(store_state(ctx->store)));
    return false;
}

static json_t *entry_json(PgTarget *t)
{
    json_t *o = database_to_json(pgtarget_config(t));
    json_object_set_new(o, "health", pgtarget_health_json(t));
    return o;
}

/* ---- GET /api/databases, GET /api/databases/{id} ---- */

void api_databases_list(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!registry_ready(req, ctx))
        return;
    json_t *arr = json_array();
    for (Entry *e = ctx->dbs->entries; e; e = e->next)
        json_array_append_new(arr, entry_json(e->t));
    http_respond_json(req, 200,
                      json_pack("{s:o, s:I}", "databases", arr, "count", (json_int_t)ctx->dbs->n));
}

void api_databases_get(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!registry_ready(req, ctx))
        return;
    Entry *e = find(ctx->dbs, http_param(req, "id"));
    if (!e) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, "GET /api/databases lists them",
                           "no database with id '%s'", http_param(req, "id"));
        return;
    }
    http_respond_json(req, 200, entry_json(e->t));
}

/* ---- POST /api/databases, PUT /api/databases/{id} ---- */

typedef struct Write {
    HttpRequest *req;
    ApiContext *ctx;
    DatabaseConfig db;
    bool created;
    char *password; /* to put in Secrets Manager, then dropped */
} Write;

static void write_free(Write *w)
{
    database_free(&w->db);
    if (w->password) {
        memset(w->password, 0, strlen(w->password));
        free(w->password);
    }
    free(w);
}

static void saved(void *ud, PgfError err, const char *errmsg)
{
    Write *w = ud;
    if (err != PGF_OK) {
        http_respond_error(w->req, err, "check Redis; nothing was registered",
                           "could not save database %s: %s", w->db.id, errmsg ? errmsg : "");
    } else if (!w->ctx->dbs) {
        http_respond_error(w->req, PGF_ERR_SHUTTING_DOWN, NULL, "pgfleet is shutting down");
    } else {
        registry_put(w->ctx->dbs, &w->db);
        Entry *e = find(w->ctx->dbs, w->db.id);
        log_info("database %s %s (%s:%lld/%s)", w->db.id, w->created ? "registered" : "updated",
                 w->db.host, w->db.port, w->db.dbname);
        http_respond_json(w->req, w->created ? 201 : 200, entry_json(e->t));
    }
    http_request_release(w->req);
    write_free(w);
}

static void save(Write *w)
{
    json_t *j = database_to_json(&w->db);
    char *s = jsonutil_dumps(j);
    json_decref(j);
    PgfError rc = store_hset(w->ctx->store, DB_HASH, w->db.id, s, strlen(s), saved, w);
    free(s);
    if (rc != PGF_OK)
        saved(w, rc, "redis is unavailable");
}

static void secret_written(void *ud, const json_t *result, const AwsResult *r)
{
    Write *w = ud;
    (void)result;
    if (!r->ok && r->code && strcmp(r->code, "ResourceExistsException") == 0) {
        /* a managed secret from before: give it the new value */
        secrets_put(w->ctx->aws, w->db.credentials.secret_id, w->password, secret_written, w);
        return;
    }
    if (!r->ok) {
        http_respond_error_extra(
            w->req, PGF_ERR_AWS,
            json_pack("{s:s, s:s}", "aws_code", r->code ? r->code : "", "aws_message",
                      r->message ? r->message : ""),
            "pgfleet keeps passwords in Secrets Manager, never in Redis: fix AWS access "
            "('pgfleet aws check'), or register with credentials source secretsmanager, env or "
            "rds_iam",
            "could not store the password of %s in Secrets Manager: %s", w->db.id,
            r->message ? r->message : "");
        http_request_release(w->req);
        write_free(w);
        return;
    }
    if (w->ctx->secrets)
        secrets_invalidate(w->ctx->secrets, w->db.credentials.secret_id);
    save(w);
}

static void store_password(Write *w)
{
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "username", w->db.user, "password",
                          w->password, "engine", "postgres", "host", w->db.host, "port",
                          (json_int_t)w->db.port, "dbname", w->db.dbname);
    char *value = jsonutil_dumps(v);
    json_decref(v);
    secrets_create(w->ctx->aws, w->db.credentials.secret_id, value, secret_written, w);
    memset(value, 0, strlen(value));
    free(value);
}

static void write_database(HttpRequest *req, ApiContext *ctx, bool create)
{
    if (!registry_ready(req, ctx))
        return;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    const char *path_id = create ? NULL : http_param(req, "id");
    Entry *old = path_id ? find(ctx->dbs, path_id) : NULL;
    if (!create && !old) {
        json_decref(body);
        http_respond_error(req, PGF_ERR_NOT_FOUND, "POST /api/databases registers a new one",
                           "no database with id '%s'", path_id);
        return;
    }
    if (!create) {
        const char *bid = jsonutil_str(body, "id");
        if (bid && strcmp(bid, path_id) != 0) {
            json_decref(body);
            Validation v;
            validation_init(&v);
            validation_add(&v, NULL, "id", "distinct", "must match the id in the path (%s)",
                           path_id);
            api_respond_validation(req, &v);
            return;
        }
        json_object_set_new(body, "id", json_string(path_id));
        /* the registration time stays */
        json_object_set_new(body, "created_at", json_string(pgtarget_config(old->t)->created_at));
        json_object_del(body, "updated_at");
    }
    Validation v;
    validation_init(&v);
    Write *w = xcalloc(1, sizeof *w);
    w->req = req;
    w->ctx = ctx;
    w->created = create;
    /* a user sets the password, never the fields pgfleet manages */
    json_t *cred = json_object_get(body, "credentials");
    if (json_is_object(cred) &&
        (json_object_get(cred, "password_set") || json_object_get(cred, "secret_id")) &&
        json_is_string(json_object_get(cred, "source")) &&
        strcmp(json_string_value(json_object_get(cred, "source")), "password") == 0) {
        validation_add(&v, "credentials",
                       json_object_get(cred, "password_set") ? "password_set" : "secret_id",
                       "unknown_field", "is set by pgfleet; send \"password\"");
    } else if (!create && json_is_object(cred) && !json_object_get(cred, "password") &&
               pgtarget_config(old->t)->credentials.source == CRED_PASSWORD) {
        /* an update that leaves the password out keeps the stored one */
        json_object_set_new(cred, "password_set", json_true());
    }
    bool ok = database_from_json(&w->db, body, &v) && validation_ok(&v);
    json_decref(body);
    if (ok && strcmp(w->db.id, "test") == 0) {
        validation_add(&v, NULL, "id", "reserved", "'test' is reserved (GET /api/databases/test)");
        ok = false;
    }
    if (ok && create && find(ctx->dbs, w->db.id)) {
        http_respond_error(req, PGF_ERR_CONFLICT, "PUT /api/databases/{id} changes it",
                           "database '%s' is already registered", w->db.id);
        write_free(w);
        return;
    }
    if (!ok) {
        api_respond_validation(req, &v);
        write_free(w);
        return;
    }
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    free(w->db.updated_at);
    w->db.updated_at = xstrdup(now);
    CredentialRef *cr = &w->db.credentials;
    const DatabaseConfig *prev = old ? pgtarget_config(old->t) : NULL;
    if (cr->source == CRED_PASSWORD && !cr->password &&
        (!prev || prev->credentials.source != CRED_PASSWORD)) {
        validation_add(&v, "credentials", "password", "required", "is required");
        api_respond_validation(req, &v);
        write_free(w);
        return;
    }
    http_request_hold(req);
    if (cr->source == CRED_PASSWORD) {
        free(cr->secret_id);
        cr->secret_id = xasprintf("pgfleet/db/%s", w->db.id);
        if (cr->password) {
            w->password = cr->password;
            cr->password = NULL;
            cr->password_set = true;
            if (!ctx->aws) {
                secret_written(w, NULL,
                               &(AwsResult){.code = "config", .message = "AWS is not configured"});
                return;
            }
            store_password(w);
            return;
        }
        cr->password_set = true; /* keeps the stored password */
    }
    save(w);
}

void api_databases_create(HttpRequest *req, void *app)
{
    write_database(req, app, true);
}

void api_databases_update(HttpRequest *req, void *app)
{
    write_database(req, app, false);
}

/* ---- DELETE /api/databases/{id} ---- */

typedef struct Del {
    HttpRequest *req;
    ApiContext *ctx;
    char *id;
    char *managed_secret;
} Del;

static void secret_deleted(void *ud, const json_t *result, const AwsResult *r)
{
    (void)result;
    Del *d = ud;
    if (!r->ok)
        log_warn("database %s removed, but its password secret %s could not be deleted: %s", d->id,
                 d->managed_secret, r->message ? r->message : "");
    free(d->managed_secret);
    free(d->id);
    free(d);
}

static void deleted(void *ud, PgfError err, const char *errmsg)
{
    Del *d = ud;
    if (err != PGF_OK && err != PGF_ERR_NOT_FOUND) {
        http_respond_error(d->req, err, NULL, "could not remove database %s: %s", d->id,
                           errmsg ? errmsg : "");
    } else {
        if (d->ctx->dbs)
            registry_remove(d->ctx->dbs, d->id);
        log_info("database %s removed", d->id);
        http_respond_json(d->req, 200, json_pack("{s:s}", "deleted", d->id));
    }
    http_request_release(d->req);
    if (err == PGF_OK && d->managed_secret && d->ctx->aws) {
        secrets_delete(d->ctx->aws, d->managed_secret, secret_deleted, d);
        return;
    }
    free(d->managed_secret);
    free(d->id);
    free(d);
}

void api_databases_delete(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!registry_ready(req, ctx))
        return;
    const char *id = http_param(req, "id");
    Entry *e = find(ctx->dbs, id);
    if (!e) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, NULL, "no database with id '%s'", id);
        return;
    }
    const DatabaseConfig *db = pgtarget_config(e->t);
    Del *d = xcalloc(1, sizeof *d);
    d->req = req;
    d->ctx = ctx;
    d->id = xstrdup(id);
    if (db->credentials.source == CRED_PASSWORD && db->credentials.secret_id)
        d->managed_secret = xstrdup(db->credentials.secret_id);
    http_request_hold(req);
    if (store_hdel(ctx->store, DB_HASH, id, deleted, d) != PGF_OK)
        deleted(d, PGF_ERR_STORE_DOWN, "redis is unavailable");
}

/* ---- POST /api/databases/{id}/test, GET /api/databases/test ---- */

static void tested_one(void *ud, const json_t *report)
{
    HttpRequest *req = ud;
    http_respond_json(req, 200, json_deep_copy(report));
    http_request_release(req);
}

void api_databases_test_one(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!registry_ready(req, ctx))
        return;
    Entry *e = find(ctx->dbs, http_param(req, "id"));
    if (!e) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, NULL, "no database with id '%s'",
                           http_param(req, "id"));
        return;
    }
    http_request_hold(req);
    pgtarget_test(e->t, tested_one, req);
}

typedef struct TestAll {
    HttpRequest *req;
    json_t *results;
    size_t pending;
    bool all_ok;
} TestAll;

static void tested_all(void *ud, const json_t *report)
{
    TestAll *t = ud;
    json_array_append(t->results, (json_t *)(uintptr_t)report);
    t->all_ok = t->all_ok && json_is_true(json_object_get(report, "ok"));
    if (--t->pending > 0)
        return;
    http_respond_json(t->req, 200,
                      json_pack("{s:b, s:I, s:o}", "ok", t->all_ok, "count",
                                (json_int_t)json_array_size(t->results), "results", t->results));
    http_request_release(t->req);
    free(t);
}

void api_databases_test_all(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    if (!registry_ready(req, ctx))
        return;
    if (ctx->dbs->n == 0) {
        http_respond_json(req, 200, json_pack("{s:b, s:i, s:[]}", "ok", 1, "count", 0, "results"));
        return;
    }
    TestAll *t = xcalloc(1, sizeof *t);
    t->req = req;
    t->results = json_array();
    t->pending = ctx->dbs->n;
    t->all_ok = true;
    http_request_hold(req);
    for (Entry *e = ctx->dbs->entries; e; e = e->next)
        pgtarget_test(e->t, tested_all, t);
}

size_t databases_servers(void *registry, PgTarget **out, size_t max)
{
    DbRegistry *r = registry;
    size_t n = 0;
    for (Entry *e = r ? r->entries : NULL; e && n < max; e = e->next) {
        const DatabaseConfig *db = pgtarget_config(e->t);
        const char *h = strcmp(db->host, "localhost") == 0 ? "127.0.0.1" : db->host;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++) {
            const DatabaseConfig *o = pgtarget_config(out[i]);
            const char *oh = strcmp(o->host, "localhost") == 0 ? "127.0.0.1" : o->host;
            seen = o->port == db->port && strcmp(oh, h) == 0;
        }
        if (!seen)
            out[n++] = e->t;
    }
    return n;
}

json_t *databases_rds_map(const DbRegistry *r)
{
    json_t *m = json_object();
    for (const Entry *e = r ? r->entries : NULL; e; e = e->next) {
        const DatabaseConfig *db = pgtarget_config(e->t);
        if (!db->aws_rds_instance_id)
            continue;
        char node[300];
        snprintf(node, sizeof node, "%s:%lld", db->host, db->port);
        json_object_set_new(m, node, json_string(db->aws_rds_instance_id));
    }
    return m;
}

PgTarget *databases_find(DbRegistry *r, const char *id)
{
    Entry *e = r ? find(r, id) : NULL;
    return e ? e->t : NULL;
}

json_t *databases_ids(const DbRegistry *r)
{
    json_t *ids = json_array();
    for (const Entry *e = r ? r->entries : NULL; e; e = e->next)
        json_array_append_new(ids, json_string(pgtarget_config(e->t)->id));
    return ids;
}
