#include "streams/streams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "model/stream.h"
#include "store/keys.h"
#include "streams/check.h"
#include "streams/follow.h"
#include "streams/preflight.h"

/* an operation in flight, and who waits for its answer */
typedef struct Running {
    Streams *svc;
    char id[80];
    StreamOp *op;
    ReplicationStream rec; /* creates: the record being saved before the op starts */
    bool force, action;
    DoneCb cb; /* NULL once answered (or never: recovery) */
    void *ud;
    struct Running *next;
} Running;

typedef struct FollowLink {
    Follower *f;
    struct FollowLink *next;
} FollowLink;

struct Streams {
    StreamsDeps deps;
    Running *running;
    FollowLink *follows;
    bool recovering, closing;
    int refs; /* the owner, and each store read or write waited for */
};

static void svc_unref(Streams *s)
{
    if (--s->refs == 0)
        free(s);
}

Streams *streams_new(const StreamsDeps *deps)
{
    Streams *s = xcalloc(1, sizeof *s);
    s->deps = *deps;
    s->refs = 1;
    return s;
}

/* ---- records ---- */

static void publish_state(Streams *svc, const ReplicationStream *s, const json_t *sync)
{
    char topic[128];
    snprintf(topic, sizeof topic, "stream:%s", s->id);
    json_t *e = json_pack("{s:s, s:s}", "stream_id", s->id, "state", stream_state_names[s->state]);
    if (s->error)
        json_object_set_new(e, "error", json_string(s->error));
    if (sync)
        json_object_update(e, jsonutil_unconst(sync));
    /* the stream's own topic, and every stream's: a list follows streams made elsewhere */
    publish(&svc->deps.pub, "streams", json_incref(e));
    publish(&svc->deps.pub, topic, e);
}

typedef struct Save {
    Streams *svc;
    void (*then)(void *ud, PgfError err, const char *errmsg);
    void *ud;
} Save;

static void saved(void *ud, PgfError err, const char *errmsg)
{
    Save *sv = ud;
    if (err != PGF_OK)
        log_warn("a stream record was not saved: %s", errmsg);
    if (sv->then)
        sv->then(sv->ud, err, errmsg);
    svc_unref(sv->svc);
    free(sv);
}

/* writes the record; then (may be NULL) runs once it is written or failed */
static void save(Streams *svc, const ReplicationStream *s,
                 void (*then)(void *ud, PgfError err, const char *errmsg), void *ud)
{
    json_t *j = stream_to_json(s);
    /* work in progress names the instance doing it: the leader resumes it if that one dies */
    if (svc->deps.instance &&
        (stream_state_in_progress(s->state) || s->state == STREAM_INITIALIZING))
        json_object_set_new(j, "owner", json_string(svc->deps.instance));
    char *text = jsonutil_dumps(j);
    json_decref(j);
    Save *sv = xcalloc(1, sizeof *sv);
    sv->svc = svc;
    sv->then = then;
    sv->ud = ud;
    svc->refs++;
    if (store_hset(svc->deps.store, KEY_STREAMS, s->id, text, strlen(text), saved, sv) != PGF_OK)
        saved(sv, PGF_ERR_STORE_DOWN, "the state store is not available");
    free(text);
}

/* a stored record, validated; NULL (and a warning) when it does not validate */
static bool record_parse(const char *id, const char *text, size_t len, ReplicationStream *out)
{
    char perr[128];
    json_t *j = jsonutil_parse(text, len, perr, sizeof perr);
    Validation v;
    validation_init(&v);
    memset(out, 0, sizeof *out); /* freed below even when the text is not JSON */
    bool ok = j && stream_from_json(out, j, &v);
    if (!ok) {
        char first[256];
        log_warn("skipping the stored stream %s: %s", id,
                 j ? validation_first_message(&v, first, sizeof first) : perr);
        stream_free(out);
    }
    json_decref(j);
    return ok;
}

/* rec NULL with f on failure; rec may be changed (it is freed after the call) */
typedef void (*LoadedCb)(Streams *svc, void *ud, ReplicationStream *rec, const Failure *f);

typedef struct Load {
    Streams *svc;
    void *ud;
    char id[80];
    LoadedCb then;
} Load;

