#include "migrate/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "migrate/migrate.h"
#include "model/database.h"
#include "model/migration.h"
#include "store/keys.h"

typedef struct Run {
    Runs *svc;
    Migrate *m;
    MigrateOptions o;
    char *name, *sql, *applied_by;
    MigrateTarget *targets; /* params owned (pgconn_params_copy) */
    int n, waiting;
    char pw_error[600];
    MigrationExecution rec; /* the record; unused (id NULL) for a start-up recovery */
    struct Run *next;
} Run;

struct Runs {
    RunsDeps deps;
    Run *runs; /* in progress in this daemon */
    bool sweeping, closing;
    int refs;
};

static void svc_unref(Runs *s)
{
    if (--s->refs == 0)
        free(s);
}

Runs *runs_new(const RunsDeps *deps)
{
    Runs *s = xcalloc(1, sizeof *s);
    s->deps = *deps;
    s->refs = 1;
    return s;
}

/* ---- records ---- */

static void saved(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_warn("a migration record was not saved: %s", errmsg);
}

static void save_record(Runs *svc, const MigrationExecution *m)
{
    json_t *j = migration_to_json(m);
    char *s = jsonutil_dumps(j);
    json_decref(j);
    if (store_hset(svc->deps.store, KEY_MIGRATIONS, m->id, s, strlen(s), saved, NULL) != PGF_OK)
        log_warn("migration %s: the record could not be saved (store down)", m->id);
    free(s);
}

static void save(Run *r)
{
    if (r->rec.id && !r->svc->closing)
        save_record(r->svc, &r->rec);
}

static void run_free(Run *r)
{
    Runs *svc = r->svc;
    for (Run **pp = &svc->runs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    for (int i = 0; i < r->n; i++) {
        free((char *)(uintptr_t)r->targets[i].label);
        pgconn_params_clear(&r->targets[i].params);
    }
    free(r->targets);
    free(r->name);
    free(r->sql);
    free(r->applied_by);
    migration_free(&r->rec);
    free(r);
    svc_unref(svc);
}

static void topic_of(const Run *r, char *buf, size_t len)
{
    snprintf(buf, len, "migration:%s", r->rec.id);
}

/* ---- progress ---- */

static MigrationTarget *rec_target(Run *r, const char *label)
{
    for (size_t i = 0; label && i < r->rec.ntargets; i++)
        if (!strcmp(r->rec.targets[i].target, label))
            return &r->rec.targets[i];
    return NULL;
}

static void on_event(void *ud, const json_t *e)
{
    Run *r = ud;
    char topic[128];
    topic_of(r, topic, sizeof topic);
    publish(&r->svc->deps.pub, topic, json_deep_copy(e));
    /* the per-target line of the record follows the events */
    MigrationTarget *t = rec_target(r, jsonutil_str(e, "target"));
    const char *ev = jsonutil_str(e, "event");
    if (!t || !ev)
        return;
    if (!strcmp(ev, "statement"))
        t->statements_done = json_integer_value(json_object_get(e, "k"));
    else if (!strcmp(ev, "started")) {
        t->status = TGT_RUNNING;
        t->statements_total = json_integer_value(json_object_get(e, "statements_total"));
    } else if (migration_target_status_parse(ev) >= 0)
        t->status = (TargetStatus)migration_target_status_parse(ev);
    save(r);
}

static void log_recovered(const json_t *report)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(report, "recovered"), i, x)
    {
        const char *error = jsonutil_str(x, "error"), *action = jsonutil_str(x, "action");
        log_warn("start-up: prepared transaction %s on %s left by an interrupted atomic "
                 "migration: %s",
                 jsonutil_str(x, "gid"), jsonutil_str(x, "target"),
                 error                                 ? error
                 : action && !strcmp(action, "commit") ? "committed (another target of that run "
                                                         "had committed)"
                                                       : "rolled back (no target of that run had "
                                                         "committed)");
    }
}

