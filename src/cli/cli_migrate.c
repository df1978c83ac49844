/*
 * cli_migrate: `pgfleet migrate --target CONNINFO... FILE.sql` without a
 * server: direct connections, live progress on stderr, a per-target table
 * (or the JSON report) on stdout; exit 21 when any target failed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "migrate/migrate.h"
#include "replication/discover.h"

typedef struct Out {
    json_t *report;
    bool quiet;
} Out;

static void on_event(void *ud, const json_t *e)
{
    Out *o = ud;
    if (o->quiet)
        return;
    const char *ev = jsonutil_str(e, "event");
    if (!strcmp(ev, "statement"))
        fprintf(stderr, "  %s: statement %lld of %lld done\n", jsonutil_str(e, "target"),
                (long long)json_integer_value(json_object_get(e, "k")),
                (long long)json_integer_value(json_object_get(e, "n")));
    else
        fprintf(stderr, "  %s: %s%s%s\n", jsonutil_str(e, "target"), ev,
                jsonutil_str(e, "error") ? ": " : "",
                jsonutil_str(e, "error") ? jsonutil_str(e, "error") : "");
}

static void on_done(void *ud, const json_t *report)
{
    Out *o = ud;
    o->report = json_deep_copy(report);
}

static bool looks_like_conninfo(const char *s)
{
    return strchr(s, '=') || !strncmp(s, "postgres://", 11) || !strncmp(s, "postgresql://", 13);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %m", path);
        return NULL;
    }
    StrBuf b = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&b, buf, n);
    if (f != stdin)
        fclose(f);
    *len = b.len;
    if (!b.data)
        strbuf_puts(&b, "");
    return strbuf_detach(&b);
}

static void print_table(const json_t *r)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(r, "plan"), i, x) printf("plan: %s\n", json_string_value(x));
    json_array_foreach(json_object_get(r, "recovered"), i, x)
        printf("recovered: %s on %s: %s\n", jsonutil_str(x, "gid"), jsonutil_str(x, "target"),
               jsonutil_str(x, "action"));
    printf("%-40s %-12s %-11s %10s  %s\n", "TARGET", "STATUS", "STATEMENTS", "TIME", "DETAIL");
    json_array_foreach(json_object_get(r, "targets"), i, x)
    {
        char stm[32];
        snprintf(stm, sizeof stm, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(x, "statements_done")),
                 (long long)json_integer_value(json_object_get(x, "statements_total")));
        const char *err = jsonutil_str(x, "error"), *note = jsonutil_str(x, "note");
        printf("%-40s %-12s %-11s %8.0fms  %s%s%s\n", jsonutil_str(x, "target"),
               jsonutil_str(x, "status"), stm, json_number_value(json_object_get(x, "duration_ms")),
               err ? err : "", err && note ? " — " : "", note ? note : "");
    }
    printf("%s: %s (execution %s, checksum %.12s)\n", jsonutil_str(r, "name"),
           jsonutil_str(r, "status"), jsonutil_str(r, "execution_id"), jsonutil_str(r, "checksum"));
}

static int run_migrate(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},
        {"dry-run", no_argument, NULL, 'd'},
        {"atomic", no_argument, NULL, 'a'},
        {"continue-on-error", no_argument, NULL, 'c'},
        {"non-transactional", no_argument, NULL, 'N'},
        {"parallel", required_argument, NULL, 'p'},
        {"lock-timeout", required_argument, NULL, 'l'},
        {"statement-timeout", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    MigrateOptions mo = {0};
    const char **conninfos = xcalloc((size_t)argc + 1, sizeof *conninfos);
    int nconn = 0;
    const char *file = NULL;
    bool as_json = false;
    int status = -1, o;
    optind = 1;
    opterr = 0;
    while (status < 0 && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 't':
            conninfos[nconn++] = optarg;
            break;
        case 'n':
            mo.name = optarg;
            break;
        case 'd':
            mo.dry_run = true;
            break;
        case 'a':
            mo.atomic = true;
            break;
        case 'c':
            mo.continue_on_error = true;
            break;
        case 'N':
            mo.non_transactional = true;
            break;
        case 'j':
            as_json = true;
            break;
        case 'p':
        case 'l':
        case 's': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 86400000) {
                status = cli_usage_error("pgfleet migrate", "--%s: '%s' is not a positive number",
                                         o == 'p'   ? "parallel"
                                         : o == 'l' ? "lock-timeout"
                                                    : "statement-timeout",
                                         optarg);
                break;
            }
            if (o == 'p')
                mo.parallel = (int)v;
            else if (o == 'l')
                mo.lock_timeout_ms = v;
            else
                mo.statement_timeout_ms = v;
            break;
        }
        default:
            status = cli_usage_error("pgfleet migrate",
                                     "unknown or incomplete option '%s' (see 'pgfleet help "
                                     "migrate')",
                                     argv[optind - 1]);
        }
    }
    /* after --target A, more conninfos may follow; the one other argument is the script */
    for (int i = optind; status < 0 && i < argc; i++) {
        if (looks_like_conninfo(argv[i]))
            conninfos[nconn++] = argv[i];
        else if (!file)
            file = argv[i];
        else
            status = cli_usage_error("pgfleet migrate", "more than one script: '%s' and '%s'", file,
                                     argv[i]);
    }
    if (status < 0 && !file)
        status = cli_usage_error("pgfleet migrate", "give the script: pgfleet migrate --target "
                                                    "CONNINFO... FILE.sql");
    if (status < 0 && nconn == 0)
        status = cli_usage_error("pgfleet migrate",
                                 "give at least one --target (a libpq URI or key=value string)");
    MigrateTarget *targets = xcalloc((size_t)nconn + 1, sizeof *targets);
    void **owners = xcalloc((size_t)nconn + 1, sizeof *owners);
    char **labels = xcalloc((size_t)nconn + 1, sizeof *labels);
    int n = 0;
    for (int i = 0; status < 0 && i < nconn; i++) {
        char err[512];
        if (!discover_parse_conninfo(conninfos[i], &targets[n].params, &owners[n], err,
                                     sizeof err)) {
            status = cli_usage_error("pgfleet migrate", "%s", err);
            break;
        }
        labels[n] = xasprintf("%s:%d/%s", targets[n].params.host, targets[n].params.port,
                              targets[n].params.dbname);
        targets[n].label = labels[n];
        n++;
    }
    char *sql = NULL;
    char *name = NULL;
    if (status < 0) {
        char err[600];
        sql = read_file(file, &mo.sql_len, err, sizeof err);
        if (!sql) {
            fprintf(stderr, "pgfleet migrate: %s\n", err);
            status = pgf_error_exit(PGF_ERR_USAGE);
        }
    }
    if (status < 0) {
        if (!mo.name) {
            const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
            name = xstrdup(base);
            char *dot = strrchr(name, '.');
            if (dot && !strcmp(dot, ".sql"))
                *dot = '\0';
            mo.name = name;
        }
        mo.sql = sql;
        const char *user = getenv("USER");
        char who[200];
        snprintf(who, sizeof who, "%s (pgfleet migrate)", user ? user : "unknown");
        mo.applied_by = who;
        log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
        uv_loop_t loop;
        uv_loop_init(&loop);
        Out out = {.quiet = false};
        char err[600];
        Migrate *m =
            migrate_start(&loop, &mo, targets, n, on_event, on_done, &out, err, sizeof err);
        if (!m) {
            fprintf(stderr, "pgfleet migrate: %s\n", err);
            status = pgf_error_exit(PGF_ERR_VALIDATION);
        } else {
            fprintf(stderr, "migration %s: %zu bytes, %d target(s)%s%s\n", mo.name, mo.sql_len, n,
                    mo.dry_run ? ", dry run" : "", mo.atomic ? ", atomic" : "");
            uv_run(&loop, UV_RUN_DEFAULT);
            if (as_json) {
                char *s = json_dumps(out.report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
            } else
                print_table(out.report);
            const char *st = jsonutil_str(out.report, "status");
            status = st && !strcmp(st, "succeeded") ? 0 : pgf_error_exit(PGF_ERR_MIGRATION);
            json_decref(out.report);
        }
        uv_loop_close(&loop);
    }
    for (int i = 0; i < n; i++) {
        discover_free_conninfo(owners[i]);
        free(labels[i]);
    }
    free(owners);
    free(labels);
    free(targets);
    free(conninfos);
    free(sql);
    free(name);
    return status < 0 ? 0 : status;
}