static void loaded(void *ud, PgfError err, const char *errmsg, const char *value, size_t len)
{
    Load *l = ud;
    Failure f = {0};
    ReplicationStream rec;
    memset(&rec, 0, sizeof rec);
    if (l->svc->closing)
        failure_set(&f, PGF_ERR_SHUTTING_DOWN, NULL, NULL, "pgfleet is shutting down");
    else if (err != PGF_OK)
        failure_store(&f, err, "read streams", errmsg);
    else if (!value || !record_parse(l->id, value, len, &rec))
        failure_set(&f, PGF_ERR_NOT_FOUND, NULL, "list them: GET /api/replication/streams",
                    "no stream '%s'%s", l->id,
                    value ? " (its record is damaged; see the log)" : "");
    l->then(l->svc, l->ud, f.code ? NULL : &rec, f.code ? &f : NULL);
    failure_clear(&f);
    stream_free(&rec);
    svc_unref(l->svc);
    free(l);
}

static void load(Streams *svc, const char *id, LoadedCb then, void *ud)
{
    Load *l = xcalloc(1, sizeof *l);
    l->svc = svc;
    l->ud = ud;
    l->then = then;
    snprintf(l->id, sizeof l->id, "%s", id);
    svc->refs++;
    if (store_hget(svc->deps.store, KEY_STREAMS, id, loaded, l) != PGF_OK)
        loaded(l, PGF_ERR_STORE_DOWN, "the state store is not available", NULL, 0);
}

/* ---- operations in flight ---- */

static Running *running_find(Streams *svc, const char *id)
{
    for (Running *r = svc->running; r; r = r->next)
        if (!strcmp(r->id, id))
            return r;
    return NULL;
}

/* a new operation on stream id, or NULL (answered 409) when one runs */
static Running *running_new(Streams *svc, const char *id, DoneCb cb, void *ud)
{
    if (running_find(svc, id)) {
        Failure f = {0};
        failure_set(&f, PGF_ERR_CONFLICT, NULL, "wait for it to finish and send again",
                    "an operation on stream '%s' is in progress", id);
        if (cb)
            failure_report(&f, cb, ud);
        failure_clear(&f);
        return NULL;
    }
    Running *r = xcalloc(1, sizeof *r);
    r->svc = svc;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->cb = cb;
    r->ud = ud;
    r->next = svc->running;
    svc->running = r;
    svc->refs++;
    return r;
}

