#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "common/jsonutil.h"
#include "common/mask.h"
#include "common/strbuf.h"

static LogLevel log_min_level = LOG_INFO;
static LogFormat log_format = LOG_FORMAT_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(LogLevel level, LogFormat format)
{
    log_min_level = level;
    log_format = format;
}

bool log_enabled(LogLevel level)
{
    return level >= log_min_level;
}

bool log_level_parse(const char *name, LogLevel *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (LogLevel)i;
            return true;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_WARN;
        return true;
    }
    return false;
}

bool log_format_parse(const char *name, LogFormat *out)
{
    if (strcasecmp(name, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else if (strcasecmp(name, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else
        return false;
    return true;
}

static void format_time(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static void write_line(StrBuf *line)
{
    strbuf_append(line, "\n", 1);
    /* one write per event keeps lines whole when several processes share stderr */
    fwrite(line->data, 1, line->len, stderr);
    fflush(stderr);
}

static void emit_json(LogLevel level, const char *ts, const char *request_id, json_t *fields,
                      const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "msg", jsonutil_lossy_string(msg));
    if (request_id)
        json_object_set_new(o, "request_id", json_string(request_id));
    if (fields)
        json_object_update_missing(o, fields);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII |
                                JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!s)
        return;
    StrBuf line = STRBUF_INIT;
    strbuf_puts(&line, s);
    free(s);
    write_line(&line);
    strbuf_free(&line);
}

/* text from outside (paths, messages) on one line: control characters as \n, \xHH */
static void put_escaped(StrBuf *line, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            strbuf_puts(line, "\\n");
        else if (*p == '\t')
            strbuf_puts(line, "\\t");
        else if (*p == '\r')
            strbuf_puts(line, "\\r");
        else if (*p < 0x20 || *p == 0x7f)
            strbuf_printf(line, "\\x%02x", *p);
        else
            strbuf_append(line, (const char *)p, 1);
    }
}

static void emit_text(LogLevel level, const char *ts, const char *request_id, json_t *fields,
                      const char *msg)
{
    StrBuf line = STRBUF_INIT;
    strbuf_printf(&line, "%s %-5s ", ts, level_names[level]);
    if (request_id)
        strbuf_printf(&line, "[%s] ", request_id);
    put_escaped(&line, msg);
    const char *key;
    json_t *value;
    json_object_foreach(fields, key, value)
    {
        if (json_is_string(value)) {
            strbuf_printf(&line, " %s=", key);
            put_escaped(&line, json_string_value(value));
        } else {
            char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
            strbuf_printf(&line, " %s=%s", key, s ? s : "?");
            free(s);
        }
    }
    write_line(&line);
    strbuf_free(&line);
}

/* string fields that hold a secret, masked (collected first: the object is not changed
 * while it is iterated) */
static void mask_fields(json_t *fields)
{
    json_t *masked = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(fields, key, value) if (json_is_string(value) &&
                                                mask_has_secret(json_string_value(value)))
    {
        char *m = mask_secrets_dup(json_string_value(value));
        json_object_set_new(masked, key, json_string(m));
        free(m);
    }
    json_object_update(fields, masked);
    json_decref(masked);
}

void log_event(LogLevel level, const char *request_id, json_t *fields, const char *fmt, ...)
{
    if (!log_enabled(level)) {
        json_decref(fields);
        return;
    }
    char ts[40];
    format_time(ts, sizeof ts);

    StrBuf msg = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&msg, fmt, ap);
    va_end(ap);

    /* no secret reaches a log line, whatever the caller passed */
    char *m = mask_secrets_dup(msg.data ? msg.data : "");
    mask_fields(fields);
    if (log_format == LOG_FORMAT_JSON)
        emit_json(level, ts, request_id, fields, m);
    else
        emit_text(level, ts, request_id, fields, m);
    free(m);
    strbuf_free(&msg);
    json_decref(fields);
}
