/*
 * table: cells are kept as one array of strings, row after row (the headings first); a
 * note is kept beside its row. Widths are measured when the table is rendered.
 */
#include "common/table.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

typedef struct Row {
    char **cells;
    char *note;
} Row;

struct Table {
    size_t ncols;
    bool *right;
    Row *rows; /* rows[0]: the headings */
    size_t n, cap;
};

static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* a copy with control characters (a newline, a terminal escape from a name someone typed)
 * shown as '?' */
static char *printable(const char *s)
{
    char *c = xstrdup(s);
    for (char *p = c; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return c;
}

static void add(Table *t, const char *const *cells)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rows = xrealloc(t->rows, t->cap * sizeof *t->rows);
    }
    Row *r = &t->rows[t->n++];
    r->cells = xcalloc(t->ncols, sizeof *r->cells);
    r->note = NULL;
    for (size_t c = 0; c < t->ncols; c++)
        r->cells[c] = printable(cells[c] ? cells[c] : "");
}

Table *table_new(size_t ncols, const char *const *headings)
{
    Table *t = xcalloc(1, sizeof *t);
    t->ncols = ncols;
    t->right = xcalloc(ncols, sizeof *t->right);
    add(t, headings);
    return t;
}

void table_align_right(Table *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = true;
}

void table_row(Table *t, const char *const *cells)
{
    add(t, cells);
}

void table_note(Table *t, const char *text)
{
    Row *r = &t->rows[t->n - 1];
    char *clean = printable(text);
    char *old = r->note;
    r->note = old ? xasprintf("%s\n%s", old, clean) : xstrdup(clean);
    free(old);
    free(clean);
}

size_t table_rows(const Table *t)
{
    return t->n - 1;
}

static void pad(StrBuf *out, size_t n)
{
    for (; n > 0; n--)
        strbuf_puts(out, " ");
}

void table_render(const Table *t, StrBuf *out)
{
    size_t *w = xcalloc(t->ncols, sizeof *w);
    for (size_t i = 0; i < t->n; i++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = chars(t->rows[i].cells[c]);
            if (n > w[c])
                w[c] = n;
        }
    size_t indent = 0; /* where the last column starts */
    for (size_t c = 0; c + 1 < t->ncols; c++)
        indent += w[c] + 2;
    for (size_t i = 0; i < t->n; i++) {
        const Row *r = &t->rows[i];
        for (size_t c = 0; c < t->ncols; c++) {
            size_t gap = w[c] - chars(r->cells[c]);
            bool last = c + 1 == t->ncols;
            if (t->right[c])
                pad(out, gap);
            strbuf_puts(out, r->cells[c]);
            if (!last && !t->right[c])
                pad(out, gap);
            if (!last)
                strbuf_puts(out, "  ");
        }
        /* a row that ends in empty cells ends without their padding */
        while (out->len > 0 && out->data[out->len - 1] == ' ')
            out->data[--out->len] = '\0';
        strbuf_puts(out, "\n");
        for (const char *p = r->note; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            pad(out, indent);
            strbuf_append(out, p, len);
            strbuf_puts(out, "\n");
            p = nl ? nl + 1 : p + len;
        }
    }
    free(w);
}

void table_print(Table *t, FILE *f, const char *if_empty)
{
    StrBuf out = STRBUF_INIT;
    if (table_rows(t) == 0 && if_empty)
        strbuf_printf(&out, "%s\n", if_empty);
    else
        table_render(t, &out);
    if (out.data)
        fputs(out.data, f);
    strbuf_free(&out);
    table_free(t);
}

void table_free(Table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        for (size_t c = 0; c < t->ncols; c++)
            free(t->rows[i].cells[c]);
        free(t->rows[i].cells);
        free(t->rows[i].note);
    }
    free(t->rows);
    free(t->right);
    free(t);
}
