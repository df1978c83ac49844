/*
 * cli_discover: `pgfleet discover [--json] CONNINFO...` without a server:
 * connects to each server given (one connection, one round trip each), prints
 * the replication topology as a tree or as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "pg/discover.h"
#include "replication/topology.h"

typedef struct DiscoverOut {
    uv_loop_t *loop;
    const PgConnParams *targets;
    bool all;
    json_t *topology;
} DiscoverOut;

static void inventoried(void *ud, const json_t *snapshots)
{
    DiscoverOut *o = ud;
    o->topology = topology_build(snapshots);
}

/* then the databases that matter (or all, with --inventory) */
static void discovered(void *ud, const json_t *snapshots)
{
    DiscoverOut *o = ud;
    discover_inventory(o->loop, o->targets, snapshots, o->all, inventoried, o);
}

static void human_bytes(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v)) {
        snprintf(buf, len, "unknown");
        return;
    }
    double b = (double)json_integer_value(v);
    const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static const json_t *node_by_id(const json_t *topo, const char *id)
{
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(topo, "nodes"), i,
                       n) if (id && strcmp(jsonutil_str(n, "id"), id) == 0) return n;
    return NULL;
}

/*
 * The names of registered databases, from the server the CLI talks to (PGFLEET_URL with
 * AUTH_KEY): "host:port" -> [names], "host:port/dbname" -> name. NULL without a key or
 * when that server does not answer (said on stderr: the tree is printed all the same).
 */
static json_t *registered_names(void)
{
    const char *key = getenv("AUTH_KEY");
    if (!key || !*key)
        return NULL;
    CliCall c;
    if (cli_request_quiet("GET", "/api/databases", &c) >= 0 || c.status >= 300 ||
        !json_is_array(json_object_get(c.body, "databases"))) {
        fprintf(stderr, "pgfleet discover: names of registered databases not shown: %s\n",
                c.error[0] ? c.error : "the server's answer has no databases");
        json_decref(c.body);
        return NULL;
    }
    json_t *names = json_object();
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(c.body, "databases"), i, d)
    {
        const char *host = jsonutil_str(d, "host"), *db = jsonutil_str(d, "dbname"),
                   *name = jsonutil_str(d, "name");
        if (!host || !db || !name)
            continue;
        char server[320], full[400];
        snprintf(server, sizeof server, "%s:%lld", host,
                 (long long)json_integer_value(json_object_get(d, "port")));
        snprintf(full, sizeof full, "%s/%s", server, db);
        json_object_set_new(names, full, json_string(name));
        json_t *list = json_object_get(names, server);
        if (!list)
            json_object_set_new(names, server, list = json_array());
        json_array_append_new(list, json_string(name));
    }
    json_decref(c.body);
    return names;
}

/* " (name, name, name +N more)": the registered databases of a server */
static void print_server_names(const json_t *names, const char *id)
{
    const json_t *list = json_object_get(names, id);
    size_t n = json_array_size(list), i;
    if (!n)
        return;
    printf(" (");
    for (i = 0; i < n && i < 3; i++)
        printf("%s%s", i ? ", " : "", json_string_value(json_array_get(list, i)));
    if (n > 3)
        printf(" +%zu more", n - 3);
    printf(")");
}

/* a database, and its registered name when there is one */
static void print_database(const json_t *names, const char *server, const char *db)
{
    char full[400];
    snprintf(full, sizeof full, "%s/%s", server ? server : "?", db ? db : "?");
    const char *name = jsonutil_str(names, full);
    printf("%s%s%s%s", db ? db : "?", name ? " \"" : "", name ? name : "", name ? "\"" : "");
}

static void print_node_line(const json_t *n, const json_t *names)
{
    const char *id = jsonutil_str(n, "id");
    printf("%s", id);
    print_server_names(names, id);
    if (!json_is_true(json_object_get(n, "managed"))) {
        printf(" (not given: unmanaged)\n");
        return;
    }
    if (!json_is_true(json_object_get(n, "reachable"))) {
        printf(" UNREACHABLE: %s\n", jsonutil_str(json_object_get(n, "error"), "message"));
        return;
    }
    printf(" %s, PostgreSQL %s, timeline %lld, system %s\n", jsonutil_str(n, "role"),
           jsonutil_str(n, "server_version"),
           (long long)json_integer_value(json_object_get(n, "timeline")),
           jsonutil_str(n, "system_identifier"));
}