static void on_done(void *ud, const json_t *report)
{
    Run *r = ud;
    r->m = NULL;
    if (!r->rec.id) { /* start-up recovery */
        log_recovered(report);
        run_free(r);
        return;
    }
    MigrationExecution done;
    Validation v;
    validation_init(&v);
    if (migration_from_json(&done, report, &v)) {
        char now[32];
        jsonutil_now_rfc3339(now, sizeof now);
        done.started_at = r->rec.started_at ? xstrdup(r->rec.started_at) : NULL;
        done.applied_by = r->rec.applied_by ? xstrdup(r->rec.applied_by) : NULL;
        done.sql = r->rec.sql ? xstrdup(r->rec.sql) : NULL;
        done.finished_at = xstrdup(now);
        migration_free(&r->rec);
        r->rec = done;
    } else {
        char first[256];
        log_warn("migration %s: its report did not validate: %s", r->rec.id,
                 validation_first_message(&v, first, sizeof first));
        migration_free(&done);
    }
    save(r);
    char topic[128];
    topic_of(r, topic, sizeof topic);
    publish(&r->svc->deps.pub, topic,
            json_pack("{s:s, s:s, s:o}", "execution_id", r->rec.id, "event", "finished", "report",
                      migration_to_json(&r->rec)));
    log_info("migration %s (%s): %s", r->rec.id, r->name, migration_status_names[r->rec.status]);
    run_free(r);
}

/* ---- running ---- */

static void run_failed(Run *r, const char *error)
{
    if (!r->rec.id) {
        log_warn("start-up: prepared transactions not checked: %s", error);
    } else {
        r->rec.status = MIG_FAILED;
        free(r->rec.error);
        r->rec.error = xstrdup(error);
        save(r);
    }
    run_free(r);
}

static void begin(Run *r)
{
    if (r->pw_error[0]) {
        run_failed(r, r->pw_error);
        return;
    }
    if (r->svc->closing) {
        run_free(r);
        return;
    }
    char err[600];
    r->m = migrate_start(r->svc->deps.loop, &r->o, r->targets, r->n, on_event, on_done, r, err,
                         sizeof err);
    if (!r->m) /* checked before; only a race could get here */
        run_failed(r, err);
}

typedef struct PwWait {
    Run *r;
    int idx;
} PwWait;

static void got_password(void *ud, const char *password, const PgError *err)
{
    PwWait *w = ud;
    Run *r = w->r;
    if (err)
        snprintf(r->pw_error, sizeof r->pw_error, "no password for %s: %s",
                 r->targets[w->idx].label, err->message);
    else
        pgconn_params_set_password(&r->targets[w->idx].params, password);
    free(w);
    if (--r->waiting == 0)
        begin(r);
}

/* the run's targets from the registered databases; false when one is gone */
static bool set_targets(Run *r, const json_t *ids)
{
    r->n = (int)json_array_size(ids);
    r->targets = xcalloc((size_t)r->n, sizeof *r->targets);
    for (int i = 0; i < r->n; i++) {
        const char *id = json_string_value(json_array_get(ids, (size_t)i));
        PgTarget *t = registry_find(r->svc->deps.registry, id);
        if (!t)
            return false;
        PgConnParams p;
        pgtarget_params(t, "pgfleet migrate", &p);
        r->targets[i].label = xstrdup(id);
        pgconn_params_copy(&r->targets[i].params, &p);
    }
    return true;
}

/* asks every target's credential source; begin() once all answered */
static void fetch_passwords(Run *r)
{
    r->next = r->svc->runs;
    r->svc->runs = r;
    r->waiting = r->n + 1;
    for (int k = 0; k < r->n; k++) {
        PwWait *w = xmalloc(sizeof *w);
        w->r = r;
        w->idx = k;
        pgtarget_password(registry_find(r->svc->deps.registry, r->targets[k].label), got_password,
                          w);
    }
    if (--r->waiting == 0)
        begin(r);
}

