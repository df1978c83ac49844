/*
 * urlenc: percent-encoding for URL query strings and form bodies (RFC 3986:
 * everything but A-Z a-z 0-9 - . _ ~), and decoding form fields.
 */
#ifndef PGFLEET_URLENC_H
#define PGFLEET_URLENC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

void urlenc_append(StrBuf *b, const char *s);
/* new string */
char *urlenc(const char *s);
/* appends "name=value" (encoded) to a query or form, with '&' when needed */
void urlenc_param(StrBuf *b, const char *name, const char *value);
/*
 * The value of name in an application/x-www-form-urlencoded body (new string,
 * '+' and %XX decoded), or NULL when absent or malformed (a bad % escape).
 */
char *urlenc_form_value(const char *body, size_t len, const char *name);

#endif
