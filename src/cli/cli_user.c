/*
 * cli_user: `pgfleet user add|passwd|rm|list|disable|enable`, editing the
 * users secret (PGFLEET_USERS_SECRET) in Secrets Manager with the caller's
 * own AWS credentials. The hash is computed here; the password comes from
 * the terminal or stdin, never from the command line. Each change is a new
 * version of the secret (PutSecretValue), so Secrets Manager keeps the
 * previous ones; daemons pick it up within their secrets TTL, or at once for
 * a user they did not know.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "auth/password.h"
#include "auth/userdoc.h"
#include "aws/secrets.h"
#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/table.h"
#include "common/xalloc.h"

typedef struct Aws {
    uv_loop_t loop;
    AwsClient *client;
    SecretsCache *cache;
    const char *secret_id;
} Aws;

typedef struct Answer {
    bool done, ok, missing;
    json_t *value;
    char error[700];
} Answer;

static void answered(void *ud, const json_t *result, const AwsResult *r)
{
    Answer *a = ud;
    a->done = true;
    a->ok = r->ok;
    if (r->ok) {
        a->value = json_deep_copy(result);
        return;
    }
    a->missing = r->code && strstr(r->code, "ResourceNotFound");
    snprintf(a->error, sizeof a->error, "%s: %s%s%s", r->code ? r->code : "error",
             r->message ? r->message : "", r->hint ? "\nHINT: " : "", r->hint ? r->hint : "");
}

static void wait_for(Aws *w, Answer *a)
{
    while (!a->done)
        uv_run(&w->loop, UV_RUN_ONCE);
}

static void aws_open(Aws *w)
{
    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_init(&w->loop);
    w->client = aws_client_new(&w->loop, NULL, NULL);
    w->cache = secrets_new(w->client, 0);
    w->secret_id = getenv("PGFLEET_USERS_SECRET");
    if (!w->secret_id || !*w->secret_id)
        w->secret_id = config_def(CFG_USERS_SECRET)->default_value;
}

static void aws_close(Aws *w)
{
    secrets_free(w->cache);
    aws_client_free(w->client);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
}

/*
 * The current document into d. -1 when read (*exists tells whether the secret
 * exists), else the exit status with the error printed.
 */
static int load(Aws *w, UserDoc *d, bool *exists, const char *path)
{
    memset(d, 0, sizeof *d);
    Answer a = {0};
    secrets_get(w->cache, w->secret_id, answered, &a);
    wait_for(w, &a);
    *exists = a.ok;
    if (!a.ok) {
        if (a.missing)
            return -1;
        fprintf(stderr, "%s: could not read the users secret %s: %s\n", path, w->secret_id,
                a.error);
        return pgf_error_exit(PGF_ERR_AWS);
    }
    Validation v;
    validation_init(&v);
    const char *text = jsonutil_str(a.value, "value");
    bool ok = userdoc_parse(d, text ? text : "", false, &v);
    json_decref(a.value);
    if (ok)
        return -1;
    fprintf(stderr, "%s: the users secret %s is not valid; fix it first (nothing changed):\n", path,
            w->secret_id);
    for (size_t i = 0; i < v.count; i++)
        fprintf(stderr, "  %s: %s\n", v.errors[i].field, v.errors[i].message);
    return pgf_error_exit(PGF_ERR_VALIDATION);
}

/* writes d as a new version (or creates the secret); -1 when done */
static int save(Aws *w, const UserDoc *d, bool exists, const char *path)
{
    char *text = userdoc_dump(d);
    Answer a = {0};
    if (exists)
        secrets_put(w->client, w->secret_id, text, answered, &a);
    else
        secrets_create(w->client, w->secret_id, text, answered, &a);
    wait_for(w, &a);
    free(text);
    json_decref(a.value);
    if (a.ok)
        return -1;
    fprintf(stderr, "%s: could not write the users secret %s: %s\n", path, w->secret_id, a.error);
    return pgf_error_exit(PGF_ERR_AWS);
}

