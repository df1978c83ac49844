#include "logs/logparse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"

static const char *const severities[] = {"DEBUG1", "DEBUG2", "DEBUG3",  "DEBUG4", "DEBUG5",
                                         "INFO",   "NOTICE", "WARNING", "ERROR",  "LOG",
                                         "FATAL",  "PANIC",  NULL};

static void copyn(char *dst, size_t dstlen, const char *src, size_t n)
{
    if (dstlen == 0)
        return;
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    /* control characters (a hostile log line) become spaces */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 0x20 && dst[i] != '\t')
            dst[i] = ' ';
}

/* "ERROR:  " at p; returns the severity length or 0 */
static size_t severity_at(const char *p, const char *end)
{
    for (const char *const *s = severities; *s; s++) {
        size_t n = strlen(*s);
        if ((size_t)(end - p) >= n + 3 && memcmp(p, *s, n) == 0 && p[n] == ':' && p[n + 1] == ' ' &&
            p[n + 2] == ' ')
            return n;
    }
    return 0;
}

static bool parse_stderr(const char *t, size_t len, LogRecord *r)
{
    const char *end = t + len;
    /* the first "SEVERITY:  " after the prefix */
    const char *p = t;
    size_t sl = 0;
    for (; p < end; p++) {
        if ((p == t || p[-1] == ' ' || p[-1] == ':') && (sl = severity_at(p, end)))
            break;
    }
    if (!sl)
        return false;
    copyn(r->severity, sizeof r->severity, p, sl);
    const char *msg = p + sl + 3;
    copyn(r->message, sizeof r->message, msg, (size_t)(end - msg));
    /* the prefix: a leading timestamp, a [pid], user@db */
    const char *prefix_end = p;
    if (prefix_end - t >= 19 && isdigit((unsigned char)t[0]) && t[4] == '-' && t[10] == ' ') {
        const char *q = t + 19;
        while (q < prefix_end && (isdigit((unsigned char)*q) || *q == '.'))
            q++;
        if (q < prefix_end && *q == ' ') { /* time zone */
            const char *z = q + 1;
            while (z < prefix_end && isalpha((unsigned char)*z))
                z++;
            if (z > q + 1)
                q = z;
        }
        copyn(r->time, sizeof r->time, t, (size_t)(q - t));
    }
    for (const char *q = t; q < prefix_end; q++) {
        if (*q == '[' && q + 1 < prefix_end && isdigit((unsigned char)q[1])) {
            char *e;
            long pid = strtol(q + 1, &e, 10);
            if (e < prefix_end && *e == ']') {
                r->pid = pid;
                break;
            }
        }
    }
    /* "user@db " right before the severity (Debian's %q%u@%d) or "user=...,db=..." */
    const char *db = NULL;
    for (const char *q = prefix_end - 1; q > t && q[-1] != ' ' && q[-1] != ':' && q[-1] != ']'; q--)
        if (*q == '@')
            db = q;
    if (db) {
        const char *ustart = db;
        while (ustart > t && ustart[-1] != ' ' && ustart[-1] != ':' && ustart[-1] != ']')
            ustart--;
        const char *dend = db + 1;
        while (dend < prefix_end && *dend != ' ' && *dend != ':')
            dend++;
        copyn(r->user, sizeof r->user, ustart, (size_t)(db - ustart));
        copyn(r->database, sizeof r->database, db + 1, (size_t)(dend - db - 1));
    }
    const char *kv = NULL;
    for (const char *q = t; q + 3 < prefix_end; q++)
        if (memcmp(q, "db=", 3) == 0 && (q == t || q[-1] == ',' || q[-1] == ' '))
            kv = q + 3;
    if (kv) {
        size_t n = strcspn(kv, ", ");
        if (kv + n > prefix_end)
            n = (size_t)(prefix_end - kv);
        copyn(r->database, sizeof r->database, kv, n);
    }
    return true;
}

