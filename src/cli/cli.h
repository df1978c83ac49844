/*
 * cli: the command tree (pg_autoctl's commandline.h is the model).
 *
 * Each command is a static struct; groups have subcommands, leaves a run
 * function. Dispatch walks the tree by name: no chain of strcmp.
 */
#ifndef PGFLEET_CLI_H
#define PGFLEET_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

typedef struct Command Command;

/* argv[0] is the command's own name; returns the exit status */
typedef int (*CommandRun)(const Command *cmd, int argc, char **argv);

struct Command {
    const char *name;
    const char *summary;               /* one line, for the list */
    const char *usage;                 /* arguments after the name, e.g. "[--json]" */
    const char *help;                  /* paragraphs shown by `pgfleet help NAME` */
    CommandRun run;                    /* NULL for a group */
    const Command *const *subcommands; /* NULL-terminated, or NULL */
};

extern const Command cli_root_command;
extern const Command cli_serve_command;
extern const Command cli_config_command;
extern const Command cli_aws_command;
extern const Command cli_db_command;
extern const Command cli_discover_command;
extern const Command cli_migrate_command;
extern const Command cli_stream_command;
extern const Command cli_user_command;
extern const Command cli_audit_command;
extern const Command cli_alerts_command;
extern const Command cli_health_command;

/* entry point: returns the process exit status */
int cli_main(int argc, char **argv);
/* prints "usage" and help of cmd; path is "pgfleet serve" etc. */
void cli_print_help(const Command *cmd, const char *path, FILE *out);
/* true when argv (after the command name) asks for help */
int cli_wants_help(int argc, char **argv);
/* one-line usage error on stderr; returns the usage exit status */
/* cli_http.c: one request to the server (PGFLEET_URL, AUTH_KEY) */
typedef struct CliCall {
    long status;
    json_t *body; /* the answer on success (the caller frees it) */
    char error[512];
} CliCall;
/* -1 on success; otherwise the error was printed and this is the exit status */
int cli_request(const char *method, const char *path, const char *body, CliCall *out);
/* the same without a body, within 5 s, printing nothing: on an error, out->error says what */
int cli_request_quiet(const char *method, const char *path, CliCall *out);
/* GET path: with json, the answer printed as JSON (0); else -1 with out->body for the caller to
 * print as a table (and free); >= 0 is the exit status on an error */
int cli_get(const char *path, bool json, CliCall *out);

int cli_usage_error(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A password from stdin (one line) or typed at the terminal without echo
 * (twice when confirm). -1 when buf holds it, else the exit status (the
 * error printed). The caller wipes buf.
 */
int cli_read_password(const char *path, const char *prompt, bool from_stdin, bool confirm,
                      char *buf, size_t len);
/* j, indented, on stdout */
void cli_print_json(const json_t *j);
/* warns once on stderr when a connection string given on the command line holds a password */
void cli_warn_password_argument(const char *command, const char *conninfo);
/* "ready/tables" of an initial-sync object ({"ready","tables"}) into buf; "" when sync is NULL */
void cli_sync_counts(const json_t *sync, char *buf, size_t len);

#endif