const Command cli_migrate_command = {
    .name = "migrate",
    .summary = "apply a SQL migration to databases (direct connections, no server)",
    .usage = "--target CONNINFO [--target CONNINFO]... FILE.sql [--name NAME] [--dry-run] "
             "[--atomic] [--continue-on-error] [--non-transactional] [--parallel N] "
             "[--lock-timeout MS] [--statement-timeout MS] [--json]",
    .help = "Each target runs the script in one transaction, rolled back on any error, one\n"
            "target at a time (--parallel N: N at once), under lock_timeout (default 5000 ms)\n"
            "and statement_timeout (default 300000 ms). The history table\n"
            "pgfleet.migration_history in each target records what was applied, in the same\n"
            "transaction: the same name and checksum again is skipped; the same name with\n"
            "another checksum is refused as drift. NAME defaults to the file name.\n"
            "  --dry-run            run everything, then roll back: report what would happen\n"
            "  --continue-on-error  go on to the next target after a failure (default: stop)\n"
            "  --atomic             all or nothing: PREPARE TRANSACTION on every target, then\n"
            "                       COMMIT PREPARED (needs max_prepared_transactions > 0)\n"
            "  --non-transactional  for CREATE INDEX CONCURRENTLY, VACUUM, ...: statement by\n"
            "                       statement, no rollback; the report says how far it got\n"
            "Standbys are refused. When a target subscribes to another target, it runs first\n"
            "(logical replication does not carry DDL). Exit 21 when any target failed.",
    .run = run_migrate,
};
