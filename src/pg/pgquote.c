#include "pg/pgquote.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* v between quote characters q; each character of `escaped` is preceded by esc */
static void quoted(StrBuf *sb, const char *v, char q, const char *escaped, char esc)
{
    strbuf_append(sb, &q, 1);
    for (const char *p = v; *p; p++) {
        if (strchr(escaped, *p))
            strbuf_append(sb, esc ? &esc : p, 1); /* esc 0: the character doubles */
        strbuf_append(sb, p, 1);
    }
    strbuf_append(sb, &q, 1);
}

void pgquote_literal(StrBuf *sb, const char *v)
{
    if (strchr(v, '\\')) {
        /* E'' reads the same with standard_conforming_strings on or off */
        strbuf_puts(sb, "E");
        quoted(sb, v, '\'', "'\\", 0);
        return;
    }
    quoted(sb, v, '\'', "'", 0);
}

void pgquote_ident(StrBuf *sb, const char *v)
{
    quoted(sb, v, '"', "\"", 0);
}

void pgquote_qualified(StrBuf *sb, const char *qualified)
{
    const char *dot = strchr(qualified, '.');
    if (!dot) {
        pgquote_ident(sb, qualified);
        return;
    }
    char *schema = xstrndup(qualified, (size_t)(dot - qualified));
    pgquote_ident(sb, schema);
    strbuf_puts(sb, ".");
    pgquote_ident(sb, dot + 1);
    free(schema);
}

void pgquote_conninfo_kv(StrBuf *sb, const char *k, const char *v)
{
    strbuf_printf(sb, "%s%s=", sb->len ? " " : "", k);
    quoted(sb, v, '\'', "\\'", '\\');
}

char *pgquote_text_array(const json_t *names)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "{");
    size_t i;
    const json_t *x;
    json_array_foreach(names, i, x)
    {
        strbuf_puts(&sb, i ? ",\"" : "\"");
        for (const char *p = json_string_value(x); p && *p; p++) {
            if (*p == '"' || *p == '\\')
                strbuf_puts(&sb, "\\");
            strbuf_append(&sb, p, 1);
        }
        strbuf_puts(&sb, "\"");
    }
    strbuf_puts(&sb, "}");
    return strbuf_detach(&sb);
}