/* splits one csvlog record into fields (quotes, "" escapes, quoted newlines) */
static int csv_fields(const char *t, size_t len, char fields[][1024], int max)
{
    int n = 0;
    size_t i = 0;
    while (i <= len && n < max) {
        size_t o = 0;
        if (i < len && t[i] == '"') {
            i++;
            while (i < len) {
                if (t[i] == '"') {
                    if (i + 1 < len && t[i + 1] == '"') {
                        if (o < 1023)
                            fields[n][o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (o < 1023)
                    fields[n][o++] = t[i];
                i++;
            }
        } else {
            while (i < len && t[i] != ',' && t[i] != '\n') {
                if (o < 1023)
                    fields[n][o++] = t[i];
                i++;
            }
        }
        fields[n][o] = '\0';
        n++;
        if (i >= len || t[i] == '\n')
            break;
        if (t[i] == ',')
            i++;
        else
            return -1; /* garbage after a quoted field */
    }
    return n;
}

static bool parse_csv(const char *t, size_t len, LogRecord *r)
{
    static char f[26][1024];
    int n = csv_fields(t, len, f, 26);
    if (n < 14 || !isdigit((unsigned char)f[0][0]))
        return false;
    copyn(r->time, sizeof r->time, f[0], strlen(f[0]));
    copyn(r->user, sizeof r->user, f[1], strlen(f[1]));
    copyn(r->database, sizeof r->database, f[2], strlen(f[2]));
    r->pid = strtol(f[3], NULL, 10);
    copyn(r->severity, sizeof r->severity, f[11], strlen(f[11]));
    copyn(r->sqlstate, sizeof r->sqlstate, f[12], strlen(f[12]));
    copyn(r->message, sizeof r->message, f[13], strlen(f[13]));
    if (n > 14)
        copyn(r->detail, sizeof r->detail, f[14], strlen(f[14]));
    if (n > 15)
        copyn(r->hint, sizeof r->hint, f[15], strlen(f[15]));
    if (n > 22)
        copyn(r->application, sizeof r->application, f[22], strlen(f[22]));
    if (n > 23)
        copyn(r->backend, sizeof r->backend, f[23], strlen(f[23]));
    return r->severity[0] != '\0';
}

static void jcopy(char *dst, size_t dstlen, const json_t *o, const char *key)
{
    const char *v = jsonutil_str(o, key);
    if (v)
        copyn(dst, dstlen, v, strlen(v));
}

static bool parse_json(const char *t, size_t len, LogRecord *r)
{
    char err[64];
    json_t *o = jsonutil_parse(t, len, err, sizeof err);
    if (!json_is_object(o) || !jsonutil_str(o, "error_severity") || !jsonutil_str(o, "message")) {
        json_decref(o);
        return false;
    }
    jcopy(r->time, sizeof r->time, o, "timestamp");
    jcopy(r->severity, sizeof r->severity, o, "error_severity");
    jcopy(r->sqlstate, sizeof r->sqlstate, o, "state_code");
    jcopy(r->user, sizeof r->user, o, "user");
    jcopy(r->database, sizeof r->database, o, "dbname");
    jcopy(r->application, sizeof r->application, o, "application_name");
    jcopy(r->backend, sizeof r->backend, o, "backend_type");
    jcopy(r->message, sizeof r->message, o, "message");
    jcopy(r->detail, sizeof r->detail, o, "detail");
    jcopy(r->hint, sizeof r->hint, o, "hint");
    r->pid = (long)json_integer_value(json_object_get(o, "pid"));
    json_decref(o);
    return true;
}

bool logparse_record(const char *text, size_t len, LogFormatKind fmt, LogRecord *out)
{
    memset(out, 0, sizeof *out);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (!text || len == 0)
        return false;
    if (fmt == LOGF_AUTO)
        fmt = text[0] == '{' ? LOGF_JSON : LOGF_STDERR;
    switch (fmt) {
    case LOGF_JSON:
        return parse_json(text, len, out);
    case LOGF_CSV:
        return parse_csv(text, len, out);
    case LOGF_STDERR:
    case LOGF_AUTO:
        return parse_stderr(text, len, out);
    }
    return false;
}

/* ---- classification ---- */

typedef struct Rule {
    const char *needle; /* in the message */
    const char *kind;
    const char *severity;
    const char *hint;
} Rule;

static const Rule rules[] = {
    {"has already been removed", "wal_removed", "critical",
     "the downstream needs WAL the upstream no longer has: rebuild it (pg_basebackup), and give "
     "it a replication slot or raise wal_keep_size"},
    {"replication slot \"", "slot_missing", "critical",
     "create the slot on the upstream, or fix primary_slot_name / the subscription's slot_name"},
    {"can no longer get changes from replication slot", "slot_invalidated", "critical",
     "the slot exceeded max_slot_wal_keep_size and was invalidated: drop it and re-create the "
     "subscriber or standby"},
    {"could not connect to the primary server", "upstream_unreachable", "critical",
     "check primary_conninfo, the network and the upstream's pg_hba.conf"},
    {"could not connect to the publisher", "publisher_unreachable", "critical",
     "check the subscription's connection string, the network and the publisher's pg_hba.conf"},
    {"could not receive data from WAL stream", "stream_broken", "warning",
     "the replication connection dropped; it reconnects by itself if the upstream is up"},
    {"has been disabled because of an error", "subscription_disabled", "critical",
     "fix the error above, then ALTER SUBSCRIPTION ... ENABLE (or SKIP the failing transaction)"},
    {"logical replication target relation", "apply_missing_table", "critical",
     "create the table (with the same columns) on the subscriber, then ALTER SUBSCRIPTION ... "
     "REFRESH PUBLICATION"},
    {"duplicate key value violates unique constraint", "apply_conflict", "critical",
     "a row already exists on the subscriber: remove it or ALTER SUBSCRIPTION ... SKIP"},
    {"due to replication timeout", "replication_timeout", "warning",
     "the downstream stopped answering within wal_sender_timeout: check the network and the "
     "downstream's load"},
    {"due to timeout", "replication_timeout", "warning",
     "a replication worker timed out (wal_receiver_timeout): check the network and the upstream"},
    {"number of requested standby connections exceeds max_wal_senders", "wal_senders_exhausted",
     "critical", "raise max_wal_senders (needs a restart) or remove unused downstreams"},
    {"all replication slots are in use", "slots_exhausted", "critical",
     "raise max_replication_slots (needs a restart) or drop unused slots"},
    {"out of logical replication worker slots", "workers_exhausted", "warning",
     "raise max_logical_replication_workers on the subscriber"},
    {"publication \"", "publication_missing", "critical",
     "create the publication on the publisher or fix the subscription's publication list"},
    {"could not start WAL streaming", "stream_start_failed", "critical",
     "the upstream refused to stream: read the rest of the message (slot, timeline, privileges)"},
    {"requested starting point", "stream_start_failed", "critical",
     "the standby asks for WAL the upstream has not written or has removed: check timelines"},
};

/* the first "quoted" name in s, or "" */
static void first_quoted(const char *s, char *out, size_t len)
{
    const char *a = strchr(s, '"');
    const char *b = a ? strchr(a + 1, '"') : NULL;
    if (a && b)
        copyn(out, len, a + 1, (size_t)(b - a - 1));
    else
        out[0] = '\0';
}

json_t *logparse_classify(const LogRecord *r)
{
    const char *m = r->message;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const Rule *rule = &rules[i];
        if (!strstr(m, rule->needle))
            continue;
        /* narrow the generic needles */
        if (strcmp(rule->kind, "slot_missing") == 0 && !strstr(m, "does not exist"))
            continue;
        if (strcmp(rule->kind, "publication_missing") == 0 && !strstr(m, "does not exist"))
            continue;
        /* a unique violation is a replication conflict only in an apply worker */
        if (strcmp(rule->kind, "apply_conflict") == 0 && !strstr(r->backend, "logical replication"))
            continue;
        char object[256];
        first_quoted(m, object, sizeof object);
        char time[40];
        snprintf(time, sizeof time, "%s", r->time);
        /* what PostgreSQL itself logged below ERROR is at most a warning */
        bool below_error = !strcmp(r->severity, "LOG") || !strcmp(r->severity, "WARNING") ||
                           !strcmp(r->severity, "NOTICE") || !strcmp(r->severity, "INFO");
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:I}", "kind", rule->kind, "severity",
            below_error && strcmp(rule->severity, "critical") == 0 ? "warning" : rule->severity,
            "log_severity", r->severity, "message", m, "hint", rule->hint, "pid",
            (json_int_t)r->pid);
        json_object_set_new(o, "time", time[0] ? json_string(time) : json_null());
        json_object_set_new(o, "object", object[0] ? json_string(object) : json_null());
        json_object_set_new(o, "database", r->database[0] ? json_string(r->database) : json_null());
        json_object_set_new(o, "sqlstate", r->sqlstate[0] ? json_string(r->sqlstate) : json_null());
        if (r->detail[0])
            json_object_set_new(o, "detail", json_string(r->detail));
        return o;
    }
    return NULL;
}
