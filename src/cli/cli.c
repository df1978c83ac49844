#include "cli/cli.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "common/error.h"
#include "common/mask.h"

void cli_print_help(const Command *cmd, const char *path, FILE *out)
{
    fprintf(out, "usage: %s%s%s\n", path, cmd->usage ? " " : "", cmd->usage ? cmd->usage : "");
    if (cmd->summary)
        fprintf(out, "\n%s\n", cmd->summary);
    if (cmd->help)
        fprintf(out, "\n%s\n", cmd->help);
    if (cmd->subcommands) {
        fprintf(out, "\ncommands:\n");
        for (const Command *const *c = cmd->subcommands; *c; c++)
            fprintf(out, "  %-10s %s\n", (*c)->name, (*c)->summary);
        fprintf(out, "\n'%s help COMMAND' shows a command's help.\n", path);
    }
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int cli_usage_error(const char *path, const char *fmt, ...)
{
    fprintf(stderr, "%s: ", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return pgf_error_exit(PGF_ERR_USAGE);
}

/* one line from f into buf, without its line end; false at end of input */
static bool read_line(FILE *f, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, f))
        return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

/* a line typed at the terminal without echo */
static bool read_hidden(FILE *tty, const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    int fd = fileno(tty);
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fprintf(tty, "%s", prompt);
    fflush(tty);
    bool ok = read_line(tty, buf, len);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(tty, "\n");
    return ok;
}

int cli_read_password(const char *path, const char *prompt, bool from_stdin, bool confirm,
                      char *buf, size_t len)
{
    if (from_stdin) {
        if (!read_line(stdin, buf, len))
            return cli_usage_error(path, "--password-stdin: nothing on stdin");
        return -1;
    }
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return cli_usage_error(path, "no terminal to ask for the password: use --password-stdin");
    int rc = -1;
    char again[1100];
    if (!read_hidden(tty, prompt, buf, len))
        rc = cli_usage_error(path, "no password given");
    else if (confirm && (!read_hidden(tty, "again: ", again, sizeof again) || strcmp(buf, again)))
        rc = cli_usage_error(path, "the two passwords differ");
    sodium_memzero(again, sizeof again);
    fclose(tty);
    return rc;
}

void cli_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    printf("%s\n", s ? s : "null");
    free(s);
}

static const Command *find_sub(const Command *group, const char *name)
{
    for (const Command *const *c = group->subcommands; c && *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return NULL;
}

int cli_main(int argc, char **argv)
{
    const Command *cmd = &cli_root_command;
    char path[256] = "pgfleet";
    int i = 1;
    /* walk down groups by name */
    while (cmd->subcommands && !cmd->run) {
        if (i >= argc) {
            cli_print_help(cmd, path, stderr);
            return pgf_error_exit(PGF_ERR_USAGE);
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help(cmd, path, stdout);
            return 0;
        }
        const Command *sub = find_sub(cmd, argv[i]);
        if (!sub)
            return cli_usage_error(path, "unknown command '%s' (see '%s help')", argv[i], path);
        size_t used = strlen(path);
        snprintf(path + used, sizeof path - used, " %s", sub->name);
        cmd = sub;
        i++;
    }
    if (cli_wants_help(argc - i + 1, argv + i - 1)) {
        cli_print_help(cmd, path, stdout);
        return 0;
    }
    return cmd->run(cmd, argc - i + 1, argv + i - 1);
}

void cli_warn_password_argument(const char *command, const char *conninfo)
{
    static bool warned;
    if (warned || !mask_has_secret(conninfo))
        return;
    warned = true;
    fprintf(stderr,
            "%s: warning: a password on the command line can be read by other users of this "
            "machine (ps, /proc, shell history)\nHINT: leave it out and set PGPASSWORD, or put "
            "it in ~/.pgpass (or the file PGPASSFILE names)\n",
            command);
}

void cli_sync_counts(const json_t *sync, char *buf, size_t len)
{
    if (!sync) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, len, "%lld/%lld", (long long)json_integer_value(json_object_get(sync, "ready")),
             (long long)json_integer_value(json_object_get(sync, "tables")));
}
