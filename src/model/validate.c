#include "model/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

void validation_init(Validation *v)
{
    memset(v, 0, sizeof *v);
}

bool validation_ok(const Validation *v)
{
    return v->count == 0 && v->dropped == 0;
}

const char *validation_path(char *buf, size_t len, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        snprintf(buf, len, "%s.%s", prefix, key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

void validation_add(Validation *v, const char *prefix, const char *field, const char *rule,
                    const char *fmt, ...)
{
    if (v->count >= VALIDATION_MAX) {
        v->dropped++;
        return;
    }
    ValidationError *e = &v->errors[v->count++];
    validation_path(e->field, sizeof e->field, prefix, field);
    snprintf(e->rule, sizeof e->rule, "%s", rule);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool no_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool timestamp_ok(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff]Z */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(shape);
    if (strlen(s) < n + 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
            return false;
    }
    const char *p = s + n;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return false;
        while (is_digit(*p))
            p++;
    }
    return p[0] == 'Z' && p[1] == '\0';
}

bool validate_string_rule(const char *s, StrRule rule)
{
    switch (rule) {
    case STR_ANY:
    case STR_PG_NAME:
        return no_control(s);
    case STR_TEXT:
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') || *p == 0x7f)
                return false;
        return true;
    case STR_IDENT:
        if (!is_alnum(s[0]))
            return false;
        for (const char *p = s; *p; p++)
            if (!is_alnum(*p) && *p != '_' && *p != '-' && *p != '.')
                return false;
        return true;
    case STR_HOST:
        if (!*s || s[0] == '-' || s[0] == '.')
            return false;
        for (const char *p = s; *p; p++)
            if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != ':' && *p != '_')
                return false;
        return true;
    case STR_SLOT:
        for (const char *p = s; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '_'))
                return false;
        return true;
    case STR_ENV_NAME:
        if (is_digit(s[0]))
            return false;
        for (const char *p = s; *p; p++)
            if (!is_alnum(*p) && *p != '_')
                return false;
        return true;
    case STR_HEX64:
        if (strlen(s) != 64)
            return false;
        for (const char *p = s; *p; p++)
            if (!is_digit(*p) && !(*p >= 'a' && *p <= 'f'))
                return false;
        return true;
    case STR_TIMESTAMP:
        return timestamp_ok(s);
    case STR_USERNAME:
        if (!is_alnum(s[0]))
            return false;
        for (const char *p = s; *p; p++)
            if (!is_alnum(*p) && !strchr("._@+-", *p))
                return false;
        return true;
    }
    return false;
}

static const char *rule_text(StrRule rule)
{
    switch (rule) {
    case STR_ANY:
    case STR_PG_NAME:
        return "must not contain control characters";
    case STR_TEXT:
        return "must not contain control characters other than newlines and tabs";
    case STR_IDENT:
        return "must start with a letter or digit and contain only letters, digits, '_', '-', "
               "'.'";
    case STR_HOST:
        return "must be a host name or an IP address (letters, digits, '-', '.', ':')";
    case STR_SLOT:
        return "must contain only lower-case letters, digits and '_'";
    case STR_ENV_NAME:
        return "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
    case STR_HEX64:
        return "must be 64 lower-case hex digits (sha256)";
    case STR_TIMESTAMP:
        return "must be an RFC 3339 UTC time such as 2026-11-26T14:55:01Z";
    case STR_USERNAME:
        return "must start with a letter or digit and contain only letters, digits, '.', '_', "
               "'@', '+', '-'";
    }
    return "is not valid";
}

static const json_t *member(Validation *v, const json_t *obj, const char *prefix, const char *key,
                            bool required)
{
    const json_t *m = json_object_get(obj, key);
    if (!m || json_is_null(m)) {
        if (required)
            validation_add(v, prefix, key, "required", "is required");
        return NULL;
    }
    return m;
}

static bool check_string(Validation *v, const char *prefix, const char *key, const json_t *m,
                         StrRule rule, size_t min_len, size_t max_len)
{
    if (!json_is_string(m)) {
        validation_add(v, prefix, key, "type", "must be a string");
        return false;
    }
    const char *s = json_string_value(m);
    size_t len = json_string_length(m);
    if (strlen(s) != len) {
        validation_add(v, prefix, key, "pattern", "must not contain NUL characters");
        return false;
    }
    if (len < min_len) {
        validation_add(v, prefix, key, "min_length",
                       min_len == 1 ? "must not be empty" : "must be at least %zu characters",
                       min_len);
        return false;
    }
    if (len > max_len) {
        validation_add(v, prefix, key, "max_length", "must be at most %zu bytes", max_len);
        return false;
    }
    if (!validate_string_rule(s, rule)) {
        validation_add(v, prefix, key, "pattern", "%s", rule_text(rule));
        return false;
    }
    return true;
}

bool v_string(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
              StrRule rule, size_t min_len, size_t max_len, char **out)
{
    const json_t *m = member(v, obj, prefix, key, required);
    if (!m || !check_string(v, prefix, key, m, rule, min_len, max_len))
        return false;
    free(*out);
    *out = xstrdup(json_string_value(m));
    return true;
}

