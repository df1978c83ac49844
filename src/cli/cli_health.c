/* cli_health: `pgfleet health [--ready]`, the container's health check (no curl in the image) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"

/* the server this process would be: PGFLEET_URL, else PGFLEET_LISTEN on loopback */
static char *local_url(void)
{
    const char *url = getenv("PGFLEET_URL");
    if (url && *url)
        return xstrdup(url);
    const char *listen = getenv("PGFLEET_LISTEN");
    if (!listen || !*listen)
        listen = config_def(CFG_LISTEN)->default_value;
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : "8000";
    return xasprintf("http://127.0.0.1:%s", port);
}

static int run_health(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    bool ready = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ready"))
            ready = true;
        else
            return cli_usage_error("pgfleet health", "unexpected argument '%s'", argv[i]);
    }
    char *url = local_url();
    setenv("PGFLEET_URL", url, 1);
    CliCall c;
    int rc = cli_request("GET", ready ? "/readyz" : "/healthz", NULL, &c);
    if (rc < 0) {
        printf("%s: %s\n", ready ? "ready" : "alive", url);
        json_decref(c.body);
        rc = 0;
    }
    free(url);
    return rc;
}

const Command cli_health_command = {
    .name = "health",
    .summary = "check a local server: alive (/healthz), or --ready (/readyz: Redis answers)",
    .usage = "[--ready]",
    .help = "Exit 0 when the server answers 200. Asks PGFLEET_URL, or 127.0.0.1 at the port of\n"
            "PGFLEET_LISTEN: the container image's HEALTHCHECK (it has no curl).",
    .run = run_health,
};
