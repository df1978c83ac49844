#include "migrate/sqlsplit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/*
 * At the start of a block comment at s[*i]: moves *i past its end (comments
 * nest in PostgreSQL), counting newlines into *line when line is given. False
 * when the comment does not end.
 */
static bool skip_block_comment(const char *s, size_t len, size_t *i, int *line)
{
    int depth = 1;
    size_t k = *i + 2;
    while (k < len && depth) {
        if (s[k] == '\n' && line)
            (*line)++;
        if (s[k] == '/' && k + 1 < len && s[k + 1] == '*') {
            depth++;
            k++;
        } else if (s[k] == '*' && k + 1 < len && s[k + 1] == '/') {
            depth--;
            k++;
        }
        k++;
    }
    *i = k;
    return depth == 0;
}

/* words of a statement, upper-cased, comments skipped: enough to classify it */
static int first_words(const char *s, size_t len, char words[][24], int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
            while (i < len && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
            skip_block_comment(s, len, &i, NULL);
        } else if (isalpha((unsigned char)s[i]) || s[i] == '_') {
            size_t k = 0;
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_')) {
                if (k + 1 < sizeof words[0])
                    words[n][k++] = (char)toupper((unsigned char)s[i]);
                i++;
            }
            words[n++][k] = '\0';
        } else if (isspace((unsigned char)s[i])) {
            i++;
        } else {
            /* punctuation or a quoted name: counts as a word that matches nothing */
            words[n++][0] = '\0';
            i++;
        }
    }
    return n;
}

static bool has_word(char words[][24], int n, const char *w)
{
    for (int i = 0; i < n; i++)
        if (strcmp(words[i], w) == 0)
            return true;
    return false;
}

static void classify(const char *s, size_t len, SqlStmt *st)
{
    char w[12][24];
    memset(w, 0, sizeof w);
    int n = first_words(s, len, w, 12);
    const char *what = NULL;
    bool tx = false;
    if (n == 0)
        return;
    if (!strcmp(w[0], "BEGIN") || !strcmp(w[0], "COMMIT") || !strcmp(w[0], "ROLLBACK") ||
        !strcmp(w[0], "END") || !strcmp(w[0], "ABORT") || !strcmp(w[0], "SAVEPOINT") ||
        !strcmp(w[0], "RELEASE") ||
        (!strcmp(w[0], "START") && n > 1 && !strcmp(w[1], "TRANSACTION")) ||
        (!strcmp(w[0], "PREPARE") && n > 1 && !strcmp(w[1], "TRANSACTION"))) {
        st->tx_control = true;
        snprintf(st->what, sizeof st->what, "%s", w[0]);
        return;
    }
    if (!strcmp(w[0], "VACUUM"))
        what = "VACUUM";
    else if (!strcmp(w[0], "ALTER") && n > 1 && !strcmp(w[1], "SYSTEM"))
        what = "ALTER SYSTEM";
    else if ((!strcmp(w[0], "CREATE") || !strcmp(w[0], "DROP")) && n > 1 &&
             (!strcmp(w[1], "DATABASE") || !strcmp(w[1], "TABLESPACE")))
        what = !strcmp(w[1], "DATABASE") ? "CREATE/DROP DATABASE" : "CREATE/DROP TABLESPACE";
    else if (!strcmp(w[0], "CREATE") && n > 3 &&
             ((!strcmp(w[1], "INDEX") && !strcmp(w[2], "CONCURRENTLY")) ||
              (!strcmp(w[1], "UNIQUE") && !strcmp(w[2], "INDEX") && !strcmp(w[3], "CONCURRENTLY"))))
        what = "CREATE INDEX CONCURRENTLY";
    else if (!strcmp(w[0], "DROP") && n > 2 && !strcmp(w[1], "INDEX") &&
             !strcmp(w[2], "CONCURRENTLY"))
        what = "DROP INDEX CONCURRENTLY";
    else if (!strcmp(w[0], "REINDEX") && has_word(w, n < 6 ? n : 6, "CONCURRENTLY"))
        what = "REINDEX CONCURRENTLY";
    else if (!strcmp(w[0], "REINDEX") && n > 1 &&
             (!strcmp(w[1], "DATABASE") || !strcmp(w[1], "SYSTEM")))
        what = "REINDEX DATABASE/SYSTEM";
    else if (!strcmp(w[0], "CREATE") && n > 1 && !strcmp(w[1], "SUBSCRIPTION"))
        what = "CREATE SUBSCRIPTION";
    else if (!strcmp(w[0], "DROP") && n > 1 && !strcmp(w[1], "SUBSCRIPTION"))
        what = "DROP SUBSCRIPTION";
    (void)tx;
    if (what) {
        st->non_tx = true;
        snprintf(st->what, sizeof st->what, "%s", what);
    }
}