static void running_end(Running *r)
{
    Streams *svc = r->svc;
    for (Running **pp = &svc->running; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    stream_free(&r->rec);
    free(r);
    svc_unref(svc);
}

/* answers the waiting caller once */
static void answer(Running *r, json_t *result, const Failure *f)
{
    DoneCb cb = r->cb;
    r->cb = NULL;
    if (cb)
        cb(r->ud, result, f);
    else
        json_decref(result);
}

/* ---- following initial copies ---- */

static void follow_forget(Streams *svc, Follower *f)
{
    for (FollowLink **pp = &svc->follows; *pp; pp = &(*pp)->next)
        if ((*pp)->f == f) {
            FollowLink *l = *pp;
            *pp = l->next;
            free(l);
            return;
        }
}

static void stop_following(Streams *svc, const char *id)
{
    for (FollowLink *l = svc->follows; l; l = l->next)
        if (!strcmp(follow_stream_id(l->f), id)) {
            Follower *f = l->f;
            follow_forget(svc, f);
            follow_stop(f);
            return;
        }
}

typedef struct Progress {
    StreamState state;
    json_t *sync;
    char *error;
} Progress;

static void progress_loaded(Streams *svc, void *ud, ReplicationStream *rec, const Failure *f)
{
    Progress *p = ud;
    if (rec && !stream_state_in_progress(rec->state) && rec->state != STREAM_DROPPED) {
        bool changed = rec->state != p->state;
        stream_set_state(rec, p->state, p->error);
        json_decref(rec->sync);
        rec->sync = json_incref(p->sync);
        save(svc, rec, NULL, NULL);
        publish_state(svc, rec, p->sync);
        if (changed)
            log_info("stream %s: %s (%lld/%lld tables ready)", rec->id,
                     stream_state_names[rec->state],
                     json_integer_value(json_object_get(p->sync, "ready")),
                     json_integer_value(json_object_get(p->sync, "tables")));
    } else if (f)
        log_debug("stream progress not recorded: %s", f->message);
    json_decref(p->sync);
    free(p->error);
    free(p);
}

static void followed(void *ud, Follower *f, StreamState state, const json_t *sync,
                     const char *error, bool stopped)
{
    Streams *svc = ud;
    const char *id = follow_stream_id(f);
    if (sync) {
        /* the record is read again: an operation may have changed it meanwhile */
        Progress *p = xcalloc(1, sizeof *p);
        p->state = state;
        p->sync = json_deep_copy(sync);
        p->error = error ? xstrdup(error) : NULL;
        load(svc, id, progress_loaded, p);
    }
    if (stopped)
        follow_forget(svc, f);
}

static void start_following(Streams *svc, const ReplicationStream *s)
{
    stop_following(svc, s->id);
    if (!registry_find(svc->deps.registry, s->target_database_id))
        return;
    FollowLink *l = xcalloc(1, sizeof *l);
    l->f = follow_start(svc->deps.loop, svc->deps.registry, s, followed, svc);
    l->next = svc->follows;
    svc->follows = l;
}

/* ---- running a create, a drop or an action ---- */

static void op_changed(void *ud, const ReplicationStream *s)
{
    Running *r = ud;
    save(r->svc, s, NULL, NULL);
}

/* the state a finished create or drop leaves (or error) */
static void settle(ReplicationStream *rec, const Failure *f)
{
    if (f)
        stream_set_state(rec, STREAM_ERROR, f->message);
    else if (rec->step == STEP_CREATED || rec->step == STEP_DROPPED) {
        StreamState st = rec->step == STEP_CREATED ? STREAM_INITIALIZING : STREAM_DROPPED;
        rec->step = STEP_NONE;
        stream_set_state(rec, st, NULL);
    }
}

static void op_done(void *ud, const ReplicationStream *s, const json_t *notes, const Failure *f)
{
    Running *r = ud;
    Streams *svc = r->svc;
    if (f && r->action) { /* a failed action leaves the record as it was */
        answer(r, NULL, f);
        running_end(r);
        return;
    }
    ReplicationStream rec;
    stream_copy(&rec, s);
    settle(&rec, f);
    save(svc, &rec, NULL, NULL);
    publish_state(svc, &rec, NULL);
    if (f)
        log_warn("stream %s: %s", rec.id, f->message);
    else
        log_info("stream %s: %s", rec.id, stream_state_names[rec.state]);
    if (rec.state == STREAM_DROPPED)
        stop_following(svc, rec.id);
    if (rec.state == STREAM_INITIALIZING || rec.state == STREAM_STREAMING)
        start_following(svc, &rec);
    if (f) {
        answer(r, NULL, f);
    } else {
        json_t *out = stream_to_json(&rec);
        if (json_array_size(notes))
            json_object_set(out, "notes", jsonutil_unconst(notes));
        answer(r, out, NULL);
    }
    stream_free(&rec);
    running_end(r);
}

static StreamOpConfig op_config(Running *r)
{
    return (StreamOpConfig){.loop = r->svc->deps.loop,
                            .registry = r->svc->deps.registry,
                            .exit_after = config_get(r->svc->deps.cfg, CFG_TEST_EXIT_AFTER),
                            .changed = op_changed,
                            .done = op_done,
                            .ud = r};
}

/* starts rec's create or drop machine for r (the record is saved) */
static void run_op(Running *r, const ReplicationStream *rec)
{
    StreamOpConfig c = op_config(r);
    stop_following(r->svc, rec->id);
    r->op = streamop_run(&c, rec, r->force);
}

/* ---- requests ---- */

static const char *const request_fields[] = {"source_database_id",
                                             "target_database_id",
                                             "tables",
                                             "all_tables",
                                             "publication",
                                             "subscription",
                                             "slot",
                                             "options",
                                             "force",
                                             "id",
                                             NULL};

/* lower-case letters, digits and _ only (a default name must be a valid slot name) */
static void slot_safe(char *name)
{
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            *p = '_';
}

/* the request with names defaulted and tables qualified, as the model's JSON (new) */
static json_t *normalized(const json_t *body, const DatabaseConfig *src, const DatabaseConfig *tgt)
{
    json_t *out = json_deep_copy(body);
    json_object_del(out, "force");
    json_object_del(out, "id");
    char pub[80], sub[80];
    snprintf(pub, sizeof pub, "pgfleet_%.40s", src ? src->dbname : "db");
    snprintf(sub, sizeof sub, "pgfleet_%.30s_%.20s", src ? src->dbname : "db", tgt ? tgt->id : "t");
    slot_safe(sub);
    if (!json_is_string(json_object_get(out, "publication")))
        json_object_set_new(out, "publication", json_string(pub));
    if (!json_is_string(json_object_get(out, "subscription")))
        json_object_set_new(out, "subscription", json_string(sub));
    if (!json_is_string(json_object_get(out, "slot")))
        json_object_set(out, "slot", json_object_get(out, "subscription"));
    json_t *tables = json_object_get(out, "tables");
    size_t i;
    json_t *x;
    json_array_foreach(tables, i, x) if (json_is_string(x))
    {
        char *q = preflight_qualify(json_string_value(x));
        json_array_set_new(tables, i, json_string(q));
        free(q);
    }
    return out;
}

/* the checks the model cannot make: registered databases, tables or all_tables */
static void check_request(Streams *svc, const json_t *body, Validation *v, PgTarget **src,
                          PgTarget **tgt)
{
    const char *keys[2] = {"source_database_id", "target_database_id"};
    PgTarget **out[2] = {src, tgt};
    for (int i = 0; i < 2; i++) {
        const char *id = jsonutil_str(body, keys[i]);
        if (id && !(*out[i] = registry_find(svc->deps.registry, id)))
            validation_add(v, NULL, keys[i], "not_found", "'%s' is not a registered database", id);
    }
    const char *pub = jsonutil_str(body, "publication");
    if (pub && strchr(pub, '\\'))
        /* PostgreSQL 15 quotes it as E'...' in START_REPLICATION, which its replication
         * grammar rejects: the subscription could never stream */
        validation_add(v, NULL, "publication", "pattern",
                       "may not contain a backslash (PostgreSQL's replication protocol cannot "
                       "carry it)");
    bool all = json_is_true(json_object_get(body, "all_tables"));
    const json_t *tables = json_object_get(body, "tables");
    if (!all && (!json_is_array(tables) || !json_array_size(tables)))
        validation_add(v, NULL, "tables", "required",
                       "is required: [\"schema.table\", ...], or all_tables: true");
}

/* a stream from a request body; false with f filled (422) when it is not one */
static bool request_stream(Streams *svc, const json_t *body, ReplicationStream *s, PgTarget **src,
                           PgTarget **tgt, Failure *f)
{
    Validation v;
    validation_init(&v);
    memset(s, 0, sizeof *s);
    *src = *tgt = NULL;
    if (!json_is_object(body)) {
        validation_add(&v, NULL, "(body)", "type", "must be a JSON object");
        validation_to_failure(&v, f);
        return false;
    }
    v_no_unknown(&v, body, NULL, request_fields);
    check_request(svc, body, &v, src, tgt);
    json_t *norm =
        normalized(body, *src ? pgtarget_config(*src) : NULL, *tgt ? pgtarget_config(*tgt) : NULL);
    bool ok = stream_from_json(s, norm, &v) && validation_ok(&v);
    json_decref(norm);
    if (!ok) {
        validation_to_failure(&v, f);
        stream_free(s);
    }
    return ok;
}

/* ---- validate ---- */

typedef struct Ask {
    DoneCb cb;
    void *ud;
} Ask;

static void validated(void *ud, json_t *result, const Failure *f)
{
    Ask *a = ud;
    json_object_del(result, "publication_exists");
    a->cb(a->ud, result, f);
    free(a);
}

void streams_validate(Streams *svc, const json_t *body, DoneCb cb, void *ud)
{
    ReplicationStream s;
    PgTarget *src, *tgt;
    Failure f = {0};
    if (!request_stream(svc, body, &s, &src, &tgt, &f)) {
        failure_report(&f, cb, ud);
        return;
    }
    Ask *a = xmalloc(sizeof *a);
    a->cb = cb;
    a->ud = ud;
    streamcheck_run(src, tgt, &s, false, validated, a);
    stream_free(&s);
}

/* ---- create ---- */

static void create_recorded(void *ud, PgfError err, const char *errmsg)
{
    Running *r = ud;
    if (err != PGF_OK) {
        Failure f = {0};
        failure_store(&f, err, "record the stream (nothing was created)", errmsg);
        answer(r, NULL, &f);
        failure_clear(&f);
        running_end(r);
        return;
    }
    if (r->svc->closing) {
        running_end(r);
        return;
    }
    answer(r, stream_to_json(&r->rec), NULL); /* 202: the copy is followed on stream:<id> */
    publish_state(r->svc, &r->rec, NULL);
    log_info("stream %s: creating (from step %s)", r->id, stream_step_names[r->rec.step]);
    run_op(r, &r->rec);
}

/* the checks answered: refuse, or record the intent and create */
static void create_checked(void *ud, json_t *result, const Failure *f)
{
    Running *r = ud;
    if (f || r->svc->closing) {
        if (f)
            answer(r, NULL, f);
        running_end(r);
        json_decref(result);
        return;
    }
    json_int_t errors = json_integer_value(json_object_get(result, "errors")),
               warnings = json_integer_value(json_object_get(result, "warnings"));
    json_t *checks = json_object_get(result, "checks");
    Failure ff = {0};
    if (errors)
        failure_set(&ff, PGF_ERR_VALIDATION, json_pack("{s:O}", "checks", checks),
                    "see error.checks: each failed check names its fix",
                    "the stream was not created: %lld check(s) failed", (long long)errors);
    else if (warnings && !r->force)
        failure_set(&ff, PGF_ERR_CONFLICT, json_pack("{s:O}", "checks", checks), "see error.checks",
                    "%lld warning(s): send again with \"force\": true to create anyway",
                    (long long)warnings);
    if (ff.code) {
        answer(r, NULL, &ff);
        failure_clear(&ff);
        running_end(r);
        json_decref(result);
        return;
    }
    ReplicationStream *rec = &r->rec;
    if (rec->state != STREAM_CREATING) { /* a new create; a resumed one keeps what it knew */
        rec->publication_created = !json_is_true(json_object_get(result, "publication_exists"));
        rec->slot_created = rec->options.create_slot;
    }
    if (rec->step < STEP_PUBLICATION || rec->step > STEP_SUBSCRIPTION)
        rec->step = STEP_PUBLICATION;
    json_decref(rec->checks);
    rec->checks = json_incref(checks);
    stream_set_state(rec, STREAM_CREATING, NULL);
    json_decref(result);
    save(r->svc, rec, create_recorded, r);
}

static void resume_loaded(Streams *svc, void *ud, ReplicationStream *rec, const Failure *f)
{
    Running *r = ud;
    if (f) {
        answer(r, NULL, f);
        running_end(r);
        return;
    }
    PgTarget *src = registry_find(svc->deps.registry, rec->source_database_id);
    PgTarget *tgt = registry_find(svc->deps.registry, rec->target_database_id);
    bool interrupted = rec->state == STREAM_CREATING ||
                       (rec->state == STREAM_ERROR && rec->step >= STEP_PUBLICATION &&
                        rec->step <= STEP_SUBSCRIPTION);
    Failure ff = {0};
    if (!interrupted)
        failure_set(&ff, PGF_ERR_CONFLICT, NULL, "to create a new stream, leave out id",
                    "stream '%s' exists (state %s): only an interrupted create can be finished",
                    rec->id, stream_state_names[rec->state]);
    else if (!src || !tgt)
        failure_set(&ff, PGF_ERR_NOT_FOUND, NULL, "register the databases again with the same ids",
                    "the stream's databases are no longer registered");
    if (ff.code) {
        answer(r, NULL, &ff);
        failure_clear(&ff);
        running_end(r);
        return;
    }
    stream_copy(&r->rec, rec);
    r->rec.state = STREAM_CREATING; /* warnings were accepted when it was first created */
    r->force = true;
    log_info("stream %s: finishing an interrupted create", rec->id);
    streamcheck_run(src, tgt, &r->rec, true, create_checked, r);
}

void streams_create(Streams *svc, const json_t *body, const char *by, DoneCb cb, void *ud)
{
    Failure f = {0};
    const char *id = jsonutil_str(body, "id");
    if (store_state(svc->deps.store) != STORE_READY) {
        failure_store(&f, PGF_ERR_STORE_DOWN, "record the stream",
                      "the state store is not available (nothing was created)");
        failure_report(&f, cb, ud);
        return;
    }
    if (id) { /* finishing an interrupted create */
        Running *r = running_new(svc, id, cb, ud);
        if (r)
            load(svc, id, resume_loaded, r);
        return;
    }
    ReplicationStream s;
    PgTarget *src, *tgt;
    if (!request_stream(svc, body, &s, &src, &tgt, &f)) {
        failure_report(&f, cb, ud);
        return;
    }
    Running *r = running_new(svc, s.id, cb, ud);
    r->rec = s;
    r->rec.created_by = by ? xstrdup(by) : NULL;
    r->force = json_is_true(json_object_get(body, "force"));
    streamcheck_run(src, tgt, &r->rec, false, create_checked, r);
}

/* ---- actions and drop ---- */

typedef struct ActionReq {
    Running *r;
    StreamAction action;
    bool drop, force;
    json_t *add, *remove;
} ActionReq;

static void action_req_free(ActionReq *a)
{
    json_decref(a->add);
    json_decref(a->remove);
    free(a);
}

static void action_loaded(Streams *svc, void *ud, ReplicationStream *rec, const Failure *f)
{
    ActionReq *a = ud;
    Running *r = a->r;
    Failure ff = {0};
    if (f)
        answer(r, NULL, f);
    else if (rec->state == STREAM_DROPPED)
        failure_set(&ff, PGF_ERR_NOT_FOUND, NULL, "list them: GET /api/replication/streams",
                    "no stream '%s' (it was dropped)", rec->id);
    else if (!registry_find(svc->deps.registry, rec->source_database_id) ||
             !registry_find(svc->deps.registry, rec->target_database_id))
        failure_set(&ff, PGF_ERR_NOT_FOUND, NULL, "register the databases again with the same ids",
                    "the stream's databases are no longer registered");
    if (f || ff.code) {
        if (ff.code)
            answer(r, NULL, &ff);
        failure_clear(&ff);
        running_end(r);
        action_req_free(a);
        return;
    }
    stop_following(svc, rec->id);
    if (a->drop) {
        if (rec->state != STREAM_DROPPING && rec->state != STREAM_ERROR)
            rec->step = STEP_NONE;
        if (rec->step < STEP_DISABLE) /* a failed create, or none in progress */
            rec->step = STEP_DISABLE;
        stream_set_state(rec, STREAM_DROPPING, NULL);
        save(svc, rec, NULL, NULL);
        publish_state(svc, rec, NULL);
        r->force = a->force;
        run_op(r, rec);
    } else {
        StreamOpConfig c = op_config(r);
        r->action = true;
        r->op = streamop_action(&c, rec, a->action, a->add, a->remove);
    }
    action_req_free(a);
}

static void start_action(Streams *svc, const char *id, ActionReq *a, DoneCb cb, void *ud)
{
    a->r = running_new(svc, id, cb, ud);
    if (!a->r) {
        action_req_free(a);
        return;
    }
    load(svc, id, action_loaded, a);
}

/* add/remove: arrays of table names, qualified; false with f filled when malformed */
static bool table_lists(const json_t *body, ActionReq *a, Failure *f)
{
    Validation v;
    validation_init(&v);
    const char *keys[2] = {"add", "remove"};
    json_t **dst[2] = {&a->add, &a->remove};
    for (int w = 0; w < 2; w++) {
        *dst[w] = json_array();
        const json_t *list = json_object_get(body, keys[w]);
        if (list && !json_is_array(list))
            validation_add(&v, NULL, keys[w], "type", "must be an array of table names");
        size_t i;
        const json_t *x;
        json_array_foreach(list, i, x)
        {
            const char *t = json_string_value(x);
            if (!t || !*t || strlen(t) > 127 || !validate_string_rule(t, STR_PG_NAME)) {
                validation_add(&v, keys[w], "item", "type", "each table is a name, schema.table");
                continue;
            }
            char *q = preflight_qualify(t);
            json_array_append_new(*dst[w], json_string(q));
            free(q);
        }
    }
    if (validation_ok(&v) && !json_array_size(a->add) && !json_array_size(a->remove))
        failure_set(f, PGF_ERR_VALIDATION, NULL,
                    "send {\"add\": [\"schema.table\"], \"remove\": [...]}",
                    "nothing to add or remove");
    else if (!validation_ok(&v))
        validation_to_failure(&v, f);
    return f->code == PGF_OK;
}

void streams_action(Streams *svc, const char *id, StreamAction action, const json_t *body,
                    DoneCb cb, void *ud)
{
    ActionReq *a = xcalloc(1, sizeof *a);
    a->action = action;
    Failure f = {0};
    if (action == ACTION_TABLES && !table_lists(body, a, &f)) {
        action_req_free(a);
        failure_report(&f, cb, ud);
        return;
    }
    start_action(svc, id, a, cb, ud);
}

void streams_drop(Streams *svc, const char *id, bool force, DoneCb cb, void *ud)
{
    ActionReq *a = xcalloc(1, sizeof *a);
    a->drop = true;
    a->force = force;
    start_action(svc, id, a, cb, ud);
}

/* ---- listing ---- */

static const json_t *live_edge(const json_t *topo, const char *sub)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(topo, "edges"), i, e)
    {
        const char *s = jsonutil_str(e, "subscription");
        if (s && !strcmp(s, sub))
            return e;
    }
    return NULL;
}

