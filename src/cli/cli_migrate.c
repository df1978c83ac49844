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
#include "common/table.h"
#include "common/xalloc.h"
#include "migrate/migrate.h"
#include "pg/discover.h"

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
    Table *t = table_new(5, (const char *[]){"TARGET", "STATUS", "STATEMENTS", "TIME", "DETAIL"});
    table_align_right(t, 3);
    json_array_foreach(json_object_get(r, "targets"), i, x)
    {
        char stm[48], ms[32];
        snprintf(stm, sizeof stm, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(x, "statements_done")),
                 (long long)json_integer_value(json_object_get(x, "statements_total")));
        snprintf(ms, sizeof ms, "%.0f ms", json_number_value(json_object_get(x, "duration_ms")));
        const char *err = jsonutil_str(x, "error"), *note = jsonutil_str(x, "note");
        char *detail =
            xasprintf("%s%s%s", err ? err : "", err && note ? " — " : "", note ? note : "");
        table_row(t, (const char *[]){jsonutil_str(x, "target"), jsonutil_str(x, "status"), stm, ms,
                                      detail});
        free(detail);
    }
    table_print(t, stdout, NULL);
    printf("%s: %s (execution %s, checksum %.12s)\n", jsonutil_str(r, "name"),
           jsonutil_str(r, "status"), jsonutil_str(r, "execution_id"), jsonutil_str(r, "checksum"));
}

typedef struct Args {
    MigrateOptions mo;
    const char **conninfos;
    int nconn;
    const char *file;
    bool as_json;
} Args;

static const struct option migrate_opts[] = {
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

/* --parallel, --lock-timeout, --statement-timeout: -1 when fine, else the exit status */
static int number_option(Args *a, int o, const char *value)
{
    char *end = NULL;
    long v = strtol(value, &end, 10);
    if (*end || v < 1 || v > 86400000)
        return cli_usage_error("pgfleet migrate", "--%s: '%s' is not a positive number",
                               o == 'p'   ? "parallel"
                               : o == 'l' ? "lock-timeout"
                                          : "statement-timeout",
                               value);
    if (o == 'p')
        a->mo.parallel = (int)v;
    else if (o == 'l')
        a->mo.lock_timeout_ms = v;
    else
        a->mo.statement_timeout_ms = v;
    return -1;
}

/* the command line into a; -1 when it is complete, else the exit status */
static int parse_args(Args *a, int argc, char **argv)
{
    int status = -1, o;
    optind = 1;
    opterr = 0;
    while (status < 0 && (o = getopt_long(argc, argv, "", migrate_opts, NULL)) != -1) {
        switch (o) {
        case 't':
            a->conninfos[a->nconn++] = optarg;
            break;
        case 'n':
            a->mo.name = optarg;
            break;
        case 'd':
            a->mo.dry_run = true;
            break;
        case 'a':
            a->mo.atomic = true;
            break;
        case 'c':
            a->mo.continue_on_error = true;
            break;
        case 'N':
            a->mo.non_transactional = true;
            break;
        case 'j':
            a->as_json = true;
            break;
        case 'p':
        case 'l':
        case 's':
            status = number_option(a, o, optarg);
            break;
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
            a->conninfos[a->nconn++] = argv[i];
        else if (!a->file)
            a->file = argv[i];
        else
            status = cli_usage_error("pgfleet migrate", "more than one script: '%s' and '%s'",
                                     a->file, argv[i]);
    }
    if (status < 0 && !a->file)
        status = cli_usage_error("pgfleet migrate", "give the script: pgfleet migrate --target "
                                                    "CONNINFO... FILE.sql");
    if (status < 0 && a->nconn == 0)
        status = cli_usage_error("pgfleet migrate",
                                 "give at least one --target (a libpq URI or key=value string)");
    return status;
}

typedef struct Targets {
    MigrateTarget *t;
    void **owners;
    char **labels;
    int n;
} Targets;

/* each conninfo parsed into a target labelled host:port/dbname; -1 or the exit status */
static int parse_targets(const Args *a, Targets *ts)
{
    ts->t = xcalloc((size_t)a->nconn + 1, sizeof *ts->t);
    ts->owners = xcalloc((size_t)a->nconn + 1, sizeof *ts->owners);
    ts->labels = xcalloc((size_t)a->nconn + 1, sizeof *ts->labels);
    for (int i = 0; i < a->nconn; i++) {
        char err[512];
        MigrateTarget *t = &ts->t[ts->n];
        cli_warn_password_argument("pgfleet migrate", a->conninfos[i]);
        if (!discover_parse_conninfo(a->conninfos[i], &t->params, &ts->owners[ts->n], err,
                                     sizeof err))
            return cli_usage_error("pgfleet migrate", "%s", err);
        ts->labels[ts->n] = xasprintf("%s:%d/%s", t->params.host, t->params.port, t->params.dbname);
        t->label = ts->labels[ts->n];
        ts->n++;
    }
    return -1;
}

static void targets_free(Targets *ts)
{
    for (int i = 0; i < ts->n; i++) {
        discover_free_conninfo(ts->owners[i]);
        free(ts->labels[i]);
    }
    free(ts->owners);
    free(ts->labels);
    free(ts->t);
}

/* runs the migration on its own loop and prints the report; the exit status */
static int run(Args *a, const Targets *ts)
{
    const char *user = getenv("USER");
    char who[200];
    snprintf(who, sizeof who, "%s (pgfleet migrate)", user ? user : "unknown");
    a->mo.applied_by = who;
    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    Out out = {.quiet = false};
    char err[600];
    int status;
    Migrate *m =
        migrate_start(&loop, &a->mo, ts->t, ts->n, on_event, on_done, &out, err, sizeof err);
    if (!m) {
        fprintf(stderr, "pgfleet migrate: %s\n", err);
        status = pgf_error_exit(PGF_ERR_VALIDATION);
    } else {
        fprintf(stderr, "migration %s: %zu bytes, %d target(s)%s%s\n", a->mo.name, a->mo.sql_len,
                ts->n, a->mo.dry_run ? ", dry run" : "", a->mo.atomic ? ", atomic" : "");
        uv_run(&loop, UV_RUN_DEFAULT);
        if (a->as_json) {
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
    return status;
}

/* the script's name: --name, else the file name without .sql (new string) */
static char *script_name(const char *file)
{
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    char *name = xstrdup(base);
    char *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".sql"))
        *dot = '\0';
    return name;
}

static int run_migrate(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    Args a = {.conninfos = xcalloc((size_t)argc + 1, sizeof(char *))};
    Targets ts = {0};
    char *sql = NULL, *name = NULL;
    int status = parse_args(&a, argc, argv);
    if (status < 0)
        status = parse_targets(&a, &ts);
    if (status < 0) {
        char err[600];
        sql = read_file(a.file, &a.mo.sql_len, err, sizeof err);
        if (!sql) {
            fprintf(stderr, "pgfleet migrate: %s\n", err);
            status = pgf_error_exit(PGF_ERR_USAGE);
        }
    }
    if (status < 0) {
        if (!a.mo.name)
            a.mo.name = name = script_name(a.file);
        a.mo.sql = sql;
        status = run(&a, &ts);
    }
    targets_free(&ts);
    free(a.conninfos);
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