/* the dollar-quote tag at s (e.g. "$fn$" or "$$"), its length, or 0 */
static size_t dollar_tag(const char *s, size_t len)
{
    if (len < 2 || s[0] != '$')
        return 0;
    size_t i = 1;
    if (s[i] == '$')
        return 2;
    if (!(isalpha((unsigned char)s[i]) || s[i] == '_' || (unsigned char)s[i] >= 0x80))
        return 0;
    while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_' || (unsigned char)s[i] >= 0x80))
        i++;
    return i < len && s[i] == '$' ? i + 1 : 0;
}

static void push(SqlScript *out, size_t *cap, const char *sql, size_t start, size_t end, int line)
{
    /* trim space and leading comments; an empty statement is dropped */
    while (start < end) {
        if (isspace((unsigned char)sql[start])) {
            if (sql[start] == '\n')
                line++;
            start++;
        } else if (sql[start] == '-' && start + 1 < end && sql[start + 1] == '-') {
            while (start < end && sql[start] != '\n')
                start++;
        } else if (sql[start] == '/' && start + 1 < end && sql[start + 1] == '*') {
            skip_block_comment(sql, end, &start, &line);
        } else
            break;
    }
    while (end > start && isspace((unsigned char)sql[end - 1]))
        end--;
    if (end <= start)
        return;
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->stmts = xrealloc(out->stmts, *cap * sizeof *out->stmts);
    }
    SqlStmt *st = &out->stmts[out->n++];
    memset(st, 0, sizeof *st);
    st->offset = start;
    st->len = end - start;
    st->line = line;
    classify(sql + start, st->len, st);
}

void sqlsplit(const char *sql, size_t len, SqlScript *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, start = 0, i = 0;
    int line = 1, start_line = 1, open_line = 0;
    int paren = 0; /* a ';' inside parentheses (CREATE RULE ... (a; b)) does not end */
    while (i < len) {
        char c = sql[i];
        if (c == '\n') {
            line++;
            i++;
        } else if (c == '-' && i + 1 < len && sql[i + 1] == '-') {
            while (i < len && sql[i] != '\n')
                i++;
        } else if (c == '/' && i + 1 < len && sql[i + 1] == '*') {
            open_line = line;
            if (!skip_block_comment(sql, len, &i, &line)) {
                out->unterminated = true;
                out->unterminated_line = open_line;
            }
        } else if (c == '\'' || c == '"') {
            /* E'...' : backslash escapes; '' and "" double the quote */
            bool esc = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                       (i < 2 || !(isalnum((unsigned char)sql[i - 2]) || sql[i - 2] == '_'));
            open_line = line;
            i++;
            bool closed = false;
            while (i < len) {
                if (sql[i] == '\n')
                    line++;
                if (esc && sql[i] == '\\' && i + 1 < len) {
                    if (sql[i + 1] == '\n')
                        line++;
                    i += 2;
                    continue;
                }
                if (sql[i] == c) {
                    if (i + 1 < len && sql[i + 1] == c) {
                        i += 2;
                        continue;
                    }
                    i++;
                    closed = true;
                    break;
                }
                i++;
            }
            if (!closed) {
                out->unterminated = true;
                out->unterminated_line = open_line;
            }
        } else if (c == '$' &&
                   !(i > 0 && (isalnum((unsigned char)sql[i - 1]) || sql[i - 1] == '_'))) {
            size_t tl = dollar_tag(sql + i, len - i);
            if (!tl) {
                i++;
                continue;
            }
            open_line = line;
            const char *tag = sql + i;
            i += tl;
            bool closed = false;
            while (i < len) {
                if (sql[i] == '\n')
                    line++;
                if (sql[i] == '$' && len - i >= tl && memcmp(sql + i, tag, tl) == 0) {
                    i += tl;
                    closed = true;
                    break;
                }
                i++;
            }
            if (!closed) {
                out->unterminated = true;
                out->unterminated_line = open_line;
            }
        } else if (c == '(') {
            paren++;
            i++;
        } else if (c == ')') {
            if (paren > 0)
                paren--;
            i++;
        } else if (c == ';' && paren == 0) {
            push(out, &cap, sql, start, i, start_line);
            i++;
            start = i;
            start_line = line;
        } else {
            i++;
        }
    }
    push(out, &cap, sql, start, len, start_line);
}

void sqlsplit_free(SqlScript *s)
{
    free(s->stmts);
    memset(s, 0, sizeof *s);
}
