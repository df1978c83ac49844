/*
 * cli_db: `pgfleet db add|list|show|rm|test`, a client of a running server
 * (PGFLEET_URL, AUTH_KEY). Errors print the server's message and hint and
 * exit with the status of the server's error code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <uv.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/strbuf.h"
#include "common/table.h"
#include "common/xalloc.h"

static void health_row(Table *t, const json_t *db)
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
    table_row(t, (const char *[]){jsonutil_str(db, "id"), jsonutil_str(db, "name"), where,
                                  jsonutil_str(db, "dbname"), state ? state : "-", ms});
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
        cli_print_json(c.body);
    } else {
        Table *t =
            table_new(6, (const char *[]){"ID", "NAME", "HOST:PORT", "DBNAME", "HEALTH", "PROBE"});
        size_t i;
        const json_t *db;
        json_array_foreach(json_object_get(c.body, "databases"), i, db) health_row(t, db);
        table_print(t, stdout, "no database is registered: 'pgfleet db add' registers one");
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
    cli_print_json(c.body);
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
        cli_print_json(r);
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
        cli_print_json(c.body);
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

static const struct option add_opts[] = {
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

/* the options that set one string member: of the body, or of its "aws" or "logs" object */
static const struct {
    int opt;
    const char *object;
    const char *key;
} string_options[] = {
    {'i', NULL, "id"},      {'n', NULL, "name"},
    {'h', NULL, "host"},    {'d', NULL, "dbname"},
    {'U', NULL, "user"},    {'s', NULL, "sslmode"},
    {'r', "aws", "region"}, {'I', "aws", "rds_instance_id"},
    {'L', "logs", "file"},  {'F', "logs", "format"},
};

typedef struct AddArgs {
    json_t *body; /* the registration, with "aws", "logs" and "tags" objects */
    json_t *cred;
    const char *from_json;
} AddArgs;

/* the credentials an option names; NULL when o is not one (or on a usage error) */
static json_t *credentials_option(int o, const char *arg, int *status)
{
    switch (o) {
    case 'S':
        return json_pack("{s:s, s:s}", "source", "secretsmanager", "secret_id", arg);
    case 'E':
        return json_pack("{s:s, s:s}", "source", "env", "env", arg);
    case 'R':
        return json_pack("{s:s}", "source", "rds_iam");
    case 'P': {
        char pw[1100];
        *status = cli_read_password("pgfleet db add", "", true, false, pw, sizeof pw);
        if (*status >= 0)
            return NULL;
        json_t *c = json_pack("{s:s, s:s}", "source", "password", "password", pw);
        sodium_memzero(pw, sizeof pw);
        return c;
    }
    default:
        return NULL;
    }
}

/* one option into a (given: the option as typed); -1 when fine, else the exit status */
static int add_option(AddArgs *a, int o, const char *arg, const char *given)
{
    for (size_t i = 0; i < sizeof string_options / sizeof string_options[0]; i++) {
        if (string_options[i].opt != o)
            continue;
        json_t *obj =
            string_options[i].object ? json_object_get(a->body, string_options[i].object) : a->body;
        json_object_set_new(obj, string_options[i].key, json_string(arg));
        return -1;
    }
    int status = -1;
    json_t *cred = credentials_option(o, arg, &status);
    if (cred) {
        json_decref(a->cred);
        a->cred = cred;
        return -1;
    }
    char *end;
    switch (o) {
    case 'P':
        return status;
    case 'p': {
        long port = strtol(arg, &end, 10);
        if (*end)
            return cli_usage_error("pgfleet db add", "--port must be a number, not '%s'", arg);
        json_object_set_new(a->body, "port", json_integer(port));
        return -1;
    }
    case 't':
        json_array_append_new(json_object_get(a->body, "tags"), json_string(arg));
        return -1;
    case 'j':
        a->from_json = arg;
        return -1;
    case 'G':
        json_object_set_new(json_object_get(a->body, "logs"), "rds", json_true());
        return -1;
    default:
        return cli_usage_error("pgfleet db add",
                               "unknown or incomplete option '%s' (see 'pgfleet help db add')",
                               given);
    }
}

/* the "tags", "aws" and "logs" no option filled */
static void drop_empty(json_t *body)
{
    const char *keys[] = {"tags", "aws", "logs"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(body, keys[i]);
        if ((json_is_array(v) && !json_array_size(v)) ||
            (json_is_object(v) && !json_object_size(v)))
            json_object_del(body, keys[i]);
    }
}

/* --json FILE (or -): its members, then the options given over them; -1 or the exit status */
static int merge_json_file(AddArgs *a)
{
    FILE *f = strcmp(a->from_json, "-") == 0 ? stdin : fopen(a->from_json, "r");
    if (!f)
        return cli_usage_error("pgfleet db add", "cannot read %s", a->from_json);
    json_error_t je;
    json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    if (f != stdin)
        fclose(f);
    if (!json_is_object(j)) {
        json_decref(j);
        return cli_usage_error("pgfleet db add", "%s: line %d: %s", a->from_json, je.line,
                               j ? "not a JSON object" : je.text);
    }
    drop_empty(a->body);
    json_object_update(j, a->body);
    json_decref(a->body);
    a->body = j;
    return -1;
}

/* the request body: empty objects and lists left out (new string: it may hold a password) */
static char *add_body(AddArgs *a)
{
    if (a->cred)
        json_object_set(a->body, "credentials", a->cred);
    drop_empty(a->body);
    return jsonutil_dumps(a->body);
}

static int run_add(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    AddArgs a = {.body = json_pack("{s:[], s:{}, s:{}}", "tags", "aws", "logs")};
    int status = -1, o;
    optind = 1;
    opterr = 0;
    while (status < 0 && (o = getopt_long(argc, argv, "", add_opts, NULL)) != -1)
        status = add_option(&a, o, optarg, argv[optind - 1]);
    if (status < 0 && optind < argc)
        status = cli_usage_error("pgfleet db add", "unexpected argument '%s'", argv[optind]);
    if (status < 0 && a.from_json)
        status = merge_json_file(&a);
    char *s = status < 0 ? add_body(&a) : NULL;
    json_decref(a.body);
    json_decref(a.cred);
    if (status >= 0)
        return status;
    CliCall c;
    int rc = cli_request("POST", "/api/databases", s, &c);
    xfree_secret(s);
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
