/*
 * sqlsplit: a SQL script cut into statements the way PostgreSQL reads it.
 *
 * Semicolons end statements only outside -- and nested block comments,
 * 'strings' (with '' inside), E'strings' (backslash escapes), "quoted
 * identifiers" and $tag$ dollar quotes $tag$. Each statement is classified:
 * whether it cannot run inside a transaction block (CREATE INDEX
 * CONCURRENTLY, VACUUM, ALTER SYSTEM, CREATE DATABASE, ...) and whether it
 * manages transactions itself (BEGIN, COMMIT, ...), which a migration must
 * not do. A pure function, safe on any input (fuzzed).
 */
#ifndef PGFLEET_SQLSPLIT_H
#define PGFLEET_SQLSPLIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct SqlStmt {
    size_t offset, len; /* the statement without the ';' and surrounding space/comments */
    int line;           /* 1-based line of its first character */
    bool non_tx;        /* cannot run in a transaction block */
    bool tx_control;    /* BEGIN, COMMIT, ROLLBACK, ... */
    char what[48];      /* e.g. "CREATE INDEX CONCURRENTLY" for non_tx / tx_control */
} SqlStmt;

typedef struct SqlScript {
    SqlStmt *stmts;
    size_t n;
    bool unterminated; /* a string, identifier, comment or dollar quote left open */
    int unterminated_line;
} SqlScript;

void sqlsplit(const char *sql, size_t len, SqlScript *out);
void sqlsplit_free(SqlScript *s);

#endif
