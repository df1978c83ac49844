/* cli_audit: `pgfleet audit`, the audit trail of a running server (admin) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/jsonutil.h"
#include "common/strbuf.h"
#include "common/table.h"
#include "common/urlenc.h"
#include "common/xalloc.h"

static const struct option audit_opts[] = {
    {"user", required_argument, NULL, 'u'},
    {"action", required_argument, NULL, 'a'},
    {"since", required_argument, NULL, 's'},
    {"until", required_argument, NULL, 't'},
    {"limit", required_argument, NULL, 'l'},
    {"json", no_argument, NULL, 'j'},
    {NULL, 0, NULL, 0},
};

static void add_param(StrBuf *q, const char *name, const char *value)
{
    strbuf_puts(q, q->len ? "&" : "?");
    urlenc_param(q, name, value);
}

static void entry_row(Table *t, const json_t *e)
{
    const char *target = jsonutil_str(e, "target");
    char st[24];
    snprintf(st, sizeof st, "%lld", (long long)json_integer_value(json_object_get(e, "status")));
    table_row(t, (const char *[]){jsonutil_str(e, "ts"), jsonutil_str(e, "user"),
                                  jsonutil_str(e, "role"), jsonutil_str(e, "action"),
                                  target ? target : "-", jsonutil_str(e, "result"), st,
                                  jsonutil_str(e, "address")});
}

static int run_audit(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    StrBuf q = STRBUF_INIT;
    static const char *const names[] = {"user", "action", "since", "until", "limit"};
    bool json = false;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", audit_opts, NULL)) != -1) {
        const char *p = strchr("uastl", o);
        if (o == 'j') {
            json = true;
        } else if (p && o) {
            add_param(&q, names[p - "uastl"], optarg);
        } else {
            strbuf_free(&q);
            return cli_usage_error("pgfleet audit", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        strbuf_free(&q);
        return cli_usage_error("pgfleet audit", "unexpected argument '%s'", argv[optind]);
    }
    char *path = xasprintf("/api/audit%s", q.len ? q.data : "");
    strbuf_free(&q);
    CliCall c;
    int rc = cli_get(path, json, &c);
    free(path);
    if (rc >= 0)
        return rc;
    Table *t = table_new(
        8, (const char *[]){"TIME", "USER", "ROLE", "ACTION", "TARGET", "RESULT", "ST", "ADDRESS"});
    table_align_right(t, 6);
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(c.body, "entries"), i, e) entry_row(t, e);
    table_print(t, stdout, "no audit entry matches");
    json_decref(c.body);
    return 0;
}

const Command cli_audit_command = {
    .name = "audit",
    .summary = "show the audit trail of a running server, newest first (admin)",
    .usage = "[--user U] [--action A] [--since T] [--until T] [--limit N] [--json]",
    .help = "Every sign-in, sign-out, failed sign-in and request that changed something.\n"
            "--action takes an action (stream.pause) or a prefix ending in '.' (stream.);\n"
            "--since/--until an RFC 3339 UTC time (2026-12-01T10:00:00Z). Talks to PGFLEET_URL\n"
            "with AUTH_KEY.",
    .run = run_audit,
};
