/*
 * models: GET /api/models/test (the model round trip through Redis) and
 * POST /api/models/{kind}/validate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "api/api.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"
#include "model/database.h"
#include "model/migration.h"
#include "model/stream.h"
#include "store/keys.h"

typedef enum ModelKind { KIND_DATABASE, KIND_STREAM, KIND_MIGRATION, KIND_COUNT } ModelKind;

static const char *const kind_names[] = {"database", "stream", "migration", NULL};

/* a model's id member ("execution_id" for a migration) */
static json_t *model_id(const json_t *model)
{
    json_t *id = json_object_get(model, "id");
    return id ? id : json_object_get(model, "execution_id");
}

/* parses obj as kind; on success returns the model's JSON (new reference) */
static json_t *model_normalize(ModelKind kind, const json_t *obj, Validation *v)
{
    json_t *out = NULL;
    switch (kind) {
    case KIND_DATABASE: {
        DatabaseConfig m;
        if (database_from_json(&m, obj, v))
            out = database_to_json(&m);
        database_free(&m);
        break;
    }
    case KIND_STREAM: {
        ReplicationStream m;
        if (stream_from_json(&m, obj, v))
            out = stream_to_json(&m);
        stream_free(&m);
        break;
    }
    case KIND_MIGRATION: {
        MigrationExecution m;
        if (migration_from_json(&m, obj, v))
            out = migration_to_json(&m);
        migration_free(&m);
        break;
    }
    case KIND_COUNT:
        break;
    }
    return out;
}

void api_models_validate(HttpRequest *req, void *app)
{
    (void)app;
    const char *kind_name = http_param(req, "kind");
    int kind = -1;
    for (int i = 0; kind_names[i]; i++)
        if (strcmp(kind_name, kind_names[i]) == 0)
            kind = i;
    if (kind < 0) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, "kinds: database, stream, migration",
                           "no such model kind: %s", kind_name);
        return;
    }
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    Validation v;
    validation_init(&v);
    json_t *model = model_normalize((ModelKind)kind, body, &v);
    json_decref(body);
    if (!model) {
        api_respond_validation(req, &v);
        return;
    }
    http_respond_json(
        req, 200,
        json_pack("{s:b, s:s, s:o}", "valid", 1, "kind", kind_names[kind], "model", model));
}

/* ---- GET /api/models/test ---- */

#define DEMO_PASSWORD "demo-password-never-stored"
#define DEMO_SCRIPT   "CREATE INDEX orders_created_at_idx ON orders (created_at);\n"

static const char *const samples[KIND_COUNT] = {
    [KIND_DATABASE] =
        "{\"name\":\"orders primary\",\"host\":\"127.0.0.1\",\"port\":5432,\"dbname\":\"orders\","
        "\"user\":\"pgfleet\",\"sslmode\":\"prefer\",\"credentials\":{\"source\":\"password\","
        "\"password\":\"" DEMO_PASSWORD "\"},\"tags\":[\"demo\",\"primary\"],"
        "\"aws\":{\"region\":\"us-east-1\",\"rds_instance_id\":\"orders-primary\"}}",
    [KIND_STREAM] =
        "{\"kind\":\"logical\",\"source_database_id\":\"db_orders_primary\","
        "\"target_database_id\":\"db_orders_reporting\",\"publication\":\"pgfleet_orders\","
        "\"subscription\":\"pgfleet_orders_sub\",\"slot\":\"pgfleet_orders_sub\","
        "\"tables\":[\"public.orders\",\"public.customers\"],\"state\":\"streaming\"}",
    [KIND_MIGRATION] = NULL, /* built at run time: it carries the script checksum */
};

static const char rejected_sample[] =
    "{\"name\":\"\",\"host\":\"bad host\",\"port\":70000,\"dbname\":\"orders\",\"user\":\"u\","
    "\"sslmode\":\"disable\",\"credentials\":{\"source\":\"rds_iam\"},\"colour\":\"blue\"}";