/* a managed stream as listed: the record without its checks, with its live edge */
static json_t *listed(const ReplicationStream *s, const json_t *topo)
{
    json_t *r = stream_to_json(s);
    json_object_del(r, "checks");
    const json_t *e = topo ? live_edge(topo, s->subscription) : NULL;
    if (e)
        json_object_set_new(r, "live",
                            json_pack("{s:O, s:O, s:O, s:O}", "state", json_object_get(e, "state"),
                                      "lag_bytes", json_object_get(e, "lag_bytes"), "from",
                                      json_object_get(e, "from"), "to", json_object_get(e, "to")));
    json_object_set_new(r, "managed", json_true());
    return r;
}

static json_t *member_or_null(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v ? v : json_null();
}

/* the streams pgfleet did not make: physical edges, and subscriptions it does not know */
static void discovered(json_t *out, const json_t *known, const json_t *topo)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(topo, "edges"), i, e)
    {
        const char *sub = jsonutil_str(e, "subscription"), *kind = jsonutil_str(e, "kind");
        bool physical = kind && !strcmp(kind, "physical");
        if (!physical && (!sub || json_object_get(known, sub)))
            continue;
        json_t *o = json_pack("{s:n, s:b, s:s}", "id", "managed", 0, "kind",
                              physical ? "physical" : "logical");
        const char *keys[] = {"from",
                              "to",
                              "slot",
                              "state",
                              "lag_bytes",
                              "subscription",
                              "source_database",
                              "target_database",
                              "publications",
                              NULL};
        for (const char *const *k = keys; *k; k++)
            if (json_object_get(e, *k))
                json_object_set(o, *k, json_object_get(e, *k));
        if (physical)
            json_object_set(o, "replay_lag_seconds", member_or_null(e, "replay_lag_seconds"));
        json_array_append_new(out, o);
    }
}

