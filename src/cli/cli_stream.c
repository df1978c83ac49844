/*
 * cli_stream: `pgfleet stream validate|create|list|show|pause|resume|drop`,
 * a client of a running server (PGFLEET_URL, AUTH_KEY).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/table.h"
#include "common/xalloc.h"

static void print_checks(const json_t *checks)
{
    size_t i;
    const json_t *c;
    json_array_foreach(checks, i, c)
    {
        printf("%-8s %-22s %s\n", jsonutil_str(c, "status"), jsonutil_str(c, "check"),
               jsonutil_str(c, "message"));
        if (jsonutil_str(c, "hint") && strcmp(jsonutil_str(c, "status"), "ok") != 0)
            printf("%-8s %-22s HINT: %s\n", "", "", jsonutil_str(c, "hint"));
    }
}

static bool want_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            return true;
    return false;
}

/* validate and create share their options */
static int stream_body(const char *path, int argc, char **argv, json_t **out)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 's'},
        {"target", required_argument, NULL, 't'},
        {"table", required_argument, NULL, 'T'},
        {"all-tables", no_argument, NULL, 'A'},
        {"publication", required_argument, NULL, 'p'},
        {"subscription", required_argument, NULL, 'S'},
        {"slot", required_argument, NULL, 'l'},
        {"no-copy-data", no_argument, NULL, 'C'},
        {"reuse-slot", no_argument, NULL, 'R'},
        {"streaming", no_argument, NULL, 'm'},
        {"binary", no_argument, NULL, 'b'},
        {"force", no_argument, NULL, 'f'},
        {"resume", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    json_t *body = json_object();
    json_t *tables = json_array();
    json_t *options = json_object();
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            json_object_set_new(body, "source_database_id", json_string(optarg));
            break;
        case 't':
            json_object_set_new(body, "target_database_id", json_string(optarg));
            break;
        case 'T':
            json_array_append_new(tables, json_string(optarg));
            break;
        case 'A':
            json_object_set_new(body, "all_tables", json_true());
            break;
        case 'p':
            json_object_set_new(body, "publication", json_string(optarg));
            break;
        case 'S':
            json_object_set_new(body, "subscription", json_string(optarg));
            break;
        case 'l':
            json_object_set_new(body, "slot", json_string(optarg));
            break;
        case 'C':
            json_object_set_new(options, "copy_data", json_false());
            break;
        case 'R':
            json_object_set_new(options, "create_slot", json_false());
            break;
        case 'm':
            json_object_set_new(options, "streaming", json_true());
            break;
        case 'b':
            json_object_set_new(options, "binary", json_true());
            break;
        case 'f':
            json_object_set_new(body, "force", json_true());
            break;
        case 'r':
            json_object_set_new(body, "id", json_string(optarg));
            break;
        case 'j':
            break;
        default:
            json_decref(body);
            json_decref(tables);
            json_decref(options);
            return cli_usage_error(path, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        json_decref(body);
        json_decref(tables);
        json_decref(options);
        return cli_usage_error(path, "unexpected argument '%s'", argv[optind]);
    }
    if (json_array_size(tables))
        json_object_set_new(body, "tables", tables);
    else
        json_decref(tables);
    json_object_set_new(body, "options", options);
    *out = body;
    return -1;
}

/* validate and create: the options as a body, POSTed; -1 with the answer in c */
static int post_stream(const char *path, const char *url, int argc, char **argv, CliCall *c)
{
    json_t *body = NULL;
    int rc = stream_body(path, argc, argv, &body);
    if (rc >= 0)
        return rc;
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    rc = cli_request("POST", url, s, c);
    free(s);
    return rc;
}

static int run_validate(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    CliCall c;
    int rc = post_stream("pgfleet stream validate", "/api/replication/validate", argc, argv, &c);
    if (rc >= 0)
        return rc;
    if (want_json(argc, argv))
        cli_print_json(c.body);
    else
        print_checks(json_object_get(c.body, "checks"));
    bool ok = json_is_true(json_object_get(c.body, "ok"));
    json_decref(c.body);
    return ok ? 0 : pgf_error_exit(PGF_ERR_VALIDATION);
}

static int run_create(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    CliCall c;
    int rc = post_stream("pgfleet stream create", "/api/replication/create", argc, argv, &c);
    if (rc >= 0)
        return rc;
    if (want_json(argc, argv))
        cli_print_json(c.body);
    else
        printf("stream %s: %s (publication %s, subscription %s, slot %s); follow it with "
               "'pgfleet stream show %s'\n",
               jsonutil_str(c.body, "id"), jsonutil_str(c.body, "state"),
               jsonutil_str(c.body, "publication"), jsonutil_str(c.body, "subscription"),
               jsonutil_str(c.body, "slot"), jsonutil_str(c.body, "id"));
    json_decref(c.body);
    return 0;
}

/* the first of keys that s has as a string, or dflt */
static const char *first_str(const json_t *s, const char *a, const char *b, const char *dflt)
{
    const char *v = jsonutil_str(s, a);
    if (!v && b)
        v = jsonutil_str(s, b);
    return v ? v : dflt;
}

