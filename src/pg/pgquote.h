/*
 * pgquote: PostgreSQL quoting, for the statements that cannot take
 * parameters (DDL) and for connection strings.
 *
 * Literals and identifiers double their quote character; every pgfleet
 * session runs with standard_conforming_strings on, so a backslash in a
 * literal is only a backslash. A literal containing a backslash is written
 * as an E'' string with the backslash doubled, which reads the same whatever
 * the setting. Conninfo values are single-quoted with ' and \ escaped by a
 * backslash (libpq's rule). NUL cannot occur: C strings end there.
 */
#ifndef PGFLEET_PGQUOTE_H
#define PGFLEET_PGQUOTE_H

#include <jansson.h>

#include "common/strbuf.h"

/* 'v' (or E'v' when v has a backslash) */
void pgquote_literal(StrBuf *sb, const char *v);
/* "v" */
void pgquote_ident(StrBuf *sb, const char *v);
/* "schema.table" -> "schema"."table"; a name without a dot is one identifier */
void pgquote_qualified(StrBuf *sb, const char *qualified);
/* appends " k='v'" (no leading space when sb is empty) */
void pgquote_conninfo_kv(StrBuf *sb, const char *k, const char *v);
/* a text[] parameter value {"a","b"} of an array of strings (new string) */
char *pgquote_text_array(const json_t *names);

#endif
