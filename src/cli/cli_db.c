/*
 * cli_db: `pgfleet db add|list|show|rm|test`, a client of a running server
 * (PGFLEET_URL, AUTH_KEY). Errors print the server's message and hint and
 * exit with the status of the server's error code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    printf("%s\n", s);
    free(s);
}

static void print_health_line(const json_t *db)
{
    const json_t *h = json_object_get(db, "health");
    const char *state = jsonutil_str(h, "state");
    char where[300];
    snprintf(where, sizeof where, "%s:%lld", jsonutil_str(db, "host"),
             (long long)json_integer_value(json_object_get(db, "port")));
    const json_t *lat = json_object_get(h, "latency_ms");
    char ms[32] = "";
    if (json_is_number(lat))
        snprintf(ms, sizeof ms, "%.1f ms", json_number_value(lat));
    printf("%-20s %-24s %-26s %-16s %-12s %s\n", jsonutil_str(db, "id"), jsonutil_str(db, "name"),
           where, jsonutil_str(db, "dbname"), state ? state : "-", ms);
}

static bool want_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0)
            return true;
    return false;
}

static int run_list(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    CliCall c;
    int rc = cli_request("GET", "/api/databases", NULL, &c);
    if (rc >= 0)
        return rc;
    if (want_json(argc, argv)) {
        print_json(c.body);
    } else {
        printf("%-20s %-24s %-26s %-16s %-12s %s\n", "ID", "NAME", "HOST:PORT", "DBNAME", "HEALTH",
               "PROBE");
        size_t i;
        const json_t *db;
        json_array_foreach(json_object_get(c.body, "databases"), i, db) print_health_line(db);
    }
    json_decref(c.body);
    return 0;
}

static int run_show(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc < 2 || argv[1][0] == '-')
        return cli_usage_error("pgfleet db show", "needs a database ID");
    char *path = xasprintf("/api/databases/%s", argv[1]);
    CliCall c;
    int rc = cli_request("GET", path, NULL, &c);
    free(path);
    if (rc >= 0)
        return rc;
    print_json(c.body);
    json_decref(c.body);
    return 0;
}

static int run_rm(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc != 2)
        return cli_usage_error("pgfleet db rm", "needs exactly one database ID");
    char *path = xasprintf("/api/databases/%s", argv[1]);
    CliCall c;
    int rc = cli_request("DELETE", path, NULL, &c);
    free(path);
    if (rc >= 0)
        return rc;
    printf("removed %s\n", argv[1]);
    json_decref(c.body);
    return 0;
}

static int print_test(const json_t *r, bool as_json)
{
    if (as_json) {
        print_json(r);
    } else {
        const json_t *s = json_object_get(r, "server");
        const json_t *e = json_object_get(r, "error");
        if (json_is_true(json_object_get(r, "ok")))
            printf("%-20s %-12s %7.1f ms  PostgreSQL %s, %s, wal_level=%s, system %s\n",
                   jsonutil_str(r, "database_id"), jsonutil_str(r, "state"),
                   json_real_value(json_object_get(r, "latency_ms")), jsonutil_str(s, "version"),
                   json_is_true(json_object_get(s, "in_recovery")) ? "standby" : "primary",
                   jsonutil_str(s, "wal_level"), jsonutil_str(s, "system_identifier"));
        else {
            printf("%-20s %-12s %s: %s\n", jsonutil_str(r, "database_id"), jsonutil_str(r, "state"),
                   jsonutil_str(e, "kind"), jsonutil_str(e, "message"));
            if (jsonutil_str(e, "hint"))
                printf("%-20s HINT: %s\n", "", jsonutil_str(e, "hint"));
        }
    }
    return json_is_true(json_object_get(r, "ok")) ? 0 : pgf_error_exit(PGF_ERR_UNREACHABLE);
}

static int run_test(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    bool as_json = want_json(argc, argv);
    const char *id = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    CliCall c;
    char *path = id ? xasprintf("/api/databases/%s/test", id) : xstrdup("/api/databases/test");
    int rc = cli_request(id ? "POST" : "GET", path, id ? "{}" : NULL, &c);
    free(path);
    if (rc >= 0)
        return rc;
    int status = 0;
    if (id) {
        status = print_test(c.body, as_json);
    } else if (as_json) {
        print_json(c.body);
        status =
            json_is_true(json_object_get(c.body, "ok")) ? 0 : pgf_error_exit(PGF_ERR_UNREACHABLE);
    } else {
        size_t i;
        const json_t *r;
        json_array_foreach(json_object_get(c.body, "results"), i, r)
        {
            int s = print_test(r, false);
            if (s)
                status = s;
        }
    }
    json_decref(c.body);
    return status;
}

static int run_add(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"name", required_argument, NULL, 'n'},
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"dbname", required_argument, NULL, 'd'},
        {"user", required_argument, NULL, 'U'},
        {"sslmode", required_argument, NULL, 's'},
        {"secret-id", required_argument, NULL, 'S'},
        {"password-env", required_argument, NULL, 'E'},
        {"password-stdin", no_argument, NULL, 'P'},
        {"rds-iam", no_argument, NULL, 'R'},
        {"tag", required_argument, NULL, 't'},
        {"region", required_argument, NULL, 'r'},
        {"rds-instance-id", required_argument, NULL, 'I'},
        {"json", required_argument, NULL, 'j'},
        {"log-file", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'},
        {"rds-logs", no_argument, NULL, 'G'},
        {NULL, 0, NULL, 0},
    };
    json_t *body = json_object();
    json_t *cred = NULL;
    json_t *tags = json_array();
    json_t *aws = json_object();
    json_t *logs = json_object();
    char *from_json = NULL;
    int status = -1;
    int o;
    optind = 1;
    opterr = 0;
    while (status < 0 && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'i':
            json_object_set_new(body, "id", json_string(optarg));
            break;
        case 'n':
            json_object_set_new(body, "name", json_string(optarg));
            break;
        case 'h':
            json_object_set_new(body, "host", json_string(optarg));
            break;
        case 'p': {
            char *end;
            long port = strtol(optarg, &end, 10);
            if (*end)
                status =
                    cli_usage_error("pgfleet db add", "--port must be a number, not '%s'", optarg);
            else
                json_object_set_new(body, "port", json_integer(port));
            break;
        }
        case 'd':
            json_object_set_new(body, "dbname", json_string(optarg));
            break;
        case 'U':
            json_object_set_new(body, "user", json_string(optarg));
            break;
        case 's':
            json_object_set_new(body, "sslmode", json_string(optarg));
            break;
        case 'S':
            json_decref(cred);
            cred = json_pack("{s:s, s:s}", "source", "secretsmanager", "secret_id", optarg);
            break;
        case 'E':
            json_decref(cred);
            cred = json_pack("{s:s, s:s}", "source", "env", "env", optarg);
            break;
        case 'R':
            json_decref(cred);
            cred = json_pack("{s:s}", "source", "rds_iam");
            break;
        case 'P': {
            char pw[1100];
            if (!fgets(pw, sizeof pw, stdin)) {
                status = cli_usage_error("pgfleet db add", "--password-stdin: nothing on stdin");
                break;
            }
            pw[strcspn(pw, "\r\n")] = '\0';
            json_decref(cred);
            cred = json_pack("{s:s, s:s}", "source", "password", "password", pw);
            memset(pw, 0, sizeof pw);
            break;
        }
        case 't':
            json_array_append_new(tags, json_string(optarg));
            break;
        case 'r':
            json_object_set_new(aws, "region", json_string(optarg));
            break;
        case 'I':
            json_object_set_new(aws, "rds_instance_id", json_string(optarg));
            break;
        case 'j':
            from_json = optarg;
            break;
        case 'L':
            json_object_set_new(logs, "file", json_string(optarg));
            break;
        case 'F':
            json_object_set_new(logs, "format", json_string(optarg));
            break;
        case 'G':
            json_object_set_new(logs, "rds", json_true());
            break;
        default:
            status = cli_usage_error("pgfleet db add",
                                     "unknown or incomplete option '%s' (see 'pgfleet help db "
                                     "add')",
                                     argv[optind - 1]);
        }
    }
    if (status < 0 && optind < argc)
        status = cli_usage_error("pgfleet db add", "unexpected argument '%s'", argv[optind]);
    if (status < 0 && from_json) {
        FILE *f = strcmp(from_json, "-") == 0 ? stdin : fopen(from_json, "r");
        json_error_t je;
        json_t *j = f ? json_loadf(f, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (f && f != stdin)
            fclose(f);
        if (!f)
            status = cli_usage_error("pgfleet db add", "cannot read %s", from_json);
        else if (!j)
            status =
                cli_usage_error("pgfleet db add", "%s: line %d: %s", from_json, je.line, je.text);
        else {
            json_object_update(j, body);
            json_decref(body);
            body = j;
        }
    }
    if (status >= 0) {
        json_decref(body);
        json_decref(cred);
        json_decref(tags);
        json_decref(aws);
        json_decref(logs);
        return status;
    }
    if (cred)
        json_object_set_new(body, "credentials", cred);
    if (json_array_size(tags))
        json_object_set_new(body, "tags", tags);
    else
        json_decref(tags);
    if (json_object_size(aws))
        json_object_set_new(body, "aws", aws);
    else
        json_decref(aws);
    if (json_object_size(logs))
        json_object_set_new(body, "logs", logs);
    else
        json_decref(logs);
    char *s = jsonutil_dumps(body);
    json_decref(body);
    CliCall c;
    int rc = cli_request("POST", "/api/databases", s, &c);
    memset(s, 0, strlen(s));
    free(s);
    if (rc >= 0)
        return rc;
    printf("registered %s (%s)\n", jsonutil_str(c.body, "id"), jsonutil_str(c.body, "name"));
    json_decref(c.body);
    return 0;
}

static const Command add_command = {
    .name = "add",
    .summary = "register a database",
    .usage = "--name N --host H [--port P] --dbname D --user U CREDENTIALS [--sslmode M] "
             "[--id ID] [--tag T]... [--region R] [--rds-instance-id I] [--log-file PATH] "
             "[--log-format F] [--rds-logs] | --json FILE",
    .help = "CREDENTIALS is one of:\n"
            "  --secret-id ID        a Secrets Manager secret (RDS JSON format)\n"
            "  --password-env VAR    a variable in the server's environment\n"
            "  --password-stdin      a password, kept by the server in Secrets Manager\n"
            "  --rds-iam             an RDS IAM token per connection (needs sslmode require+)\n"
            "Replication errors are read from --log-file PATH (a PostgreSQL log the server\n"
            "can read, followed across rotation; --log-format auto|stderr|csv|json) and/or,\n"
            "with --rds-logs, the RDS instance's logs (needs --rds-instance-id).\n"
            "--json FILE (or -) sends a DatabaseConfig document; options override its fields.",
    .run = run_add,
};
static const Command list_command = {.name = "list",
                                     .summary = "list databases and their health",
                                     .usage = "[--json]",
                                     .run = run_list};
static const Command show_command = {
    .name = "show", .summary = "show one database", .usage = "ID", .run = run_show};
static const Command rm_command = {
    .name = "rm", .summary = "remove a database", .usage = "ID", .run = run_rm};
static const Command test_command = {
    .name = "test",
    .summary = "connect now to one database, or to all, and report",
    .usage = "[ID] [--json]",
    .help = "Exit status 0 when every database answered, 19 when one did not.",
    .run = run_test};

static const Command *const db_subcommands[] = {&add_command, &list_command, &show_command,
                                                &rm_command,  &test_command, NULL};

const Command cli_db_command = {
    .name = "db",
    .summary = "manage the databases a running server watches (PGFLEET_URL, AUTH_KEY)",
    .usage = "COMMAND",
    .subcommands = db_subcommands,
};