static Run *run_new(Runs *svc, const char *name, const char *sql, const char *applied_by)
{
    Run *r = xcalloc(1, sizeof *r);
    r->svc = svc;
    svc->refs++;
    r->name = xstrdup(name);
    r->sql = xstrdup(sql);
    r->applied_by = xstrdup(applied_by);
    r->o = (MigrateOptions){
        .name = r->name, .sql = r->sql, .sql_len = strlen(r->sql), .applied_by = r->applied_by};
    return r;
}

/* ---- execute ---- */

static const char *const request_fields[] = {"name",
                                             "sql",
                                             "database_ids",
                                             "dry_run",
                                             "atomic",
                                             "continue_on_error",
                                             "non_transactional",
                                             "parallel",
                                             "lock_timeout_ms",
                                             "statement_timeout_ms",
                                             NULL};

/* the request's checks; false with f filled */
static bool check_request(Runs *svc, const json_t *body, Failure *f)
{
    Validation v;
    validation_init(&v);
    if (!json_is_object(body)) {
        validation_add(&v, NULL, "(body)", "type", "must be a JSON object");
        validation_to_failure(&v, f);
        return false;
    }
    v_no_unknown(&v, body, NULL, request_fields);
    char *name = NULL;
    v_string(&v, body, NULL, "name", true, STR_ANY, 1, 200, &name);
    free(name);
    const char *sql = jsonutil_str(body, "sql"); /* a script: newlines and tabs are fine */
    if (!sql || !*sql)
        validation_add(&v, NULL, "sql", "required", "is required: the migration script");
    else if (strlen(sql) != json_string_length(json_object_get(body, "sql")))
        validation_add(&v, NULL, "sql", "type", "must not contain a NUL character");
    const json_t *ids = json_object_get(body, "database_ids");
    if (!json_is_array(ids) || !json_array_size(ids) || json_array_size(ids) > RUNS_MAX_TARGETS)
        validation_add(&v, NULL, "database_ids", "required",
                       "is required: 1 to %d registered database ids", RUNS_MAX_TARGETS);
    size_t i;
    const json_t *x;
    json_array_foreach(ids, i, x)
    {
        const char *id = json_string_value(x);
        if (!id || !registry_find(svc->deps.registry, id))
            validation_add(&v, "database_ids", id ? id : "?", "not_found",
                           "'%s' is not a registered database", id ? id : "?");
    }
    const char *bools[] = {"dry_run", "atomic", "continue_on_error", "non_transactional"};
    for (size_t k = 0; k < sizeof bools / sizeof *bools; k++) {
        bool b;
        v_bool(&v, body, NULL, bools[k], false, &b);
    }
    long long n;
    v_int(&v, body, NULL, "parallel", false, 0, 64, &n);
    v_int(&v, body, NULL, "lock_timeout_ms", false, 0, 3600000, &n);
    v_int(&v, body, NULL, "statement_timeout_ms", false, 0, 86400000, &n);
    if (!validation_ok(&v)) {
        validation_to_failure(&v, f);
        return false;
    }
    if (store_state(svc->deps.store) != STORE_READY) {
        failure_store(f, PGF_ERR_STORE_DOWN, "record the run",
                      "the state store is not available (nothing was run)");
        return false;
    }
    return true;
}

static bool opt(const json_t *body, const char *key)
{
    return json_is_true(json_object_get(body, key));
}

/* the record a new run starts with: every target pending */
static void start_record(Run *r, const json_t *ids)
{
    MigrationExecution *m = &r->rec;
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    m->id = model_new_id("mig");
    m->name = xstrdup(r->name);
    m->checksum = xcalloc(1, 65);
    migration_checksum(r->sql, strlen(r->sql), m->checksum);
    m->status = MIG_RUNNING;
    m->dry_run = r->o.dry_run;
    m->atomic = r->o.atomic;
    m->continue_on_error = r->o.continue_on_error;
    m->non_transactional = r->o.non_transactional;
    m->applied_by = xstrdup(r->applied_by);
    m->owner = r->svc->deps.instance ? xstrdup(r->svc->deps.instance) : NULL;
    /* the script, for the history (kept when it is text a record may hold) */
    if (validate_string_rule(r->sql, STR_TEXT))
        m->sql = xstrdup(r->sql);
    m->started_at = xstrdup(now);
    m->ntargets = json_array_size(ids);
    m->targets = xcalloc(m->ntargets, sizeof *m->targets);
    for (size_t i = 0; i < m->ntargets; i++)
        m->targets[i].target = xstrdup(json_string_value(json_array_get(ids, i)));
    r->o.execution_id = m->id;
}