typedef struct ModelCase {
    char *key;
    json_t *original; /* the model as written */
    char *record;     /* the serialized record */
    json_t *readback; /* the model as read back and validated again */
    bool secret_in_record;
    bool got;
    char error[256];
} ModelCase;

typedef struct ModelTest {
    HttpRequest *req;
    Services *svc;
    ModelCase cases[KIND_COUNT];
    int pending;
    bool failed;
    char failure[300];
    uint64_t started_ns;
} ModelTest;

typedef struct CaseRef {
    ModelTest *t;
    int idx;
} CaseRef;

static void model_test_free(ModelTest *t)
{
    for (int i = 0; i < KIND_COUNT; i++) {
        free(t->cases[i].key);
        free(t->cases[i].record);
        json_decref(t->cases[i].original);
        json_decref(t->cases[i].readback);
    }
    free(t);
}

static json_t *rejected_example(void)
{
    char err[128];
    json_t *input = jsonutil_parse(rejected_sample, strlen(rejected_sample), err, sizeof err);
    Validation v;
    validation_init(&v);
    json_t *m = model_normalize(KIND_DATABASE, input, &v);
    json_decref(m);
    return json_pack("{s:s, s:o, s:b, s:o}", "kind", "database", "input", input, "valid",
                     validation_ok(&v), "errors", validation_to_json(&v));
}

static void model_test_finish(ModelTest *t)
{
    HttpRequest *req = t->req;
    if (t->failed) {
        http_respond_error(req, PGF_ERR_STORE_DOWN,
                           "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by "
                           "itself",
                           "model round trip failed: %s", t->failure);
    } else {
        bool all = true;
        json_t *models = json_array();
        for (int i = 0; i < KIND_COUNT; i++) {
            ModelCase *c = &t->cases[i];
            bool equal = c->readback && json_equal(c->original, c->readback);
            all = all && equal && !c->secret_in_record;
            const char *round_trip = !c->got ? "missing" : equal ? "equal" : "different";
            json_t *o =
                json_pack("{s:s, s:O, s:s, s:b, s:I, s:s, s:b}", "kind", kind_names[i], "id",
                          model_id(c->original), "key", c->key, "valid", 1, "stored_bytes",
                          (json_int_t)(c->record ? strlen(c->record) : 0), "round_trip", round_trip,
                          "secret_in_record", c->secret_in_record);
            json_object_set(o, "record", c->original);
            if (c->error[0])
                json_object_set_new(o, "error", json_string(c->error));
            json_array_append_new(models, o);
        }
        double ms = (double)(uv_hrtime() - t->started_ns) / 1e6;
        char url_prefix[600];
        snprintf(url_prefix, sizeof url_prefix, "%s", store_prefix(t->svc->store));
        http_respond_json(req, 200,
                          json_pack("{s:b, s:{s:s, s:s}, s:f, s:o, s:o}", "ok", all, "store", "url",
                                    store_display_url(t->svc->store), "prefix", url_prefix,
                                    "duration_ms", ms, "models", models, "validation_example",
                                    rejected_example()));
    }
    http_request_release(req);
    model_test_free(t);
}

static void op_done(ModelTest *t)
{
    if (--t->pending == 0)
        model_test_finish(t);
}

static void fail(ModelTest *t, const char *msg)
{
    if (!t->failed) {
        t->failed = true;
        snprintf(t->failure, sizeof t->failure, "%s", msg ? msg : "unknown error");
    }
}

static void set_cb(void *ud, PgfError err, const char *errmsg)
{
    CaseRef *r = ud;
    if (err != PGF_OK)
        fail(r->t, errmsg);
    ModelTest *t = r->t;
    free(r);
    op_done(t);
}

