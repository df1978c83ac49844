/* cli_alerts: `pgfleet alerts list|history|ack|silence|unsilence`, a client of a running server */
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

static bool json_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            return true;
    return false;
}

/* an alert's labels as k=v,k=v (the caller frees it) */
static char *labels_text(const json_t *l)
{
    StrBuf b = STRBUF_INIT;
    const char *k;
    const json_t *v;
    strbuf_puts(&b, "");
    json_object_foreach(jsonutil_unconst(l), k, v)
    {
        strbuf_printf(&b, "%s%s=%s", b.len ? "," : "", k,
                      json_string_value(v) ? json_string_value(v) : "?");
    }
    return strbuf_detach(&b);
}

static int run_list(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    CliCall c;
    int rc = cli_get("/api/alerts", json_flag(argc, argv), &c);
    if (rc >= 0)
        return rc;
    Table *t = table_new(5, (const char *[]){"ID", "STATE", "RULE", "SEVERITY", "LABELS / WHAT"});
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(c.body, "alerts"), i, a)
    {
        char *labels = labels_text(json_object_get(a, "labels"));
        table_row(t,
                  (const char *[]){jsonutil_str(a, "id"), jsonutil_str(a, "state"),
                                   jsonutil_str(a, "rule"), jsonutil_str(a, "severity"), labels});
        free(labels);
        char *what = xasprintf("%s%s", jsonutil_str(a, "text") ? jsonutil_str(a, "text") : "",
                               json_is_object(json_object_get(a, "ack")) ? " (acknowledged)" : "");
        table_note(t, what);
        free(what);
    }
    table_print(t, stdout, "no alert is pending or firing");
    json_decref(c.body);
    return 0;
}

static int run_history(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    static const struct option opts[] = {{"rule", required_argument, NULL, 'r'},
                                         {"since", required_argument, NULL, 's'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    StrBuf q = STRBUF_INIT;
    bool json = false;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'j') {
            json = true;
            continue;
        }
        if (o == '?') {
            strbuf_free(&q);
            return cli_usage_error("pgfleet alerts history", "unknown option '%s'",
                                   argv[optind - 1]);
        }
        strbuf_puts(&q, q.len ? "&" : "?");
        urlenc_param(&q, o == 'r' ? "rule" : o == 's' ? "since" : "limit", optarg);
    }
    char *path = xasprintf("/api/alerts/history%s", q.len ? q.data : "");
    strbuf_free(&q);
    CliCall c;
    int rc = cli_get(path, json, &c);
    free(path);
    if (rc >= 0)
        return rc;
    Table *tab = table_new(4, (const char *[]){"TIME", "STATE", "RULE", "LABELS"});
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(c.body, "transitions"), i, t)
    {
        char *labels = labels_text(json_object_get(t, "labels"));
        char *last = xasprintf("%s%s", labels,
                               json_is_true(json_object_get(t, "silenced")) ? " (silenced)" : "");
        table_row(tab, (const char *[]){jsonutil_str(t, "ts"), jsonutil_str(t, "state"),
                                        jsonutil_str(t, "rule"), last});
        free(labels);
        free(last);
    }
    table_print(tab, stdout, "no alert transition matches");
    json_decref(c.body);
    return 0;
}

static int run_ack(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc != 2)
        return cli_usage_error("pgfleet alerts ack", "needs the alert's ID (pgfleet alerts list)");
    char *id = urlenc(argv[1]);
    char *path = xasprintf("/api/alerts/%s/ack", id);
    free(id);
    CliCall c;
    int rc = cli_request("POST", path, "{}", &c);
    free(path);
    if (rc >= 0)
        return rc;
    printf("acknowledged %s\n", argv[1]);
    json_decref(c.body);
    return 0;
}

static int run_silence(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    static const struct option opts[] = {{"match", required_argument, NULL, 'm'},
                                         {"for", required_argument, NULL, 'f'},
                                         {"comment", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    json_t *body = json_pack("{s:{}, s:s}", "match", "for", "2h");
    int o, rc = -1;
    optind = 1;
    opterr = 0;
    while (rc < 0 && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *eq = o == 'm' ? strchr(optarg, '=') : NULL;
        if (o == 'm' && eq) {
            *eq = '\0';
            json_object_set_new(json_object_get(body, "match"), optarg, json_string(eq + 1));
        } else if (o == 'f' || o == 'c') {
            json_object_set_new(body, o == 'f' ? "for" : "comment", json_string(optarg));
        } else {
            rc = cli_usage_error("pgfleet alerts silence", "%s",
                                 o == 'm' ? "--match takes label=value" : "unknown option");
        }
    }
    if (rc < 0 && json_object_size(json_object_get(body, "match")) == 0)
        rc = cli_usage_error("pgfleet alerts silence", "needs at least one --match label=value");
    if (rc >= 0) {
        json_decref(body);
        return rc;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    CliCall c;
    rc = cli_request("POST", "/api/alerts/silences", text, &c);
    free(text);
    if (rc >= 0)
        return rc;
    printf("silence %s until %.0f\n", jsonutil_str(c.body, "id"),
           json_number_value(json_object_get(c.body, "until")));
    json_decref(c.body);
    return 0;
}

static int run_unsilence(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc != 2)
        return cli_usage_error("pgfleet alerts unsilence", "needs the silence's ID");
    char *id = urlenc(argv[1]);
    char *path = xasprintf("/api/alerts/silences/%s", id);
    free(id);
    CliCall c;
    int rc = cli_request("DELETE", path, NULL, &c);
    free(path);
    if (rc >= 0)
        return rc;
    printf("silence %s ended\n", argv[1]);
    json_decref(c.body);
    return 0;
}

static const Command list_command = {
    .name = "list", .summary = "pending and firing alerts", .usage = "[--json]", .run = run_list};
static const Command history_command = {.name = "history",
                                        .summary = "transitions, newest first",
                                        .usage = "[--rule R] [--since T] [--limit N] [--json]",
                                        .run = run_history};
static const Command ack_command = {.name = "ack",
                                    .summary = "acknowledge an alert (no more repeats)",
                                    .usage = "ID",
                                    .run = run_ack};
static const Command silence_command = {
    .name = "silence",
    .summary = "keep matching alerts quiet for a while",
    .usage = "--match label=value... [--for 2h] [--comment TEXT]",
    .help = "Labels are the alert's (node, slot, from, to, database ...) plus rule and severity;\n"
            "a value ending in * matches a prefix.",
    .run = run_silence};
static const Command unsilence_command = {
    .name = "unsilence", .summary = "end a silence", .usage = "ID", .run = run_unsilence};

static const Command *const subcommands[] = {&list_command,    &history_command,   &ack_command,
                                             &silence_command, &unsilence_command, NULL};

const Command cli_alerts_command = {
    .name = "alerts",
    .summary = "alerts of a running server: list, history, ack, silence",
    .usage = "COMMAND",
    .subcommands = subcommands,
};
