#include "common/jsonutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

char *jsonutil_dumps(const json_t *value)
{
    if (!value) /* a json_pack that failed (a bug): null, rather than a crash */
        return xstrdup("null");
    char *s = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                    JSON_REAL_PRECISION(6));
    if (!s) {
        fprintf(stderr, "pgfleet: json_dumps failed (out of memory)\n");
        abort();
    }
    return s;
}

/* the length of the valid UTF-8 sequence at p (1-4), or 0 */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0   ? 2
               : (p[0] & 0xF0) == 0xE0 ? 3
               : (p[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (!n || (n == 2 && p[0] < 0xC2) || (n == 4 && p[0] > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    unsigned cp = n == 2 ? (p[0] & 0x1Fu) : n == 3 ? (p[0] & 0x0Fu) : (p[0] & 0x07u);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (p[i] & 0x3Fu);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && cp < 0x10000))
        return 0;
    return n;
}

json_t *jsonutil_lossy_string(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    StrBuf sb = STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (n) {
            strbuf_append(&sb, (const char *)p, n);
            p += n;
        } else {
            strbuf_puts(&sb, "\xEF\xBF\xBD"); /* U+FFFD */
            p++;
        }
    }
    j = json_string(sb.data ? sb.data : "");
    strbuf_free(&sb);
    return j;
}

json_t *jsonutil_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v)
        snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    return v;
}

void jsonutil_now_rfc3339(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *jsonutil_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

json_t *jsonutil_string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}