/* the edge itself: what flows along it */
static void print_edge(const json_t *e, const json_t *names)
{
    char lag[32];
    human_bytes(json_object_get(e, "lag_bytes"), lag, sizeof lag);
    if (strcmp(jsonutil_str(e, "kind"), "physical") == 0) {
        const json_t *secs = json_object_get(e, "replay_lag_seconds");
        char s[32] = "unknown";
        if (json_is_number(secs))
            snprintf(s, sizeof s, "%.1f s", json_number_value(secs));
        printf("physical [%s%s%s, lag %s / %s]\n", jsonutil_str(e, "state"),
               jsonutil_str(e, "slot") ? ", slot " : "",
               jsonutil_str(e, "slot") ? jsonutil_str(e, "slot") : "", lag, s);
        return;
    }
    const json_t *sync = json_object_get(e, "sync");
    char tables[48];
    cli_sync_counts(sync, tables, sizeof tables);
    printf("logical ");
    print_database(names, jsonutil_str(e, "from"), jsonutil_str(e, "source_database"));
    printf(" -> %s/", jsonutil_str(e, "to"));
    print_database(names, jsonutil_str(e, "to"), jsonutil_str(e, "target_database"));
    printf(" [subscription %s, %s, lag %s%s%s%s]\n", jsonutil_str(e, "subscription"),
           jsonutil_str(e, "state"), lag, sync ? ", " : "", tables, sync ? " tables ready" : "");
}

/*
 * The edges leaving node id, as a tree: "├─" before each but the last, "└─" before the
 * last; a physical edge's downstream server on its own line below it, its own edges
 * further in. prefix: what the lines above left open ("│  " or "   " per level).
 */
static void print_tree(const json_t *topo, const json_t *names, const char *id, const char *prefix,
                       int guard)
{
    if (guard > 64)
        return;
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(topo, "edges"), i, e)
    {
        const char *from = jsonutil_str(e, "from");
        if (from && strcmp(from, id) == 0)
            json_array_append(out, e);
    }
    json_array_foreach(out, i, e)
    {
        bool last = i + 1 == json_array_size(out);
        printf("%s%s ", prefix, last ? "└─" : "├─");
        print_edge(e, names);
        if (strcmp(jsonutil_str(e, "kind"), "physical") != 0)
            continue;
        char inner[512];
        snprintf(inner, sizeof inner, "%s%s", prefix, last ? "   " : "│  ");
        const json_t *to = node_by_id(topo, jsonutil_str(e, "to"));
        printf("%s", inner);
        if (to)
            print_node_line(to, names);
        else
            printf("%s\n", jsonutil_str(e, "to"));
        print_tree(topo, names, jsonutil_str(e, "to"), inner, guard + 1);
    }
    json_decref(out);
}

static void print_human(const json_t *topo, const json_t *names)
{
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(topo, "nodes"), i, n)
    {
        /* roots: nodes no physical edge leads to */
        bool child = false;
        size_t k;
        const json_t *e;
        json_array_foreach(json_object_get(topo, "edges"), k,
                           e) if (strcmp(jsonutil_str(e, "kind"), "physical") == 0 &&
                                  strcmp(jsonutil_str(e, "to"), jsonutil_str(n, "id")) == 0) child =
            true;
        if (child)
            continue;
        print_node_line(n, names);
        print_tree(topo, names, jsonutil_str(n, "id"), "", 0);
    }
    json_array_foreach(json_object_get(topo, "edges"), i, n)
    {
        if (!json_is_null(json_object_get(n, "from")))
            continue;
        printf("subscription %s in %s/%s [%s]: publisher unknown (%s)\n",
               jsonutil_str(n, "subscription"), jsonutil_str(n, "to"),
               jsonutil_str(n, "target_database"), jsonutil_str(n, "state"),
               jsonutil_str(n, "note"));
    }
    const json_t *slots = json_object_get(topo, "slots");
    if (json_array_size(slots)) {
        printf("\nslots:\n");
        const json_t *s;
        json_array_foreach(slots, i, s)
        {
            char ret[32];
            human_bytes(json_object_get(s, "retained_wal_bytes"), ret, sizeof ret);
            bool idle = !json_is_true(json_object_get(s, "active"));
            json_int_t kept = json_integer_value(json_object_get(s, "retained_wal_bytes"));
            printf("  %-24s %-28s %-8s %-9s retains %-10s wal_status %s%s\n",
                   jsonutil_str(s, "node"), jsonutil_str(s, "name"), jsonutil_str(s, "type"),
                   idle ? "inactive" : "active", ret,
                   jsonutil_str(s, "wal_status") ? jsonutil_str(s, "wal_status") : "-",
                   idle && kept > 0 ? "  RISK: nothing reads it; the WAL it holds grows" : "");
        }
    }
}