bool v_int(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
           long long min, long long max, long long *out)
{
    const json_t *m = member(v, obj, prefix, key, required);
    if (!m)
        return false;
    if (!json_is_integer(m)) {
        validation_add(v, prefix, key, "type", "must be an integer");
        return false;
    }
    long long n = json_integer_value(m);
    if (n < min || n > max) {
        validation_add(v, prefix, key, "range", "must be between %lld and %lld", min, max);
        return false;
    }
    *out = n;
    return true;
}

bool v_bool(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
            bool *out)
{
    const json_t *m = member(v, obj, prefix, key, required);
    if (!m)
        return false;
    if (!json_is_boolean(m)) {
        validation_add(v, prefix, key, "type", "must be true or false");
        return false;
    }
    *out = json_is_true(m);
    return true;
}

bool v_enum(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
            const char *const *choices, int *out)
{
    const json_t *m = member(v, obj, prefix, key, required);
    if (!m)
        return false;
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        for (int i = 0; choices[i]; i++) {
            if (strcmp(s, choices[i]) == 0) {
                *out = i;
                return true;
            }
        }
    }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
        if (choices[i + 1])
            strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    validation_add(v, prefix, key, "enum", "must be one of: %s", list);
    return false;
}

bool v_string_array(Validation *v, const json_t *obj, const char *prefix, const char *key,
                    bool required, StrRule rule, size_t max_len, size_t max_items, char ***out,
                    size_t *count)
{
    const json_t *m = member(v, obj, prefix, key, required);
    if (!m)
        return false;
    if (!json_is_array(m)) {
        validation_add(v, prefix, key, "type", "must be an array of strings");
        return false;
    }
    size_t n = json_array_size(m);
    if (n > max_items) {
        validation_add(v, prefix, key, "max_items", "must have at most %zu items", max_items);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        char item[160];
        snprintf(item, sizeof item, "%s[%zu]", key, i);
        if (!check_string(v, prefix, item, json_array_get(m, i), rule, 1, max_len))
            ok = false;
    }
    if (!ok)
        return false;
    string_array_free(*out, *count);
    *out = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        (*out)[i] = xstrdup(json_string_value(json_array_get(m, i)));
    *count = n;
    return true;
}

void v_no_unknown(Validation *v, const json_t *obj, const char *prefix, const char *const *allowed)
{
    const char *key;
    const json_t *value;
    json_object_foreach(jsonutil_unconst(obj), key, value)
    {
        bool known = false;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(key, *a) == 0) {
                known = true;
                break;
            }
        }
        if (!known)
            validation_add(v, prefix, key, "unknown_field", "is not a known field");
    }
}

const json_t *v_object(Validation *v, const json_t *obj, const char *prefix, const char *key,
                       bool required)
{
    const json_t *m = member(v, obj, prefix, key, required);
    if (!m)
        return NULL;
    if (!json_is_object(m)) {
        validation_add(v, prefix, key, "type", "must be an object");
        return NULL;
    }
    return m;
}

json_t *validation_to_json(const Validation *v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < v->count; i++) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "field", v->errors[i].field, "rule",
                                           v->errors[i].rule, "message", v->errors[i].message));
    }
    return a;
}

const char *validation_first_message(const Validation *v, char *buf, size_t len)
{
    if (v->count == 0) {
        snprintf(buf, len, "%s", "");
    } else if (v->count == 1) {
        snprintf(buf, len, "%s: %s", v->errors[0].field, v->errors[0].message);
    } else {
        snprintf(buf, len, "%s: %s (and %zu more)", v->errors[0].field, v->errors[0].message,
                 v->count - 1 + v->dropped);
    }
    return buf;
}

void string_array_free(char **items, size_t count)
{
    if (!items)
        return;
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

char **string_array_dup(char *const *items, size_t count)
{
    char **out = xcalloc(count, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        out[i] = xstrdup(items[i]);
    return out;
}

char *model_new_id(const char *kind_prefix)
{
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    char hex[sizeof raw * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    return xasprintf("%s_%s", kind_prefix, hex);
}

bool v_schema_version(Validation *v, const json_t *obj, int current)
{
    long long ver = current;
    if (!v_int(v, obj, NULL, "schema_version", false, 1, 1000000, &ver))
        return !json_object_get(obj, "schema_version");
    if (ver > current) {
        validation_add(v, NULL, "schema_version", "schema_version",
                       "record has schema version %lld; this pgfleet reads up to %d", ver, current);
        return false;
    }
    return true;
}

bool v_model_header(Validation *v, const json_t *obj, int current, const char *const *fields,
                    const char *id_key, const char *id_prefix, char **id)
{
    if (!json_is_object(obj)) {
        validation_add(v, NULL, "(body)", "type", "must be a JSON object");
        return false;
    }
    v_schema_version(v, obj, current);
    v_no_unknown(v, obj, NULL, fields);
    if (!json_object_get(obj, id_key))
        *id = model_new_id(id_prefix);
    else
        v_string(v, obj, NULL, id_key, true, STR_IDENT, 1, 64, id);
    return true;
}

void validation_to_failure(const Validation *v, Failure *f)
{
    char first[512];
    validation_first_message(v, first, sizeof first);
    failure_set(f, PGF_ERR_VALIDATION, json_pack("{s:o}", "fields", validation_to_json(v)),
                "fix the fields listed in error.fields", "validation failed: %s", first);
}

void validation_report(const Validation *v, DoneCb cb, void *ud)
{
    Failure f = {0};
    validation_to_failure(v, &f);
    failure_report(&f, cb, ud);
}
