#include "logs/logsource.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/rds.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"

#define READ_CHUNK     65536
#define MAX_READ_TICK  (4 * 1024 * 1024) /* per poll, so a huge backlog cannot stall the loop */
#define MAX_PENDING    (1024 * 1024)     /* one record longer than this is dropped */
#define RDS_SKIP_PAGES 20                /* pages skipped to reach the end at start */

struct LogSource {
    uv_loop_t *loop;
    char *node, *database_id, *path, *rds_instance;
    char *dirs; /* PGFLEET_LOG_DIRS */
    LogFormatKind format;
    AwsClient *aws;
    LogEventCb cb;
    void *ud;
    uv_timer_t timer;
    bool closing;
    bool busy; /* an RDS call or a file job is in flight */
    int refs;
    StrBuf pending; /* bytes of an unfinished record */
    uint64_t events;
    char error[300];
    /* file */
    int fd;
    ino_t ino;
    off_t offset;
    bool opened_once;
    char tail[64]; /* the bytes just before offset: a truncate-and-rewrite changes them */
    size_t tail_len;
    /* rds */
    char *rds_file;
    char *rds_marker;
    bool rds_skipping; /* reading to the end of the file found at start */
    int rds_pages;
};

size_t logsource_record_len(const char *buf, size_t len, LogFormatKind fmt)
{
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        if (fmt == LOGF_CSV && buf[i] == '"')
            quoted = !quoted;
        else if (buf[i] == '\n' && !quoted)
            return i + 1;
    }
    return 0;
}