void runs_execute(Runs *svc, const json_t *body, const char *applied_by, DoneCb cb, void *ud)
{
    Failure f = {0};
    if (!check_request(svc, body, &f)) {
        failure_report(&f, cb, ud);
        return;
    }
    Run *r = run_new(svc, jsonutil_str(body, "name"), jsonutil_str(body, "sql"),
                     applied_by ? applied_by : "pgfleet");
    r->o.dry_run = opt(body, "dry_run");
    r->o.atomic = opt(body, "atomic");
    r->o.continue_on_error = opt(body, "continue_on_error");
    r->o.non_transactional = opt(body, "non_transactional");
    r->o.parallel = (int)json_integer_value(json_object_get(body, "parallel"));
    r->o.lock_timeout_ms = (long)json_integer_value(json_object_get(body, "lock_timeout_ms"));
    r->o.statement_timeout_ms =
        (long)json_integer_value(json_object_get(body, "statement_timeout_ms"));
    const json_t *ids = json_object_get(body, "database_ids");
    char err[600];
    if (!migrate_check(&r->o, (int)json_array_size(ids), err, sizeof err)) {
        failure_set(&f, PGF_ERR_VALIDATION, NULL, "fix the script or the options", "%s", err);
        run_free(r);
        failure_report(&f, cb, ud);
        return;
    }
    start_record(r, ids);
    if (!set_targets(r, ids)) { /* checked above; the registry cannot change in between */
        run_failed(r, "a target is no longer registered");
        return;
    }
    save(r);
    char topic[128];
    topic_of(r, topic, sizeof topic);
    cb(ud,
       json_pack("{s:s, s:s, s:s}", "execution_id", r->rec.id, "status", "running", "topic", topic),
       NULL);
    fetch_passwords(r);
}

/* ---- reading ---- */

typedef struct Read {
    Runs *svc;
    char id[80];
    DoneCb cb;
    void *ud;
} Read;

/* a stored record, validated and written back in its canonical form; NULL when damaged */
static json_t *record_json(const char *id, const char *text, size_t len)
{
    char perr[128];
    json_t *j = jsonutil_parse(text, len, perr, sizeof perr);
    MigrationExecution m = {0};
    Validation v;
    validation_init(&v);
    json_t *out = NULL;
    if (j && migration_from_json(&m, j, &v))
        out = migration_to_json(&m);
    else {
        char first[256];
        log_warn("skipping the stored migration %s: %s", id,
                 j ? validation_first_message(&v, first, sizeof first) : perr);
    }
    migration_free(&m);
    json_decref(j);
    return out;
}

static int newest_first(const void *a, const void *b)
{
    const char *x = jsonutil_str(*(json_t *const *)a, "started_at"),
               *y = jsonutil_str(*(json_t *const *)b, "started_at");
    return strcmp(y ? y : "", x ? x : "");
}

static void listed(void *ud, PgfError err, const char *errmsg, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
    Read *q = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "read migrations", errmsg, q->cb, q->ud);
    } else {
        json_t **recs = xcalloc(n + 1, sizeof *recs);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if ((recs[k] = record_json(fields[i], values[i], lens[i])))
                k++;
        qsort(recs, k, sizeof *recs, newest_first);
        json_t *arr = json_array();
        for (size_t i = 0; i < k; i++) {
            json_object_del(recs[i], "sql"); /* GET /api/migrations/{id} has it */
            json_array_append_new(arr, recs[i]);
        }
        free(recs);
        q->cb(q->ud, json_pack("{s:I, s:o}", "count", (json_int_t)k, "migrations", arr), NULL);
    }
    svc_unref(q->svc);
    free(q);
}