static int run_discover(const Command *cmd, int argc, char **argv)
{
    (void)cmd;
    bool as_json = false, all = false, named = true;
    int n = 0;
    PgConnParams *targets = xcalloc((size_t)argc, sizeof *targets);
    void **owners = xcalloc((size_t)argc, sizeof *owners);
    int status = 0;
    for (int i = 1; i < argc && status == 0; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (strcmp(argv[i], "--inventory") == 0) {
            all = true;
        } else if (strcmp(argv[i], "--no-names") == 0) {
            named = false;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            status = cli_usage_error("pgfleet discover", "unknown option '%s'", argv[i]);
        } else {
            char err[512];
            cli_warn_password_argument("pgfleet discover", argv[i]);
            if (!discover_parse_conninfo(argv[i], &targets[n], &owners[n], err, sizeof err))
                status = cli_usage_error("pgfleet discover", "%s", err);
            else
                n++;
        }
    }
    if (status == 0 && n == 0)
        status = cli_usage_error("pgfleet discover",
                                 "give at least one server, e.g. 'host=db1 port=5432 user=pgfleet' "
                                 "or postgresql://pgfleet@db1/postgres");
    if (status == 0) {
        log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
        uv_loop_t loop;
        uv_loop_init(&loop);
        DiscoverOut o = {.loop = &loop, .targets = targets, .all = all};
        discover_run(&loop, targets, n, discovered, &o);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        if (as_json) {
            json_t *copy = json_deep_copy(o.topology);
            json_object_del(copy, "unreachable");
            char *s =
                json_dumps(copy, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            printf("%s\n", s);
            free(s);
            json_decref(copy);
        } else {
            json_t *names = named ? registered_names() : NULL;
            print_human(o.topology, names);
            json_decref(names);
        }
        size_t i;
        const json_t *u;
        json_array_foreach(json_object_get(o.topology, "unreachable"), i, u)
        {
            const json_t *node = node_by_id(o.topology, json_string_value(u));
            const json_t *e = json_object_get(node, "error");
            fprintf(stderr, "pgfleet discover: could not reach %s: %s\n", json_string_value(u),
                    jsonutil_str(e, "message"));
            if (jsonutil_str(e, "hint"))
                fprintf(stderr, "HINT: %s\n", jsonutil_str(e, "hint"));
            status = pgf_error_exit(PGF_ERR_UNREACHABLE);
        }
        json_decref(o.topology);
    }
    for (int i = 0; i < n; i++)
        discover_free_conninfo(owners[i]);
    free(owners);
    free(targets);
    return status;
}

const Command cli_discover_command = {
    .name = "discover",
    .summary = "connect to servers and print their replication topology",
    .usage = "[--json] [--inventory] [--no-names] CONNINFO...",
    .help = "Each CONNINFO is a libpq URI or key=value string (PGPASSWORD and PGUSER apply).\n"
            "One connection and one round trip per server. Standbys' upstreams and\n"
            "subscriptions' publishers that were not given appear as unmanaged nodes.\n"
            "Lag is 'unknown' (null in JSON), never 0, when it cannot be measured.\n"
            "Reading subscription conninfo needs a superuser or SELECT on pg_subscription.\n"
            "Databases with subscriptions or logical slots are also visited (one connection\n"
            "each) for publication tables and initial-sync states; --inventory visits every\n"
            "database and adds each node's \"inventory\" (publications and their tables).\n"
            "With AUTH_KEY set, the tree names the databases registered in the server at\n"
            "PGFLEET_URL (--no-names: not asked). Exit status 0 when every server was\n"
            "reached, 19 otherwise (what was found is still printed).",
    .run = run_discover,
};
