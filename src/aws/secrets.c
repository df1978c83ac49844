#include "aws/secrets.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"

typedef struct Waiter {
    AwsJsonCb cb;
    void *ud;
    struct Waiter *next;
} Waiter;

typedef struct Entry {
    char *id;
    json_t *secret;      /* NULL until fetched */
    uint64_t fetched_ms; /* uv_now */
    bool fetching;
    bool invalid; /* fetch again at the next get */
    Waiter *waiters;
    struct Entry *next;
} Entry;

struct SecretsCache {
    AwsClient *c;
    uv_loop_t *loop;
    uint64_t ttl_ms;
    Entry *entries;
    Waiter *ready; /* cache hits, answered by flush */
    Waiter *ready_tail;
    uv_timer_t flush;
    AwsResult ready_result;
    bool closing;
    int fetches;
};

typedef struct ReadyWaiter {
    Waiter w;
    Entry *e;
} ReadyWaiter;

static Entry *find(SecretsCache *s, const char *id)
{
    for (Entry *e = s->entries; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static json_t *with_age(SecretsCache *s, Entry *e, bool cached)
{
    (void)s;
    json_t *o = json_deep_copy(e->secret);
    uint64_t now = (uv_hrtime() / 1000000);
    json_object_set_new(o, "cached", json_boolean(cached));
    json_object_set_new(
        o, "age_seconds",
        json_real(now >= e->fetched_ms ? (double)(now - e->fetched_ms) / 1000.0 : 0));
    return o;
}

static void flush_cb(uv_timer_t *t)
{
    SecretsCache *s = t->data;
    ReadyWaiter *w = (ReadyWaiter *)s->ready;
    s->ready = s->ready_tail = NULL;
    AwsResult r = {.ok = true};
    while (w) {
        ReadyWaiter *next = (ReadyWaiter *)w->w.next;
        json_t *o = with_age(s, w->e, true);
        w->w.cb(w->w.ud, o, &r);
        json_decref(o);
        free(w);
        w = next;
    }
}

typedef struct Fetch {
    SecretsCache *s;
    Entry *e;
} Fetch;

static void fetched(void *ud, const AwsResult *r)
{
    Fetch *f = ud;
    SecretsCache *s = f->s;
    Entry *e = f->e;
    free(f);
    s->fetches--;
    e->fetching = false;
    json_t *got = NULL;
    if (r->ok) {
        char err[128];
        json_t *j = jsonutil_parse(r->body, r->body_len, err, sizeof err);
        const char *value = jsonutil_str(j, "SecretString");
        if (value) {
            got = json_pack("{s:o, s:o, s:o, s:s}", "arn",
                            jsonutil_string_or_null(jsonutil_str(j, "ARN")), "name",
                            jsonutil_string_or_null(jsonutil_str(j, "Name")), "version_id",
                            jsonutil_string_or_null(jsonutil_str(j, "VersionId")), "value", value);
        }
        json_decref(j);
    }
    AwsResult res = *r;
    if (r->ok && !got) {
        res.ok = false;
        res.code = "InvalidResponse";
        res.message = "the secret has no SecretString (binary secrets are not supported)";
        res.hint = "store the credentials as a JSON SecretString (RDS secret format)";
    }
    if (got) {
        const char *old = e->secret ? jsonutil_str(e->secret, "version_id") : NULL;
        const char *neu = jsonutil_str(got, "version_id");
        if (old && neu && strcmp(old, neu) != 0)
            log_info("secret %s has a new version (%s); using it", e->id, neu);
        json_decref(e->secret);
        e->secret = got;
        e->fetched_ms = (uv_hrtime() / 1000000);
        e->invalid = false;
    }
    Waiter *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        Waiter *next = w->next;
        if (got) {
            json_t *o = with_age(s, e, false);
            w->cb(w->ud, o, &res);
            json_decref(o);
        } else {
            w->cb(w->ud, NULL, &res);
        }
        free(w);
        w = next;
    }
}

SecretsCache *secrets_new(AwsClient *c, long ttl_seconds)
{
    SecretsCache *s = xcalloc(1, sizeof *s);
    s->c = c;
    s->loop = aws_client_loop(c);
    s->ttl_ms = (uint64_t)(ttl_seconds > 0 ? ttl_seconds : 0) * 1000;
    uv_timer_init(s->loop, &s->flush);
    s->flush.data = s;
    return s;
}

static void flush_closed(uv_handle_t *h)
{
    free(h->data);
}

void secrets_free(SecretsCache *s)
{
    if (!s)
        return;
    s->closing = true;
    AwsResult r = {.ok = false, .code = "cancelled", .message = "shutting down"};
    ReadyWaiter *w = (ReadyWaiter *)s->ready;
    while (w) {
        ReadyWaiter *next = (ReadyWaiter *)w->w.next;
        w->w.cb(w->w.ud, NULL, &r);
        free(w);
        w = next;
    }
    Entry *e = s->entries;
    while (e) {
        Entry *next = e->next;
        for (Waiter *x = e->waiters; x;) {
            Waiter *nx = x->next;
            x->cb(x->ud, NULL, &r);
            free(x);
            x = nx;
        }
        e->waiters = NULL;
        json_decref(e->secret);
        e->secret = NULL;
        if (!e->fetching) {
            free(e->id);
            free(e);
        }
        e = next;
    }
    s->entries = NULL;
    uv_timer_stop(&s->flush);
    uv_close((uv_handle_t *)&s->flush, flush_closed);
}

void secrets_invalidate(SecretsCache *s, const char *secret_id)
{
    Entry *e = find(s, secret_id);
    if (e)
        e->invalid = true; /* the value stays for the version comparison */
}

static bool stale(const SecretsCache *s, const Entry *e)
{
    if (!e->secret || e->invalid)
        return true;
    return (uv_hrtime() / 1000000) - e->fetched_ms >= s->ttl_ms;
}

void secrets_get(SecretsCache *s, const char *secret_id, AwsJsonCb cb, void *ud)
{
    Entry *e = find(s, secret_id);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->id = xstrdup(secret_id);
        e->next = s->entries;
        s->entries = e;
    }
    if (!e->fetching && !stale(s, e)) {
        ReadyWaiter *w = xcalloc(1, sizeof *w);
        w->w.cb = cb;
        w->w.ud = ud;
        w->e = e;
        if (s->ready_tail)
            s->ready_tail->next = &w->w;
        else
            s->ready = &w->w;
        s->ready_tail = &w->w;
        uv_timer_start(&s->flush, flush_cb, 0, 0);
        return;
    }
    Waiter *w = xcalloc(1, sizeof *w);
    w->cb = cb;
    w->ud = ud;
    w->next = e->waiters;
    e->waiters = w;
    if (e->fetching)
        return;
    e->fetching = true;
    s->fetches++;
    json_t *req = json_pack("{s:s}", "SecretId", secret_id);
    char *body = jsonutil_dumps(req);
    json_decref(req);
    Fetch *f = xmalloc(sizeof *f);
    f->s = s;
    f->e = e;
    aws_call(s->c, &aws_secretsmanager, "GetSecretValue", body, fetched, f);
    free(body);
}