typedef struct List {
    Streams *svc;
    char id[80]; /* one, or "" for all */
    json_t *topo;
    DoneCb cb;
    void *ud;
} List;

static void list_read(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *fields, const char *const *values, const size_t *lens)
{
    List *q = ud;
    Failure f = {0};
    json_t *out = json_array(), *known = json_object();
    if (err != PGF_OK)
        failure_store(&f, err, "read streams", errmsg);
    for (size_t i = 0; i < n && !f.code; i++) {
        ReplicationStream s;
        if (!record_parse(fields[i], values[i], lens[i], &s))
            continue;
        json_object_set_new(known, s.subscription ? s.subscription : "", json_true());
        if (s.state != STREAM_DROPPED)
            json_array_append_new(out, listed(&s, q->topo));
        stream_free(&s);
    }
    if (!f.code) {
        if (q->topo)
            discovered(out, known, q->topo);
        q->cb(q->ud,
              json_pack("{s:I, s:O}", "count", (json_int_t)json_array_size(out), "streams", out),
              NULL);
    } else
        failure_report(&f, q->cb, q->ud);
    json_decref(out);
    json_decref(known);
    json_decref(q->topo);
    svc_unref(q->svc);
    free(q);
}

void streams_list(Streams *svc, const json_t *topology, DoneCb cb, void *ud)
{
    List *q = xcalloc(1, sizeof *q);
    q->svc = svc;
    q->topo = json_incref(jsonutil_unconst(topology));
    q->cb = cb;
    q->ud = ud;
    svc->refs++;
    if (store_hgetall(svc->deps.store, KEY_STREAMS, list_read, q) != PGF_OK)
        list_read(q, PGF_ERR_STORE_DOWN, "the state store is not available", 0, NULL, NULL, NULL);
}

