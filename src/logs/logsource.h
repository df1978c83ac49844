/*
 * logsource: where replication events come from, one source per database.
 *
 * A file source follows a PostgreSQL log file the way tail -F does: it starts
 * at the end (a restart does not replay old events), reads what is appended
 * every poll, and when the file is rotated (a new inode at the path, or the
 * file truncated) it drains the old file to its end, then follows the new one
 * from its start. An RDS source does the same through DescribeDBLogFiles
 * (the newest file) and DownloadDBLogFilePortion (from the last marker).
 *
 * Bytes are cut into records (lines; csvlog records may span lines inside
 * quotes), parsed and classified by logparse; each replication event gets
 * "node", "database_id" and "source" and goes to the callback.
 */
#ifndef PGFLEET_LOGSOURCE_H
#define PGFLEET_LOGSOURCE_H

#include <jansson.h>
#include <uv.h>

#include "aws/aws.h"
#include "logs/logparse.h"

typedef struct LogSource LogSource;

/* event: a new reference the callback takes */
typedef void (*LogEventCb)(void *ud, json_t *event);

typedef struct LogSourceOptions {
    uv_loop_t *loop;
    const char *node;         /* "host:port" */
    const char *database_id;  /* the DatabaseConfig id */
    LogFormatKind format;     /* LOGF_AUTO: by the file name (.csv, .json), else stderr */
    const char *path;         /* a file source ... */
    const char *allowed_dirs; /* ... in one of these folders (PGFLEET_LOG_DIRS) ... */
    AwsClient *aws;           /* ... or an RDS source */
    const char *rds_instance_id;
    long poll_ms; /* 0: 1000 for files, 30000 for RDS */
    LogEventCb cb;
    void *ud;
} LogSourceOptions;

LogSource *logsource_new(const LogSourceOptions *o);
void logsource_free(LogSource *s);
/* what the source is doing: {"kind","path"|"instance","format","events","error"|null}, and
 * for a file "offset" (bytes read) and "pending_bytes" (an unfinished record) */
json_t *logsource_status(const LogSource *s);

/*
 * A path a file source may follow: absolute, without . or .. components,
 * not under /proc, /sys or /dev, and inside one of the comma-separated
 * folders of dirs (PGFLEET_LOG_DIRS; none when dirs is NULL or empty). When
 * the source opens the file, its real path (symlinks resolved) must pass too,
 * and it must be a regular file (opened O_NONBLOCK | O_NOFOLLOW, on the
 * threadpool: a FIFO or a hung mount never blocks the loop). false with why.
 */
bool logsource_path_allowed(const char *path, const char *dirs, char *why, size_t len);

/*
 * The length of the first complete record in buf (with its newline), or 0
 * when buf holds no complete record yet. csv: newlines inside quotes do not
 * end a record.
 */
size_t logsource_record_len(const char *buf, size_t len, LogFormatKind fmt);

#endif