/* ---- list, create, put ---- */

typedef struct Lister {
    AwsClient *c;
    json_t *items;
    char *next;
    int attempts;
    double latency_ms;
    AwsJsonCb cb;
    void *ud;
} Lister;

static void list_page(Lister *l);

static void listed(void *ud, const AwsResult *r)
{
    Lister *l = ud;
    l->attempts += r->attempts;
    l->latency_ms += r->latency_ms;
    AwsResult total = *r;
    total.attempts = l->attempts;
    total.latency_ms = l->latency_ms;
    if (!r->ok) {
        l->cb(l->ud, NULL, &total);
        goto out;
    }
    char err[128];
    json_t *j = jsonutil_parse(r->body, r->body_len, err, sizeof err);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(j, "SecretList"), i, it)
    {
        json_t *lc = json_object_get(it, "LastChangedDate");
        json_array_append_new(
            l->items, json_pack("{s:o, s:o, s:o, s:O}", "name",
                                jsonutil_string_or_null(jsonutil_str(it, "Name")), "arn",
                                jsonutil_string_or_null(jsonutil_str(it, "ARN")), "description",
                                jsonutil_string_or_null(jsonutil_str(it, "Description")),
                                "last_changed", lc ? lc : json_null()));
    }
    free(l->next);
    const char *next = jsonutil_str(j, "NextToken");
    l->next = next ? xstrdup(next) : NULL;
    json_decref(j);
    if (l->next) {
        list_page(l);
        return;
    }
    l->cb(l->ud, l->items, &total);