/* a new password's hash into hash; -1 when done */
static int new_hash(const char *path, const char *user, bool from_stdin,
                    char hash[PASSWORD_HASH_MAX])
{
    char pw[PASSWORD_MAX_LENGTH + 2];
    char prompt[200];
    snprintf(prompt, sizeof prompt, "password for %s: ", user);
    int rc = cli_read_password(path, prompt, from_stdin, true, pw, sizeof pw);
    size_t n = rc < 0 ? strlen(pw) : 0;
    if (rc < 0 && (n < PASSWORD_MIN_LENGTH || n > PASSWORD_MAX_LENGTH))
        rc = cli_usage_error(path, "the password must be %d to %d characters (it has %zu)",
                             PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, n);
    if (rc < 0 && !password_hash(pw, n, hash)) {
        fprintf(stderr, "%s: could not hash the password (out of memory)\n", path);
        rc = pgf_error_exit(PGF_ERR_INTERNAL);
    }
    sodium_memzero(pw, sizeof pw);
    return rc;
}

typedef struct UserArgs {
    const char *name;
    Role role;
    bool role_given;
    bool from_stdin;
    bool json;
} UserArgs;

static const struct option user_opts[] = {
    {"role", required_argument, NULL, 'r'},
    {"password-stdin", no_argument, NULL, 'p'},
    {"json", no_argument, NULL, 'j'},
    {NULL, 0, NULL, 0},
};

/* options, then the user name when want_name; -1 when fine */
static int parse_args(int argc, char **argv, const char *path, bool want_name, UserArgs *u)
{
    memset(u, 0, sizeof *u);
    u->role = ROLE_VIEWER;
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--pass", 6) == 0 && strcmp(argv[i], "--password-stdin") != 0)
            return cli_usage_error(path, "a password is never taken from the command line (it "
                                         "would stay in the shell history and the process "
                                         "list): type it when asked, or use --password-stdin");
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", user_opts, NULL)) != -1) {
        if (o == 'r') {
            if (!role_parse(optarg, &u->role))
                return cli_usage_error(path, "--role: '%s' is not viewer, operator or admin",
                                       optarg);
            u->role_given = true;
        } else if (o == 'p') {
            u->from_stdin = true;
        } else if (o == 'j') {
            u->json = true;
        } else {
            return cli_usage_error(path, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (want_name) {
        if (optind >= argc)
            return cli_usage_error(path, "needs a user name");
        u->name = argv[optind++];
        if (!username_valid(u->name))
            return cli_usage_error(path,
                                   "'%s' is not a user name: 1 to %d letters, digits and . _ @ "
                                   "+ -, starting with a letter or digit",
                                   u->name, USERNAME_MAX);
    }
    if (optind < argc)
        return cli_usage_error(path, "unexpected argument '%s'", argv[optind]);
    return -1;
}

typedef enum Change { CH_ADD, CH_PASSWD, CH_RM, CH_DISABLE, CH_ENABLE } Change;

/* one change of one user: read, change, write */
static int change(int argc, char **argv, const char *path, Change what)
{
    UserArgs u;
    int rc = parse_args(argc, argv, path, true, &u);
    if (rc >= 0)
        return rc;
    char hash[PASSWORD_HASH_MAX] = "";
    if ((what == CH_ADD || what == CH_PASSWD) &&
        (rc = new_hash(path, u.name, u.from_stdin, hash)) >= 0)
        return rc;
    Aws w;
    aws_open(&w);
    UserDoc d;
    bool exists = false;
    rc = load(&w, &d, &exists, path);
    User *found = rc < 0 ? userdoc_get(&d, u.name) : NULL;
    const char *done = NULL;
    if (rc >= 0) {
        /* printed */
    } else if (what == CH_ADD && !userdoc_add(&d, u.name, hash, u.role)) {
        fprintf(stderr, "%s: user %s exists; change the password with 'pgfleet user passwd %s'\n",
                path, u.name, u.name);
        rc = pgf_error_exit(PGF_ERR_CONFLICT);
    } else if (what == CH_ADD) {
        done = "added";
    } else if (!found) {
        fprintf(stderr, "%s: no user %s in %s\n", path, u.name, w.secret_id);
        rc = pgf_error_exit(PGF_ERR_NOT_FOUND);
    } else if (what == CH_PASSWD) {
        free(found->password_hash);
        found->password_hash = xstrdup(hash);
        if (u.role_given)
            found->role = u.role;
        done = "password changed";
    } else if (what == CH_RM) {
        userdoc_remove(&d, u.name);
        done = "removed";
    } else {
        found->disabled = what == CH_DISABLE;
        done = what == CH_DISABLE ? "disabled" : "enabled";
    }
    if (done && (rc = save(&w, &d, exists, path)) < 0) {
        printf("%s: %s (secret %s)\n", u.name, done, w.secret_id);
        rc = 0;
    }
    sodium_memzero(hash, sizeof hash);
    userdoc_free(&d);
    aws_close(&w);
    return rc;
}

/* add, passwd, rm, disable, enable: the command's name says which change */
static int run_change(const Command *cmd, int argc, char **argv)
{
    static const char *const names[] = {"add", "passwd", "rm", "disable", "enable"};
    Change what = CH_ADD;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(cmd->name, names[i]))
            what = (Change)i;
    char path[64];
    snprintf(path, sizeof path, "pgfleet user %s", cmd->name);
    return change(argc, argv, path, what);
}

static int run_list(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    const char *path = "pgfleet user list";
    UserArgs u;
    int rc = parse_args(argc, argv, path, false, &u);
    if (rc >= 0)
        return rc;
    Aws w;
    aws_open(&w);
    UserDoc d;
    bool exists = false;
    rc = load(&w, &d, &exists, path);
    if (rc < 0) {
        rc = 0;
        json_t *arr = json_array();
        for (size_t i = 0; i < d.n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:b}", "username", d.users[i].username,
                                                 "role", role_name(d.users[i].role), "disabled",
                                                 d.users[i].disabled));
        if (u.json) {
            json_t *doc =
                json_pack("{s:s, s:b, s:o}", "secret", w.secret_id, "exists", exists, "users", arr);
            cli_print_json(doc);
            json_decref(doc);
        } else {
            Table *t = table_new(3, (const char *[]){"USER", "ROLE", "STATE"});
            for (size_t i = 0; i < d.n; i++)
                table_row(t, (const char *[]){d.users[i].username, role_name(d.users[i].role),
                                              d.users[i].disabled ? "disabled" : "active"});
            char *none = xasprintf(exists ? "no users in the secret %s"
                                          : "no users secret %s yet: 'pgfleet user add NAME "
                                            "--role ROLE' makes it",
                                   w.secret_id);
            table_print(t, stdout, none);
            free(none);
            json_decref(arr);
        }
    }
    userdoc_free(&d);
    aws_close(&w);
    return rc;
}

