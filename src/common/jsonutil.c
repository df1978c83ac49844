#include "common/jsonutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/xalloc.h"

char *jsonutil_dumps(const json_t *value)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                    JSON_REAL_PRECISION(6));
    if (!s) {
        fprintf(stderr, "pgfleet: json_dumps failed (out of memory)\n");
        abort();
    }
    return s;
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