out:
    json_decref(l->items);
    free(l->next);
    free(l);
}

static void list_page(Lister *l)
{
    json_t *req = json_pack("{s:i}", "MaxResults", 100);
    if (l->next)
        json_object_set_new(req, "NextToken", json_string(l->next));
    char *body = jsonutil_dumps(req);
    json_decref(req);
    aws_call(l->c, &aws_secretsmanager, "ListSecrets", body, listed, l);
    free(body);
}

void secrets_list(AwsClient *c, AwsJsonCb cb, void *ud)
{
    Lister *l = xcalloc(1, sizeof *l);
    l->c = c;
    l->items = json_array();
    l->cb = cb;
    l->ud = ud;
    list_page(l);
}

typedef struct Writer {
    AwsJsonCb cb;
    void *ud;
} Writer;

static void written(void *ud, const AwsResult *r)
{
    Writer *w = ud;
    json_t *o = NULL;
    if (r->ok) {
        char err[128];
        json_t *j = jsonutil_parse(r->body, r->body_len, err, sizeof err);
        o = json_pack("{s:o, s:o, s:o}", "arn", jsonutil_string_or_null(jsonutil_str(j, "ARN")),
                      "name", jsonutil_string_or_null(jsonutil_str(j, "Name")), "version_id",
                      jsonutil_string_or_null(jsonutil_str(j, "VersionId")));
        json_decref(j);
    }
    w->cb(w->ud, o, r);
    json_decref(o);
    free(w);
}

static void write_secret(AwsClient *c, const char *action, const char *id_key, const char *id,
                         const char *value, AwsJsonCb cb, void *ud)
{
    json_t *req = json_pack("{s:s, s:s}", id_key, id, "SecretString", value);
    char *body = jsonutil_dumps(req);
    json_decref(req);
    Writer *w = xmalloc(sizeof *w);
    w->cb = cb;
    w->ud = ud;
    aws_call(c, &aws_secretsmanager, action, body, written, w);
    sodium_memzero(body, strlen(body));
    free(body);
}

void secrets_create(AwsClient *c, const char *name, const char *value, AwsJsonCb cb, void *ud)
{
    write_secret(c, "CreateSecret", "Name", name, value, cb, ud);
}

void secrets_put(AwsClient *c, const char *secret_id, const char *value, AwsJsonCb cb, void *ud)
{
    write_secret(c, "PutSecretValue", "SecretId", secret_id, value, cb, ud);
}

void secrets_delete(AwsClient *c, const char *secret_id, AwsJsonCb cb, void *ud)
{
    json_t *req = json_pack("{s:s, s:b}", "SecretId", secret_id, "ForceDeleteWithoutRecovery", 1);
    char *body = jsonutil_dumps(req);
    json_decref(req);
    Writer *w = xmalloc(sizeof *w);
    w->cb = cb;
    w->ud = ud;
    aws_call(c, &aws_secretsmanager, "DeleteSecret", body, written, w);
    free(body);
}