static const char user_help[] =
    "Users live in one Secrets Manager secret, PGFLEET_USERS_SECRET (default pgfleet/users), as\n"
    "{\"users\": [{\"username\", \"password_hash\", \"role\", \"disabled\"}]}; hashes are "
    "argon2id\n"
    "(libsodium, 2 passes, 64 MiB). These commands use your AWS credentials and region, not the\n"
    "server's. Passwords are read from the terminal (twice) or, with --password-stdin, one line\n"
    "of stdin; never from the command line. 12 to 1024 characters.";

static const Command add_command = {
    .name = "add",
    .summary = "add a user (creates the secret if needed)",
    .usage = "NAME --role viewer|operator|admin [--password-stdin]",
    .help = user_help,
    .run = run_change,
};
static const Command passwd_command = {
    .name = "passwd",
    .summary = "set a user's password (and, with --role, the role)",
    .usage = "NAME [--role R] [--password-stdin]",
    .help = user_help,
    .run = run_change,
};
static const Command rm_command = {
    .name = "rm",
    .summary = "remove a user (their sessions end at their next request)",
    .usage = "NAME",
    .run = run_change,
};
static const Command disable_command = {
    .name = "disable",
    .summary = "stop a user signing in (their sessions end at their next request)",
    .usage = "NAME",
    .run = run_change,
};
static const Command enable_command = {
    .name = "enable",
    .summary = "let a disabled user sign in again",
    .usage = "NAME",
    .run = run_change,
};
static const Command list_command = {
    .name = "list",
    .summary = "list users and their roles (never their hashes)",
    .usage = "[--json]",
    .run = run_list,
};

static const Command *const user_subcommands[] = {
    &add_command,    &passwd_command, &rm_command, &disable_command,
    &enable_command, &list_command,   NULL,
};

const Command cli_user_command = {
    .name = "user",
    .summary = "manage the users who sign in with a password",
    .usage = "COMMAND",
    .help = user_help,
    .subcommands = user_subcommands,
};
