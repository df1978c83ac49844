/* cli_root: the root of the command tree, `help` and `version` */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/opensslv.h>
#include <sodium.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "common/error.h"
#include "pgfleet_version.h"

static int run_version(const Command *cmd, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage_error("pgfleet version", "takes no arguments");
    (void)cmd;
    printf("pgfleet %s\n", PGFLEET_VERSION);
    printf("  libuv %s, libwebsockets %s, hiredis %d.%d.%d, jansson %s, libsodium %s, %s\n",
           uv_version_string(), lws_get_library_version(), HIREDIS_MAJOR, HIREDIS_MINOR,
           HIREDIS_PATCH, JANSSON_VERSION, sodium_version_string(), OPENSSL_VERSION_TEXT);
    return 0;
}

static int run_help(const Command *cmd, int argc, char **argv);

static const Command version_command = {
    .name = "version",
    .summary = "print the version of pgfleet and of the libraries it runs on",
    .usage = NULL,
    .run = run_version,
};

static const Command help_command = {
    .name = "help",
    .summary = "show help for pgfleet or for a command",
    .usage = "[COMMAND...]",
    .run = run_help,
};

static const Command *const root_subcommands[] = {
    &cli_serve_command,    &cli_config_command,
    &cli_discover_command, &cli_migrate_command,
    &cli_stream_command,   &cli_db_command,
    &cli_aws_command,      &cli_user_command,
    &cli_audit_command,    &cli_alerts_command,
    &cli_health_command,   &version_command,
    &help_command,         NULL,
};

const Command cli_root_command = {
    .name = "pgfleet",
    .summary = "pgfleet: a control plane for PostgreSQL replication",
    .usage = "COMMAND [ARGS]",
    .help = "Configuration comes from environment variables; 'pgfleet config' lists them.\n"
            "Exit status: 0 ok, 2 usage error, 3 bad configuration; 'pgfleet help config' "
            "has the rest.",
    .subcommands = root_subcommands,
};

static int run_help(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    const Command *target = &cli_root_command;
    char path[256] = "pgfleet";
    for (int i = 1; i < argc; i++) {
        const Command *found = NULL;
        for (const Command *const *c = target->subcommands; c && *c; c++)
            if (strcmp((*c)->name, argv[i]) == 0)
                found = *c;
        if (!found)
            return cli_usage_error("pgfleet help", "unknown command '%s' (see 'pgfleet help')",
                                   argv[i]);
        target = found;
        size_t used = strlen(path);
        snprintf(path + used, sizeof path - used, " %s", found->name);
    }
    cli_print_help(target, path, stdout);
    return 0;
}