static void stream_row(Table *t, const json_t *s)
{
    const json_t *sync = json_object_get(s, "sync");
    const json_t *live = json_object_get(s, "live");
    char lag[32] = "-";
    const json_t *lb = json_object_get(live ? live : s, "lag_bytes");
    if (json_is_integer(lb))
        snprintf(lag, sizeof lag, "%lld B", (long long)json_integer_value(lb));
    char tables[48];
    cli_sync_counts(sync, tables, sizeof tables);
    if (sync)
        strncat(tables, " ready", sizeof tables - strlen(tables) - 1);
    /* a found subscription whose conninfo this role cannot read has no known publisher */
    table_row(t, (const char *[]){first_str(s, "id", NULL, "(discovered)"),
                                  json_is_true(json_object_get(s, "managed")) ? "pgfleet" : "found",
                                  first_str(s, "source_database_id", "from", "unknown"),
                                  first_str(s, "target_database_id", "to", "unknown"),
                                  first_str(s, "subscription", "slot", "(physical)"),
                                  first_str(s, "state", NULL, "-"), lag, tables});
}

static int run_list(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    CliCall c;
    int rc = cli_request("GET", "/api/replication/streams", NULL, &c);
    if (rc >= 0)
        return rc;
    if (want_json(argc, argv))
        cli_print_json(c.body);
    else {
        Table *t = table_new(8, (const char *[]){"ID", "MADE BY", "SOURCE", "TARGET",
                                                 "SUBSCRIPTION", "STATE", "LAG", "TABLES"});
        size_t i;
        const json_t *s;
        json_array_foreach(json_object_get(c.body, "streams"), i, s) stream_row(t, s);
        table_print(t, stdout, "no stream: 'pgfleet stream create' makes one");
    }
    json_decref(c.body);
    return 0;
}

/* show, pause, resume, drop: one stream by id */
static int one(const char *path, const char *method, const char *suffix, int argc, char **argv,
               const char *body)
{
    const char *id = NULL;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-')
            id = argv[i];
    if (!id)
        return cli_usage_error(path, "give the stream id (see 'pgfleet stream list')");
    char *url = xasprintf("/api/replication/streams/%s%s", id, suffix);
    CliCall c;
    int rc = cli_request(method, url, body, &c);
    free(url);
    if (rc >= 0)
        return rc;
    if (want_json(argc, argv) || !strcmp(method, "GET"))
        cli_print_json(c.body);
    else {
        printf("stream %s: %s\n", jsonutil_str(c.body, "id"), jsonutil_str(c.body, "state"));
        size_t i;
        const json_t *n;
        json_array_foreach(json_object_get(c.body, "notes"), i, n)
            printf("  %s\n", json_string_value(n));
    }
    json_decref(c.body);
    return 0;
}

static int run_show(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    return one("pgfleet stream show", "GET", "", argc, argv, NULL);
}

static int run_pause(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    return one("pgfleet stream pause", "POST", "/pause", argc, argv, "{}");
}

static int run_resume(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    return one("pgfleet stream resume", "POST", "/resume", argc, argv, "{}");
}

static int run_drop(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    bool force = false;
    for (int i = 1; i < argc; i++)
        force |= !strcmp(argv[i], "--force");
    return one("pgfleet stream drop", "DELETE", "", argc, argv, force ? "{\"force\": true}" : "{}");
}

#define STREAM_OPTS                                                                                \
    "--source DB_ID --target DB_ID (--table SCHEMA.TABLE... | --all-tables) [--publication N] "    \
    "[--subscription N] [--slot N] [--no-copy-data] [--reuse-slot] [--streaming] [--binary] "      \
    "[--json]"

static const Command validate_command = {
    .name = "validate",
    .summary = "run the pre-flight checks for a stream",
    .usage = STREAM_OPTS,
    .help = "Prints each check (ok / warning / error) with its fix. Exit 5 when one fails.",
    .run = run_validate};
static const Command create_command = {
    .name = "create",
    .summary = "create a logical replication stream between two registered databases",
    .usage = STREAM_OPTS " [--force] [--resume STREAM_ID]",
    .help = "Runs the checks first: errors refuse, warnings need --force. --resume ID finishes\n"
            "a create that was interrupted (a server killed halfway).",
    .run = run_create};
static const Command list_command = {.name = "list",
                                     .summary = "streams pgfleet created, and the ones it found",
                                     .usage = "[--json]",
                                     .run = run_list};
static const Command show_command = {.name = "show",
                                     .summary = "one stream, with its initial-copy progress",
                                     .usage = "ID",
                                     .run = run_show};
static const Command pause_command = {
    .name = "pause", .summary = "disable the subscription", .usage = "ID", .run = run_pause};
static const Command resume_command = {
    .name = "resume", .summary = "enable the subscription", .usage = "ID", .run = run_resume};
static const Command drop_command = {
    .name = "drop",
    .summary = "drop the subscription, the slot, and the publication pgfleet created",
    .usage = "ID [--force]",
    .help = "--force: drop on the source even when the target cannot be reached.",
    .run = run_drop};

static const Command *const stream_subcommands[] = {
    &validate_command, &create_command, &list_command, &show_command,
    &pause_command,    &resume_command, &drop_command, NULL};

const Command cli_stream_command = {
    .name = "stream",
    .summary = "logical replication streams (against a running server)",
    .subcommands = stream_subcommands,
};
