/* cli_config: `pgfleet config`, the configuration table with current values */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/jsonutil.h"

static int run_config(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else
            return cli_usage_error("pgfleet config", "unknown option '%s'", argv[i]);
    }
    Config cfg;
    char err[512] = "";
    bool ok = config_load(&cfg, NULL, NULL, err, sizeof err);
    char buf[512];
    if (as_json) {
        json_t *a = json_array();
        for (int k = 0; k < CFG_COUNT; k++) {
            const ConfigDef *d = config_def((ConfigKey)k);
            json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", d->name, "env", d->env,
                                  "value", config_display(&cfg, (ConfigKey)k, buf, sizeof buf),
                                  "description", d->description, "from_env", cfg.from_env[k]);
            json_object_set_new(o, "default",
                                d->default_value ? json_string(d->default_value) : json_null());
            json_array_append_new(a, o);
        }
        char *s = jsonutil_dumps(a);
        printf("%s\n", s);
        free(s);
        json_decref(a);
    } else {
        printf("%-28s %-26s %-s\n", "ENVIRONMENT VARIABLE", "DEFAULT", "CURRENT");
        for (int k = 0; k < CFG_COUNT; k++) {
            const ConfigDef *d = config_def((ConfigKey)k);
            const char *cur = config_display(&cfg, (ConfigKey)k, buf, sizeof buf);
            printf("%-28s %-26s %s%s\n", d->env, d->default_value ? d->default_value : "(unset)",
                   cur, cfg.from_env[k] ? "" : " (default)");
            printf("    %s\n", d->description);
        }
    }
    config_free(&cfg);
    if (!ok) {
        fprintf(stderr, "pgfleet: bad configuration: %s\n", err);
        return pgf_error_exit(PGF_ERR_CONFIG);
    }
    return 0;
}

const Command cli_config_command = {
    .name = "config",
    .summary = "show every setting: its environment variable, default and current value",
    .usage = "[--json]",
    .help = "Secrets (AUTH_KEY, passwords inside URLs) are shown masked.\n"
            "Exits 3 when a value is invalid, naming the variable and the rule.",
    .run = run_config,
};
