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
#define QUERY_SCAN 200000 /* entries one query reads at most */

struct Audit {
    Store *store;
    long max;
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
    a->max = max_entries;
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

void audit_record(Audit *a, const AuditEntry *e)
{
    json_t *o = entry_json(e);
    json_decref(e->detail);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    store_stream_add(a->store, "audit", o, a->max, 0);
    json_decref(o);
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
    char user[FIELD_MAX + 1], action[FIELD_MAX + 1];
} Query;

static bool matches(void *fud, const json_t *e)
{
    const Query *q = fud;
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

void audit_query(Audit *a, const AuditQuery *aq, DoneCb cb, void *ud)
{
    Query *q = xcalloc(1, sizeof *q);
    snprintf(q->user, sizeof q->user, "%s", aq->user ? aq->user : "");
    snprintf(q->action, sizeof q->action, "%s", aq->action ? aq->action : "");
    store_query_stream(a->store, "audit", aq->since, aq->until, aq->limit, QUERY_SCAN, matches, q,
                       "entries", "read the audit trail", cb, ud);
}
