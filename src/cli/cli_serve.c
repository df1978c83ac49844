/* cli_serve: `pgfleet serve`, the daemon */
#include <stdio.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "app/app.h"

static int run_serve(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc > 1)
        return cli_usage_error("pgfleet serve",
                               "unexpected argument '%s' (settings come from "
                               "the environment: see 'pgfleet config')",
                               argv[1]);
    Config cfg;
    char err[512];
    if (!config_load(&cfg, NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "pgfleet: bad configuration: %s\n", err);
        config_free(&cfg);
        return pgf_error_exit(PGF_ERR_CONFIG);
    }
    log_setup(cfg.log_level, cfg.log_format);
    int rc = app_run(&cfg);
    config_free(&cfg);
    return rc;
}

const Command cli_serve_command = {
    .name = "serve",
    .summary = "run the daemon: REST API, WebSocket and web UI",
    .usage = NULL,
    .help = "Serves on PGFLEET_LISTEN (default 127.0.0.1:8000) and keeps state in Redis\n"
            "(PGFLEET_REDIS_URL). Without AUTH_KEY it listens on loopback addresses only.\n"
            "SIGTERM or SIGINT stops it gracefully: no new connections, in-flight requests\n"
            "finish (up to PGFLEET_SHUTDOWN_GRACE_MS), exit status 0.",
    .run = run_serve,
};