static void got(void *ud, PgfError err, const char *errmsg, const char *value, size_t len)
{
    Read *q = ud;
    json_t *rec = err == PGF_OK && value ? record_json(q->id, value, len) : NULL;
    Failure f = {0};
    if (err != PGF_OK)
        failure_store(&f, err, "read migrations", errmsg);
    else if (!rec)
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "list them: GET /api/migrations",
                    "no migration execution '%s'%s", q->id,
                    value ? " (its record is damaged; see the log)" : "");
    if (rec)
        q->cb(q->ud, rec, NULL);
    else
        failure_report(&f, q->cb, q->ud);
    svc_unref(q->svc);
    free(q);
}

static Read *read_new(Runs *svc, const char *id, DoneCb cb, void *ud)
{
    Read *q = xcalloc(1, sizeof *q);
    q->svc = svc;
    snprintf(q->id, sizeof q->id, "%s", id ? id : "");
    q->cb = cb;
    q->ud = ud;
    svc->refs++;
    return q;
}

void runs_list(Runs *svc, DoneCb cb, void *ud)
{
    Read *q = read_new(svc, NULL, cb, ud);
    if (store_hgetall(svc->deps.store, KEY_MIGRATIONS, listed, q) != PGF_OK)
        listed(q, PGF_ERR_STORE_DOWN, "the state store is not available", 0, NULL, NULL, NULL);
}

void runs_get(Runs *svc, const char *id, DoneCb cb, void *ud)
{
    Read *q = read_new(svc, id, cb, ud);
    if (store_hget(svc->deps.store, KEY_MIGRATIONS, id, got, q) != PGF_OK)
        got(q, PGF_ERR_STORE_DOWN, "the state store is not available", NULL, 0);
}

typedef struct Cancel {
    Runs *svc;
    char *id;
    DoneCb cb;
    void *ud;
} Cancel;

static bool owner_alive(const Runs *svc, const char *owner);

/* not running here: running on a live instance -> it is asked to cancel (scale-out) */
static void cancel_read(void *ud, PgfError err, const char *errmsg, const char *value, size_t len)
{
    (void)errmsg;
    Cancel *c = ud;
    json_t *j = err == PGF_OK && value ? jsonutil_parse(value, len, NULL, 0) : NULL;
    const char *status = jsonutil_str(j, "status"), *owner = jsonutil_str(j, "owner");
    if (status && !strcmp(status, "running") && owner_alive(c->svc, owner) &&
        c->svc->deps.forward_cancel) {
        c->svc->deps.forward_cancel(c->svc->deps.alive_ud, c->id);
        c->cb(c->ud,
              json_pack("{s:s, s:s, s:s}", "execution_id", c->id, "status", "cancelling", "owner",
                        owner),
              NULL);
    } else {
        Failure f = {0};
        failure_set(&f, PGF_ERR_CONFLICT, NULL,
                    "only a run in progress can be cancelled; see GET /api/migrations/{id}",
                    "migration '%s' is not running", c->id);
        failure_report(&f, c->cb, c->ud);
    }
    json_decref(j);
    free(c->id);
    svc_unref(c->svc);
    free(c);
}

bool runs_cancel_here(Runs *svc, const char *id)
{
    for (Run *r = svc->runs; r; r = r->next) {
        if (!r->rec.id || strcmp(r->rec.id, id) != 0)
            continue;
        if (r->m)
            migrate_cancel(r->m);
        return true;
    }
    return false;
}

void runs_cancel(Runs *svc, const char *id, DoneCb cb, void *ud)
{
    if (runs_cancel_here(svc, id)) {
        cb(ud, json_pack("{s:s, s:s}", "execution_id", id, "status", "cancelling"), NULL);
        return;
    }
    Cancel *c = xcalloc(1, sizeof *c);
    c->svc = svc;
    c->id = xstrdup(id);
    c->cb = cb;
    c->ud = ud;
    svc->refs++;
    if (store_hget(svc->deps.store, KEY_MIGRATIONS, id, cancel_read, c) != PGF_OK)
        cancel_read(c, PGF_ERR_STORE_DOWN, NULL, NULL, 0);
}

