/*
 * table: a text table for the terminal, each column as wide as its widest cell.
 *
 * Rows are kept until the table is written. Width counts characters, not bytes (a UTF-8
 * sequence is one); the last column is never padded, so no line ends in spaces. A note
 * is a line under a row that starts where the row's last column does (a message that
 * belongs to the row but would stretch every other one).
 */
#ifndef PGFLEET_TABLE_H
#define PGFLEET_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/strbuf.h"

typedef struct Table Table;

/* a table of ncols columns with these headings (ncols of them) */
Table *table_new(size_t ncols, const char *const *headings);
/* column col is aligned to the right (numbers) */
void table_align_right(Table *t, size_t col);
/* a row: ncols cells, copied; NULL is printed as "" */
void table_row(Table *t, const char *const *cells);
/* a note under the last row (none yet: under the headings) */
void table_note(Table *t, const char *text);
/* how many rows */
size_t table_rows(const Table *t);
void table_render(const Table *t, StrBuf *out);
/* renders to f, or prints the line if_empty instead when there is no row (NULL: the headings
 * anyway); then frees t */
void table_print(Table *t, FILE *f, const char *if_empty);
void table_free(Table *t);

#endif
