/*
 * jsonutil: the few jansson conveniences every layer needs.
 */
#ifndef PGFLEET_JSONUTIL_H
#define PGFLEET_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* jansson's iterators take json_t *; they do not modify it */
static inline json_t *jsonutil_unconst(const json_t *v)
{
    return (json_t *)(uintptr_t)v;
}

/* compact, key order preserved; never NULL (aborts on OOM) */
char *jsonutil_dumps(const json_t *value);
/*
 * Parses a whole document of len bytes (no NUL needed). Duplicate keys are
 * rejected. On failure returns NULL and writes "line L column C: reason".
 */
json_t *jsonutil_parse(const char *buf, size_t len, char *err, size_t errlen);
/* "2026-11-26T14:55:01Z" for now */
void jsonutil_now_rfc3339(char *buf, size_t len);
/* a JSON string of text from outside: invalid UTF-8 becomes U+FFFD (new reference; null for
 * NULL) */
json_t *jsonutil_lossy_string(const char *s);
/* a JSON string, or null when s is NULL (new reference) */
json_t *jsonutil_string_or_null(const char *s);
/* a member that is a string, or NULL */
const char *jsonutil_str(const json_t *obj, const char *key);

#endif
