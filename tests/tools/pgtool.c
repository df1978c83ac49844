/*
 * pgtool: drives pgfleet's PostgreSQL connection layer for the integration
 * tests. One connection per process, from the environment (PGT_HOST, PGT_PORT,
 * PGT_DB, PGT_USER, PGT_PASSWORD, PGT_SSLMODE, PGT_CA, PGT_STATEMENT_TIMEOUT_MS,
 * PGT_CONNECT_TIMEOUT_MS). Reads commands on stdin, prints one JSON line each:
 *
 *   connect | query SQL | param SQL<TAB>P1<TAB>P2... | pipeline SQL;;SQL;;...
 *   cancel-after MS SQL | loop-check MS SQL | close | quit
 *
 * loop-check runs SQL while a 10 ms timer ticks, and reports how many ticks
 * the loop managed meanwhile (the loop must not block on the query).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "pg/pgconn.h"

static uv_loop_t loop;
static PgConn *conn;
static json_t *out;
static bool done;
static int ticks;

static json_t *err_json(const PgError *e)
{
    return json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 0, "kind", pg_err_kind_name(e->kind),
                     "message", e->message, "hint", e->hint, "sqlstate", e->sqlstate);
}

static void connected(void *ud, PgConn *c, const PgError *err)
{
    (void)ud;
    if (err) {
        conn = NULL;
        out = err_json(err);
    } else {
        conn = c;
        out = json_pack("{s:b, s:s}", "ok", 1, "target", pgconn_target(c));
    }
    done = true;
}

static void results(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    (void)ud;
    (void)c;
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        json_t *r = json_array();
        if (PQresultStatus(res[i]) == PGRES_TUPLES_OK)
            for (int row = 0; row < PQntuples(res[i]); row++)
                json_array_append_new(r, PQgetisnull(res[i], row, 0)
                                             ? json_null()
                                             : json_string(PQgetvalue(res[i], row, 0)));
        json_array_append_new(rows, r);
    }
    out = err ? err_json(err) : json_pack("{s:b}", "ok", 1);
    json_object_set_new(out, "results", rows);
    json_object_set_new(out, "ticks", json_integer(ticks));
    done = true;
}

static void tick(uv_timer_t *t)
{
    (void)t;
    ticks++;
}

static void cancel_cb(uv_timer_t *t)
{
    (void)t;
    if (conn)
        pgconn_cancel(conn);
}

static const char *env(const char *k)
{
    const char *v = getenv(k);
    return v && *v ? v : NULL;
}

static void run(void)
{
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    char *s = jsonutil_dumps(out);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(out);
    out = NULL;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
    uv_loop_init(&loop);
    uv_timer_t ticker, canceller;
    uv_timer_init(&loop, &ticker);
    uv_timer_init(&loop, &canceller);
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *arg = strchr(line, ' ');
        if (arg)
            *arg++ = '\0';
        done = false;
        ticks = 0;
        if (strcmp(line, "quit") == 0)
            break;
        if (strcmp(line, "connect") == 0) {
            PgConnParams p = {.host = env("PGT_HOST"),
                              .port = env("PGT_PORT") ? atoi(env("PGT_PORT")) : 5432,
                              .dbname = env("PGT_DB"),
                              .user = env("PGT_USER"),
                              .password = env("PGT_PASSWORD"),
                              .sslmode = env("PGT_SSLMODE"),
                              .sslrootcert = env("PGT_CA"),
                              .connect_timeout_ms =
                                  env("PGT_CONNECT_TIMEOUT_MS") ? atol(env("PGT_CONNECT_TIMEOUT_MS")) : 0,
                              .statement_timeout_ms = env("PGT_STATEMENT_TIMEOUT_MS")
                                                          ? atol(env("PGT_STATEMENT_TIMEOUT_MS"))
                                                          : 0};
            pgconn_connect(&loop, &p, connected, NULL);
            run();
            continue;
        }
        if (!conn) {
            printf("{\"ok\":false,\"kind\":\"not_connected\"}\n");
            fflush(stdout);
            continue;
        }
        bool started = false;
        if (strcmp(line, "query") == 0 && arg) {
            started = pgconn_query(conn, arg, 0, NULL, results, NULL);
        } else if (strcmp(line, "param") == 0 && arg) {
            const char *params[16];
            int n = 0;
            char *sql = strtok(arg, "\t");
            char *p;
            while ((p = strtok(NULL, "\t")) && n < 16)
                params[n++] = p;
            started = pgconn_query(conn, sql, n, params, results, NULL);
        } else if (strcmp(line, "pipeline") == 0 && arg) {
            const char *sqls[32];
            int n = 0;
            for (char *s = arg; s && n < 32;) {
                char *sep = strstr(s, ";;");
                if (sep)
                    *sep = '\0';
                sqls[n++] = s;
                s = sep ? sep + 2 : NULL;
            }
            started = pgconn_pipeline(conn, sqls, n, results, NULL);
        } else if ((strcmp(line, "cancel-after") == 0 || strcmp(line, "loop-check") == 0) && arg) {
            char *sql = strchr(arg, ' ');
            if (sql) {
                *sql++ = '\0';
                uv_timer_start(&ticker, tick, 10, 10);
                if (line[0] == 'c')
                    uv_timer_start(&canceller, cancel_cb, (uint64_t)atol(arg), 0);
                started = pgconn_query(conn, sql, 0, NULL, results, NULL);
            }
        } else if (strcmp(line, "close") == 0) {
            pgconn_close(conn);
            conn = NULL;
            printf("{\"ok\":true}\n");
            fflush(stdout);
            continue;
        }
        if (!started) {
            printf("{\"ok\":false,\"kind\":\"refused\"}\n");
            fflush(stdout);
            continue;
        }
        run();
        uv_timer_stop(&ticker);
        uv_timer_stop(&canceller);
    }
    if (conn)
        pgconn_close(conn);
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_close((uv_handle_t *)&canceller, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