typedef struct Get {
    json_t *topo;
    DoneCb cb;
    void *ud;
} Get;

static void got(Streams *svc, void *ud, ReplicationStream *rec, const Failure *f)
{
    (void)svc;
    Get *g = ud;
    if (f)
        g->cb(g->ud, NULL, f);
    else
        g->cb(g->ud, listed(rec, g->topo), NULL);
    json_decref(g->topo);
    free(g);
}

void streams_get(Streams *svc, const char *id, const json_t *topology, DoneCb cb, void *ud)
{
    Get *g = xcalloc(1, sizeof *g);
    g->topo = json_incref(jsonutil_unconst(topology));
    g->cb = cb;
    g->ud = ud;
    load(svc, id, got, g);
}

/* ---- start-up recovery ---- */

static bool following(const Streams *svc, const char *id)
{
    for (const FollowLink *l = svc->follows; l; l = l->next)
        if (!strcmp(follow_stream_id(l->f), id))
            return true;
    return false;
}

/* in progress and nobody alive works on it: ours from before a restart, or a dead instance's */
static bool orphaned(const Streams *svc, const ReplicationStream *s)
{
    if (!stream_state_in_progress(s->state) && s->state != STREAM_INITIALIZING)
        return false;
    if (running_find((Streams *)(uintptr_t)svc, s->id) || following(svc, s->id))
        return false;
    if (!s->owner || !svc->deps.instance || !strcmp(s->owner, svc->deps.instance))
        return true;
    return !svc->deps.alive || !svc->deps.alive(svc->deps.alive_ud, s->owner);
}