static void get_cb(void *ud, PgfError err, const char *errmsg, const char *value, size_t len)
{
    CaseRef *r = ud;
    ModelTest *t = r->t;
    ModelCase *c = &t->cases[r->idx];
    if (err != PGF_OK) {
        fail(t, errmsg);
    } else if (value) {
        c->got = true;
        char perr[200];
        json_t *obj = jsonutil_parse(value, len, perr, sizeof perr);
        if (!obj) {
            snprintf(c->error, sizeof c->error, "stored record is not JSON: %s", perr);
        } else {
            Validation v;
            validation_init(&v);
            c->readback = model_normalize((ModelKind)r->idx, obj, &v);
            if (!c->readback) {
                char first[200];
                snprintf(c->error, sizeof c->error, "stored record does not validate: %s",
                         validation_first_message(&v, first, sizeof first));
            }
            json_decref(obj);
        }
    }
    free(r);
    op_done(t);
}

static void del_cb(void *ud, PgfError err, const char *errmsg)
{
    set_cb(ud, err, errmsg);
}

static CaseRef *ref(ModelTest *t, int idx)
{
    CaseRef *r = xmalloc(sizeof *r);
    r->t = t;
    r->idx = idx;
    return r;
}

static json_t *sample_json(ModelKind kind)
{
    if (kind == KIND_MIGRATION) {
        char sum[65];
        migration_checksum(DEMO_SCRIPT, strlen(DEMO_SCRIPT), sum);
        return json_pack("{s:s, s:s, s:[{s:s, s:s, s:i, s:i}], s:s, s:s}", "name",
                         "0001_orders_created_at_idx", "checksum", sum, "targets", "target",
                         "db_orders_primary", "status", "committed", "statements_done", 1,
                         "statements_total", 1, "status", "succeeded", "applied_by", "api_key");
    }
    char err[128];
    return jsonutil_parse(samples[kind], strlen(samples[kind]), err, sizeof err);
}

void api_models_test(HttpRequest *req, void *app)
{
    Services *s = app;
    if (store_state(s->store) != STORE_READY) {
        const char *last = store_last_error(s->store);
        http_respond_error(req, PGF_ERR_STORE_DOWN,
                           "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by "
                           "itself",
                           "redis is unavailable%s%s", *last ? ": " : "", last);
        return;
    }
    ModelTest *t = xcalloc(1, sizeof *t);
    t->req = req;
    t->svc = s;
    t->started_ns = uv_hrtime();
    http_request_hold(req);

    for (int i = 0; i < KIND_COUNT; i++) {
        ModelCase *c = &t->cases[i];
        json_t *in = sample_json((ModelKind)i);
        Validation v;
        validation_init(&v);
        c->original = model_normalize((ModelKind)i, in, &v);
        json_decref(in);
        if (!c->original) { /* a bug in the samples: say which */
            char first[200];
            fail(t, validation_first_message(&v, first, sizeof first));
            continue;
        }
        c->record = jsonutil_dumps(c->original);
        c->secret_in_record = strstr(c->record, DEMO_PASSWORD) != NULL;
        c->key = xasprintf("%s:%s:%s", KEY_MODELTEST, kind_names[i],
                           json_string_value(model_id(c->original)));
        /* one connection keeps order: SET, then GET sees it, then DEL cleans up */
        CaseRef *r1 = ref(t, i), *r2 = ref(t, i), *r3 = ref(t, i);
        PgfError e1 = store_set(s->store, c->key, c->record, strlen(c->record), 60, set_cb, r1);
        PgfError e2 = store_get(s->store, c->key, get_cb, r2);
        PgfError e3 = store_del(s->store, c->key, del_cb, r3);
        CaseRef *refs[3] = {r1, r2, r3};
        PgfError errs[3] = {e1, e2, e3};
        for (int k = 0; k < 3; k++) {
            if (errs[k] == PGF_OK) {
                t->pending++;
            } else {
                free(refs[k]);
                fail(t, "redis connection dropped while sending");
            }
        }
    }
    if (t->pending == 0) {
        t->pending = 1;
        op_done(t);
    }
}