static void set_error(LogSource *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(LogSource *s, const char *fmt, ...)
{
    char msg[sizeof s->error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strcmp(msg, s->error) != 0) /* once per distinct problem, not every poll */
        log_warn("log source for %s: %s", s->node, msg);
    memcpy(s->error, msg, sizeof s->error);
}

static void emit_record(LogSource *s, const char *rec, size_t len)
{
    while (len && (rec[len - 1] == '\n' || rec[len - 1] == '\r'))
        len--;
    LogRecord r;
    if (!logparse_record(rec, len, s->format, &r))
        return;
    json_t *ev = logparse_classify(&r);
    if (!ev)
        return;
    json_object_set_new(ev, "node", json_string(s->node));
    json_object_set_new(ev, "database_id", json_string(s->database_id));
    json_object_set_new(ev, "source",
                        json_pack("{s:s, s:s}", "kind", s->path ? "file" : "rds", "name",
                                  s->path ? s->path : s->rds_instance));
    s->events++;
    s->cb(s->ud, ev);
}

/* appends bytes and emits every complete record */
static void feed(LogSource *s, const char *data, size_t len)
{
    strbuf_append(&s->pending, data, len);
    size_t off = 0, n;
    while ((n = logsource_record_len(s->pending.data + off, s->pending.len - off, s->format)) > 0) {
        emit_record(s, s->pending.data + off, n);
        off += n;
    }
    size_t left = s->pending.len - off;
    if (left > MAX_PENDING) {
        log_warn("log source for %s: dropping a %zu-byte record without an end", s->node, left);
        left = 0;
        off = s->pending.len;
    }
    memmove(s->pending.data, s->pending.data + off, left);
    s->pending.len = left;
    if (s->pending.data)
        s->pending.data[left] = '\0';
}

/* ---- files ----
 *
 * Every file system call runs on the threadpool (a file on a hung NFS mount, or a FIFO a
 * path was swapped for, must never block the loop): the job opens, checks, reads what was
 * appended into `incoming` and notes what happened; the loop then feeds those bytes to the
 * parser. One job at a time; the job alone touches fd, ino, offset and tail while it runs.
 */

static void unref(void *owner);

typedef struct FileJob {
    uv_work_t req;
    LogSource *s;
    StrBuf incoming;
    bool restarted; /* truncated and rewritten: what is pending belongs to the old text */
    char note[400]; /* to log on the loop */
    char error[300];
} FileJob;

static const char *const never_dirs[] = {"/proc/", "/sys/", "/dev/", NULL};

bool logsource_path_allowed(const char *path, const char *dirs, char *why, size_t len)
{
    if (!path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") ||
        (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")) || strstr(path, "//")) {
        snprintf(why, len, "must be an absolute path without . or .. components");
        return false;
    }
    for (const char *const *d = never_dirs; *d; d++)
        if (!strncmp(path, *d, strlen(*d))) {
            snprintf(why, len, "may not be under %s (not a log file)", *d);
            return false;
        }
    char *list = xstrdup(dirs ? dirs : "");
    bool ok = false;
    for (char *save = NULL, *d = strtok_r(list, ",", &save); d && !ok;
         d = strtok_r(NULL, ",", &save)) {
        while (*d == ' ')
            d++;
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
            d[--n] = '\0';
        ok = n > 0 && d[0] == '/' && !strncmp(path, d, n) && path[n] == '/';
    }
    free(list);
    if (!ok)
        snprintf(why, len,
                 dirs && *dirs ? "must be in one of the folders of PGFLEET_LOG_DIRS (%s)"
                               : "cannot be followed: PGFLEET_LOG_DIRS names no folder%s",
                 dirs && *dirs ? dirs : "");
    return ok;
}

/* the file's real place (symlinked folders resolved) is still in an allowed folder */
static bool real_path_allowed(const LogSource *s, char *why, size_t len)
{
    char *real = realpath(s->path, NULL);
    if (!real) {
        snprintf(why, len, "cannot open %s: %s", s->path, strerror(errno));
        return false;
    }
    char *dirs = xstrdup(s->dirs ? s->dirs : "");
    StrBuf resolved = STRBUF_INIT; /* the folders resolved too */
    for (char *save = NULL, *d = strtok_r(dirs, ", ", &save); d; d = strtok_r(NULL, ", ", &save)) {
        char *rd = realpath(d, NULL);
        strbuf_printf(&resolved, "%s%s", resolved.len ? "," : "", rd ? rd : d);
        free(rd);
    }
    bool ok = logsource_path_allowed(real, resolved.data, why, len);
    if (!ok)
        snprintf(why, len, "%s resolves to %s, outside PGFLEET_LOG_DIRS", s->path, real);
    strbuf_free(&resolved);
    free(dirs);
    free(real);
    return ok;
}

/* reads what was appended since the last poll into j->incoming; the bytes read */
static size_t read_more(FileJob *j, size_t budget)
{
    LogSource *s = j->s;
    char buf[READ_CHUNK];
    size_t total = 0;
    while (total < budget) {
        ssize_t n = pread(s->fd, buf, sizeof buf, s->offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            snprintf(j->error, sizeof j->error, "reading %s: %s", s->path, strerror(errno));
        if (n <= 0)
            break;
        s->offset += n;
        total += (size_t)n;
        size_t keep = (size_t)n < sizeof s->tail ? (size_t)n : sizeof s->tail;
        if (keep < sizeof s->tail && s->tail_len + keep > sizeof s->tail) {
            size_t drop = s->tail_len + keep - sizeof s->tail;
            memmove(s->tail, s->tail + drop, s->tail_len - drop);
            s->tail_len -= drop;
        } else if (keep == sizeof s->tail)
            s->tail_len = 0;
        memcpy(s->tail + s->tail_len, buf + (size_t)n - keep, keep);
        s->tail_len += keep;
        strbuf_append(&j->incoming, buf, (size_t)n);
    }
    return total;
}

/* opens the path: never following a last symlink, never blocking, regular files only */
static void open_path(FileJob *j, bool at_end)
{
    LogSource *s = j->s;
    if (!real_path_allowed(s, j->error, sizeof j->error))
        return;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(j->error, sizeof j->error, "cannot open %s: %s", s->path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(j->error, sizeof j->error, "cannot follow %s: not a regular file", s->path);
        close(fd);
        return;
    }
    s->fd = fd;
    s->ino = st.st_ino;
    s->offset = at_end ? st.st_size : 0;
    s->tail_len = 0;
    if (at_end && st.st_size > 0) {
        off_t from = st.st_size > (off_t)sizeof s->tail ? st.st_size - (off_t)sizeof s->tail : 0;
        ssize_t n = pread(fd, s->tail, (size_t)(st.st_size - from), from);
        s->tail_len = n > 0 ? (size_t)n : 0;
    }
    snprintf(j->note, sizeof j->note, "following %s from %s", s->path,
             at_end ? "its end" : "its start");
}

/* the file was truncated and written again past our offset: the bytes before it changed */
static bool rewritten(LogSource *s)
{
    if (s->tail_len == 0)
        return false;
    char now[sizeof s->tail];
    ssize_t n = pread(s->fd, now, s->tail_len, s->offset - (off_t)s->tail_len);
    return n != (ssize_t)s->tail_len || memcmp(now, s->tail, s->tail_len) != 0;
}

/* on the threadpool */
static void file_work(uv_work_t *req)
{
    FileJob *j = req->data;
    LogSource *s = j->s;
    if (s->fd < 0) {
        /* the first open starts at the end; a file that appears later is new: read it all */
        open_path(j, !s->opened_once);
        s->opened_once = true;
        if (s->fd < 0)
            return;
    }
    struct stat now;
    if (fstat(s->fd, &now) == 0 && (now.st_size < s->offset || rewritten(s))) {
        snprintf(j->note, sizeof j->note, "%s was truncated; reading it from the start", s->path);
        s->offset = 0;
        s->tail_len = 0;
        j->restarted = true;
    }
    if (read_more(j, MAX_READ_TICK) >= MAX_READ_TICK)
        return; /* more next poll */
    if (stat(s->path, &now) != 0) {
        if (errno != ENOENT) /* ENOENT: rotated away, the new file not there yet */
            snprintf(j->error, sizeof j->error, "cannot stat %s: %s", s->path, strerror(errno));
        return;
    }
    if (now.st_ino != s->ino) {
        /* rotated: the old file was drained above; continue with the new one */
        close(s->fd);
        s->fd = -1;
        open_path(j, false);
        if (s->fd >= 0)
            read_more(j, MAX_READ_TICK);
    }
}

/* on the loop */
static void file_done(uv_work_t *req, int status)
{
    (void)status;
    FileJob *j = req->data;
    LogSource *s = j->s;
    s->busy = false;
    if (!s->closing) {
        if (j->note[0])
            log_info("log source for %s: %s", s->node, j->note);
        if (j->restarted)
            s->pending.len = 0;
        if (j->error[0])
            set_error(s, "%s", j->error);
        else if (s->fd >= 0)
            s->error[0] = '\0';
        if (j->incoming.len)
            feed(s, j->incoming.data, j->incoming.len);
    }
    strbuf_free(&j->incoming);
    free(j);
    unref(s);
}

static void poll_file(LogSource *s)
{
    if (s->busy)
        return;
    FileJob *j = xcalloc(1, sizeof *j);
    j->s = s;
    j->req.data = j;
    s->busy = true;
    s->refs++;
    uv_queue_work(s->loop, &j->req, file_work, file_done);
}

/* ---- RDS ---- */

static void rds_fetch(LogSource *s);

/* an RDS call came back: false (reference dropped) when closing or failed */
static bool rds_answered(LogSource *s, const AwsResult *r, const char *action)
{
    s->busy = false;
    if (!s->closing && !r->ok)
        set_error(s, "%s %s: %s: %s", action, s->rds_instance, r->code ? r->code : "error",
                  r->message ? r->message : "");
    if (s->closing || !r->ok) {
        unref(s);
        return false;
    }
    s->error[0] = '\0';
    return true;
}

static void rds_portion(void *ud, const json_t *res, const AwsResult *r)
{
    LogSource *s = ud;
    if (!rds_answered(s, r, "DownloadDBLogFilePortion"))
        return;
    const char *data = jsonutil_str(res, "data");
    if (!s->rds_skipping && data)
        feed(s, data, strlen(data));
    const char *marker = jsonutil_str(res, "marker");
    if (marker) {
        free(s->rds_marker);
        s->rds_marker = xstrdup(marker);
    }
    bool more = json_is_true(json_object_get(res, "pending")) && ++s->rds_pages < RDS_SKIP_PAGES;
    if (!more) {
        s->rds_skipping = false;
        s->rds_pages = 0;
    }
    if (more)
        rds_fetch(s); /* takes its own reference first: s stays alive past the unref */
    unref(s);
}

static void rds_fetch(LogSource *s)
{
    s->busy = true;
    s->refs++;
    rds_download_log_portion(s->aws, s->rds_instance, s->rds_file, s->rds_marker, rds_portion, s);
}

static void rds_files(void *ud, const json_t *files, const AwsResult *r)
{
    LogSource *s = ud;
    if (!rds_answered(s, r, "DescribeDBLogFiles"))
        return;
    const json_t *newest = NULL;
    size_t i;
    const json_t *f;
    json_array_foreach(files, i, f)
    {
        if (!newest || json_integer_value(json_object_get(f, "last_written")) >
                           json_integer_value(json_object_get(newest, "last_written")))
            newest = f;
    }
    const char *name = newest ? jsonutil_str(newest, "name") : NULL;
    if (name && (!s->rds_file || strcmp(name, s->rds_file) != 0)) {
        bool first = !s->rds_file;
        /* a new file after rotation is read from its start; the one found at start is skipped */
        free(s->rds_file);
        s->rds_file = xstrdup(name);
        free(s->rds_marker);
        s->rds_marker = NULL;
        s->rds_skipping = first;
        s->pending.len = 0;
    }
    if (s->rds_file)
        rds_fetch(s);
    unref(s);
}

static void poll_rds(LogSource *s)
{
    if (s->busy)
        return;
    s->busy = true;
    s->refs++;
    rds_describe_log_files(s->aws, s->rds_instance, rds_files, s);
}

/* ---- lifecycle ---- */

static void tick(uv_timer_t *t)
{
    LogSource *s = t->data;
    if (s->path)
        poll_file(s);
    else
        poll_rds(s);
}

static LogFormatKind format_for(const char *path, LogFormatKind given)
{
    if (given != LOGF_AUTO)
        return given;
    size_t n = path ? strlen(path) : 0;
    if (n > 4 && strcmp(path + n - 4, ".csv") == 0)
        return LOGF_CSV;
    if (n > 5 && strcmp(path + n - 5, ".json") == 0)
        return LOGF_JSON;
    return LOGF_STDERR;
}

LogSource *logsource_new(const LogSourceOptions *o)
{
    LogSource *s = xcalloc(1, sizeof *s);
    s->loop = o->loop;
    s->node = xstrdup(o->node);
    s->database_id = xstrdup(o->database_id);
    s->path = o->path ? xstrdup(o->path) : NULL;
    s->dirs = o->allowed_dirs ? xstrdup(o->allowed_dirs) : NULL;
    s->rds_instance = o->rds_instance_id ? xstrdup(o->rds_instance_id) : NULL;
    s->aws = o->aws;
    s->format = format_for(o->path, o->format);
    s->cb = o->cb;
    s->ud = o->ud;
    s->fd = -1;
    s->refs = 2; /* the owner and the timer */
    long every = o->poll_ms > 0 ? o->poll_ms : (s->path ? 1000 : 30000);
    uv_timer_init(o->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, tick, 0, (uint64_t)every);
    return s;
}

static void unref(void *owner)
{
    LogSource *s = owner;
    if (--s->refs > 0)
        return;
    if (s->fd >= 0)
        close(s->fd);
    strbuf_free(&s->pending);
    free(s->node);
    free(s->database_id);
    free(s->path);
    free(s->dirs);
    free(s->rds_instance);
    free(s->rds_file);
    free(s->rds_marker);
    free(s);
}

void logsource_free(LogSource *s)
{
    if (!s)
        return;
    s->closing = true;
    uvtimer_close(&s->timer, unref);
    unref(s);
}

json_t *logsource_status(const LogSource *s)
{
    static const char *const fmt_names[] = {"auto", "stderr", "csv", "json"};
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s?}", "kind", s->path ? "file" : "rds",
                          s->path ? "path" : "instance", s->path ? s->path : s->rds_instance,
                          "format", fmt_names[s->format], "events", (json_int_t)s->events, "error",
                          s->error[0] ? s->error : NULL);
    if (s->path) {
        /* how far the file was read, and what waits for the end of its record */
        json_object_set_new(o, "offset", json_integer((json_int_t)s->offset));
        json_object_set_new(o, "pending_bytes", json_integer((json_int_t)s->pending.len));
    }
    return o;
}