static void recover_one(Streams *svc, ReplicationStream *s)
{
    if (!orphaned(svc, s))
        return;
    if (s->owner && svc->deps.instance && strcmp(s->owner, svc->deps.instance) != 0)
        log_warn("stream %s: instance %s stopped working on it; this one takes over", s->id,
                 s->owner);
    if (s->state == STREAM_INITIALIZING) {
        log_info("stream %s: following its initial copy again", s->id);
        start_following(svc, s);
        return;
    }
    if (!stream_state_in_progress(s->state))
        return;
    Running *r = running_new(svc, s->id, NULL, NULL);
    if (!r)
        return;
    log_warn("stream %s: resuming an interrupted %s from step %s", s->id,
             s->state == STREAM_CREATING ? "create" : "drop", stream_step_names[s->step]);
    run_op(r, s);
}

static void recover_read(void *ud, PgfError err, const char *errmsg, size_t n,
                         const char *const *fields, const char *const *values, const size_t *lens)
{
    Streams *svc = ud;
    svc->recovering = false;
    if (err != PGF_OK)
        log_warn("streams not recovered: could not read them: %s", errmsg);
    for (size_t i = 0; i < n && !svc->closing; i++) {
        ReplicationStream s;
        if (!record_parse(fields[i], values[i], lens[i], &s))
            continue;
        recover_one(svc, &s);
        stream_free(&s);
    }
    svc_unref(svc);
}

void streams_recover(Streams *svc)
{
    if (svc->recovering || svc->closing)
        return;
    svc->recovering = true;
    svc->refs++;
    if (store_hgetall(svc->deps.store, KEY_STREAMS, recover_read, svc) != PGF_OK)
        recover_read(svc, PGF_ERR_STORE_DOWN, "the state store is not available", 0, NULL, NULL,
                     NULL);
}

void streams_free(Streams *svc)
{
    if (!svc)
        return;
    svc->closing = true;
    while (svc->follows) {
        Follower *f = svc->follows->f;
        follow_forget(svc, f);
        follow_stop(f);
    }
    Failure f = {0};
    failure_set(&f, PGF_ERR_SHUTTING_DOWN, NULL,
                "the operation resumes from its recorded step when pgfleet starts again",
                "pgfleet is shutting down");
    for (Running *r = svc->running, *next; r; r = next) {
        next = r->next;
        answer(r, NULL, &f);
        if (r->op) {
            streamop_abort(r->op); /* the record keeps its step: the next start resumes it */
            running_end(r);
        }
        /* the others end when what they wait for answers (it sees closing) */
    }
    failure_clear(&f);
    svc_unref(svc);
}
