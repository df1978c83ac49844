/*
 * logparse: PostgreSQL log records -> replication events.
 *
 * Three formats: stderr (with the common log_line_prefix forms: Debian's
 * '%m [%p] %q%u@%d ', '%t [%p]: [%l-1] user=%u,db=%d,...', RDS's
 * '%t:%r:%u@%d:[%p]:'), csvlog (one record, quoted fields may span lines) and
 * jsonlog (PostgreSQL 15). logparse_record reads the structure;
 * logparse_classify says whether a record is a replication problem and
 * which: WAL already removed, slot missing or invalidated, upstream
 * unreachable, apply conflicts and missing tables, subscription disabled,
 * timeouts, exhausted senders/slots/workers, ... with a severity and a hint.
 * Pure functions: no I/O, safe on any input (fuzzed).
 */
#ifndef PGFLEET_LOGPARSE_H
#define PGFLEET_LOGPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef enum LogFormatKind { LOGF_AUTO, LOGF_STDERR, LOGF_CSV, LOGF_JSON } LogFormatKind;

typedef struct LogRecord {
    char time[40];
    char severity[16]; /* LOG, ERROR, FATAL, ... */
    char sqlstate[6];
    char user[64];
    char database[64];
    char application[64];
    char backend[64];
    long pid;
    char message[1024];
    char detail[512];
    char hint[512];
} LogRecord;

/* false when the text is not a log record of that format (a continuation line, noise) */
bool logparse_record(const char *text, size_t len, LogFormatKind fmt, LogRecord *out)
    __attribute__((warn_unused_result));

/*
 * For a replication problem: {"kind","severity":"critical"|"warning"|"info",
 * "time","message","hint","object":name|null, "pid", "database", "sqlstate"} (new
 * reference); NULL when the record is not about replication.
 */
json_t *logparse_classify(const LogRecord *r);

#endif
