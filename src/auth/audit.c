#include "auth/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#define FIELD_MAX  256
#define BATCH      "1000"
#define QUERY_SCAN 200000 /* entries one query reads at most */

struct Audit {
    Store *store;
    char maxlen[24];
    int fd; /* -1: no file */
    char *file;
    bool warned_store;
};

Audit *audit_new(Store *store, long max_entries, const char *file, char *err, size_t errlen)
{
    int fd = -1;
    if (file && *file) {
        fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "PGFLEET_AUDIT_FILE: cannot append to %s: %s", file,
                     fd < 0 ? strerror(errno) : "not a regular file");
            if (fd >= 0)
                close(fd);
            return NULL;
        }
    }
    Audit *a = xcalloc(1, sizeof *a);
    a->store = store;
    snprintf(a->maxlen, sizeof a->maxlen, "%ld", max_entries);
    a->fd = fd;
    a->file = file ? xstrdup(file) : NULL;
    return a;
}

void audit_free(Audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    free(a->file);
    free(a);
}

/* a request's string, bounded and without control characters */
static json_t *clean(const char *s)
{
    if (!s)
        return json_null();
    char buf[FIELD_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n < FIELD_MAX; p++)
        buf[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
    buf[n] = '\0';
    return jsonutil_lossy_string(buf);
}

static json_t *entry_json(const AuditEntry *e)
{
    char ts[40];
    jsonutil_now_rfc3339(ts, sizeof ts);
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "user", clean(e->user ? e->user : ""));
    json_object_set_new(o, "method", clean(e->method ? e->method : "none"));
    json_object_set_new(o, "role", clean(e->role ? e->role : "none"));
    json_object_set_new(o, "address", clean(e->address ? e->address : ""));
    json_object_set_new(o, "action", clean(e->action ? e->action : "unknown"));
    json_object_set_new(o, "target", clean(e->target));
    json_object_set_new(o, "result", clean(e->result ? e->result : "ok"));
    json_object_set_new(o, "status", json_integer(e->status));
    json_object_set_new(o, "request_id", clean(e->request_id ? e->request_id : ""));
    if (e->detail)
        json_object_set(o, "detail", e->detail);
    return o;
}

static void stored(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)reply;
    (void)ud;
    if (err != PGF_OK)
        log_error("audit entry not stored in Redis: %s", errmsg ? errmsg : "state store down");
}

void audit_record(Audit *a, const AuditEntry *e)
{
    json_t *o = entry_json(e);
    json_decref(e->detail);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *key = store_key(a->store, "audit");
    const char *argv[] = {"XADD", key, "MAXLEN", "~", a->maxlen, "*", "e", line};
    store_call(a->store, stored, a, 8, argv);
    free(key);
    if (a->fd >= 0) {
        size_t n = strlen(line);
        line[n] = '\n'; /* over the NUL for the one write, put back after */
        ssize_t w = write(a->fd, line, n + 1);
        line[n] = '\0';
        if (w != (ssize_t)(n + 1))
            log_error("audit entry not appended to %s: %s", a->file,
                      w < 0 ? strerror(errno) : "short write");
    }
    free(line);
}

/* ---- query ---- */

typedef struct Query {
    Audit *a;
    char user[FIELD_MAX + 1], action[FIELD_MAX + 1];
    double since, until;
    long limit;
    long scanned;
    char end[64]; /* the next XREVRANGE end */
    char start[32];
    json_t *entries;
    DoneCb cb;
    void *ud;
} Query;

static bool matches(const Query *q, const json_t *e)
{
    const char *user = jsonutil_str(e, "user"), *action = jsonutil_str(e, "action");
    if (q->user[0] && (!user || strcmp(user, q->user)))
        return false;
    if (q->action[0]) {
        size_t n = strlen(q->action);
        bool prefix = q->action[n - 1] == '.';
        if (!action || (prefix ? strncmp(action, q->action, n) : strcmp(action, q->action)))
            return false;
    }
    return true;
}

static void query_finish(Query *q, bool complete)
{
    json_t *r = json_pack("{s:o, s:I, s:b}", "entries", q->entries, "scanned",
                          (json_int_t)q->scanned, "complete", complete);
    q->entries = NULL;
    q->cb(q->ud, r, NULL);
    free(q);
}

static void query_next(Query *q);

static void batch_read(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    Query *q = ud;
    if (err != PGF_OK) {
        Failure f = {0};
        failure_store(&f, err, "read the audit trail", errmsg);
        json_decref(q->entries);
        failure_report(&f, q->cb, q->ud);
        free(q);
        return;
    }
    size_t n = json_array_size(reply), i;
    const json_t *item;
    json_array_foreach(reply, i, item)
    {
        q->scanned++;
        const char *id = json_string_value(json_array_get(item, 0));
        const json_t *fields = json_array_get(item, 1);
        if (id)
            snprintf(q->end, sizeof q->end, "(%s", id);
        const char *text = json_string_value(json_array_get(fields, 1));
        char e[80];
        json_t *entry = text ? jsonutil_parse(text, strlen(text), e, sizeof e) : NULL;
        if (json_is_object(entry) && matches(q, entry))
            json_array_append(q->entries, entry);
        json_decref(entry);
        if ((long)json_array_size(q->entries) >= q->limit) {
            query_finish(q, true);
            return;
        }
    }
    if (n == 0 || q->scanned >= QUERY_SCAN) {
        query_finish(q, n == 0);
        return;
    }
    query_next(q);
}

static void query_next(Query *q)
{
    char *key = store_key(q->a->store, "audit");
    const char *argv[] = {"XREVRANGE", key, q->end, q->start, "COUNT", BATCH};
    store_call(q->a->store, batch_read, q, 6, argv);
    free(key);
}

void audit_query(Audit *a, const AuditQuery *aq, DoneCb cb, void *ud)
{
    Query *q = xcalloc(1, sizeof *q);
    q->a = a;
    snprintf(q->user, sizeof q->user, "%s", aq->user ? aq->user : "");
    snprintf(q->action, sizeof q->action, "%s", aq->action ? aq->action : "");
    q->limit = aq->limit > 0 ? aq->limit : 100;
    if (aq->until > 0)
        snprintf(q->end, sizeof q->end, "%.0f", floor(aq->until * 1000));
    else
        snprintf(q->end, sizeof q->end, "+");
    if (aq->since > 0)
        snprintf(q->start, sizeof q->start, "%.0f", ceil(aq->since * 1000));
    else
        snprintf(q->start, sizeof q->start, "-");
    q->entries = json_array();
    q->cb = cb;
    q->ud = ud;
    query_next(q);
}