/* ---- start-up ---- */

static bool mine(const Runs *svc, const char *id)
{
    for (const Run *r = svc->runs; r; r = r->next)
        if (r->rec.id && !strcmp(r->rec.id, id))
            return true;
    return false;
}

/* another live instance runs it (its own id is this one's from before a restart) */
static bool owner_alive(const Runs *svc, const char *owner)
{
    if (!owner || !svc->deps.instance || !strcmp(owner, svc->deps.instance))
        return false;
    return svc->deps.alive && svc->deps.alive(svc->deps.alive_ud, owner);
}

/* a run left running by a dead daemon: interrupted, its unfinished targets unknown */
static void mark_interrupted(Runs *svc, const char *id, const char *text, size_t len)
{
    char perr[128];
    json_t *j = jsonutil_parse(text, len, perr, sizeof perr);
    MigrationExecution m = {0};
    Validation v;
    validation_init(&v);
    if (j && migration_from_json(&m, j, &v) && m.status == MIG_RUNNING && !mine(svc, id) &&
        !owner_alive(svc, m.owner)) {
        m.status = MIG_INTERRUPTED;
        free(m.error);
        m.error = xstrdup("the pgfleet server running it stopped before it finished; each "
                          "target's pgfleet.migration_history says what it has (a target's "
                          "transaction either committed with its history row or not at all)");
        for (size_t k = 0; k < m.ntargets; k++)
            if (m.targets[k].status == TGT_RUNNING || m.targets[k].status == TGT_PENDING)
                m.targets[k].status = TGT_UNKNOWN;
        save_record(svc, &m);
        log_warn("migration %s was interrupted (its server%s%s stopped mid-run)", id,
                 m.owner ? " " : "", m.owner ? m.owner : "");
    } else if (!j || !validation_ok(&v)) {
        char first[256];
        log_warn("skipping the stored migration %s: %s", id,
                 j ? validation_first_message(&v, first, sizeof first) : perr);
    }
    migration_free(&m);
    json_decref(j);
}

static void recovered(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *fields, const char *const *values, const size_t *lens)
{
    Runs *svc = ud;
    svc->sweeping = false;
    if (err != PGF_OK)
        log_warn("could not read the migrations to find interrupted ones: %s", errmsg);
    for (size_t i = 0; i < n && !svc->closing; i++)
        mark_interrupted(svc, fields[i], values[i], lens[i]);
    svc_unref(svc);
}

void runs_sweep(Runs *svc)
{
    if (svc->sweeping || svc->closing)
        return;
    svc->refs++;
    if (store_hgetall(svc->deps.store, KEY_MIGRATIONS, recovered, svc) == PGF_OK)
        svc->sweeping = true;
    else
        svc_unref(svc);
}

void runs_recover_prepared(Runs *svc)
{
    size_t n = registry_count(svc->deps.registry);
    if (!n || svc->closing)
        return;
    PgTarget **all = xcalloc(n, sizeof *all);
    n = registry_targets(svc->deps.registry, all, n);
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(pgtarget_config(all[i])->id));
    free(all);
    Run *r = run_new(svc, "startup-recovery", "", "pgfleet");
    r->o.execution_id = "startup-recovery";
    r->o.recover_only = true;
    if (set_targets(r, ids))
        fetch_passwords(r);
    else
        run_free(r);
    json_decref(ids);
}

void runs_free(Runs *svc)
{
    if (!svc)
        return;
    svc->closing = true;
    for (Run *r = svc->runs, *next; r; r = next) {
        next = r->next;
        if (r->m) {
            migrate_detach(r->m); /* rolls back; the record stays "running": interrupted */
            run_free(r);
        }
    }
    svc_unref(svc);
}
