#include "alert/guidance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/strbuf.h"
#include "pg/pgquote.h"

static const char *label(const json_t *labels, const char *k)
{
    const char *v = jsonutil_str(labels, k);
    return v ? v : "?";
}

static json_t *action(const char *text, const char *sql, const char *command, const char *warning)
{
    json_t *a = json_pack("{s:s}", "text", text);
    if (sql)
        json_object_set_new(a, "sql", json_string(sql));
    if (command)
        json_object_set_new(a, "command", json_string(command));
    if (warning)
        json_object_set_new(a, "warning", json_string(warning));
    return a;
}

/* "SELECT ... 'literal' ..." with one quoted literal in the middle (new string) */
static char *sql_with(const char *head, const char *literal, const char *tail)
{
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, head);
    pgquote_literal(&b, literal);
    strbuf_puts(&b, tail);
    return strbuf_detach(&b);
}

static char *sql_ident(const char *head, const char *ident, const char *tail)
{
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, head);
    pgquote_ident(&b, ident);
    strbuf_puts(&b, tail);
    return strbuf_detach(&b);
}

static json_t *make(const char *meaning, json_t *causes, json_t *actions)
{
    return json_pack("{s:s, s:o, s:o}", "meaning", meaning, "causes", causes, "actions", actions);
}

static json_t *lag(const json_t *l)
{
    const char *kind = label(l, "kind");
    bool logical = !strcmp(kind, "logical");
    json_t *actions = json_array();
    char text[400];
    if (logical) {
        snprintf(text, sizeof text,
                 "On %s, see whether the apply worker runs and errors:", label(l, "to"));
        char *sql = sql_with("SELECT subname, pid, received_lsn, latest_end_lsn, "
                             "last_msg_receipt_time FROM pg_stat_subscription WHERE subname = ",
                             label(l, "subscription"), ";");
        json_array_append_new(actions, action(text, sql, NULL, NULL));
        free(sql);
        json_array_append_new(actions,
                              action("Look for a long transaction or lock on the subscriber "
                                     "blocking apply:",
                                     "SELECT pid, state, wait_event, now() - xact_start AS age, "
                                     "query FROM pg_stat_activity WHERE backend_type = "
                                     "'logical replication worker' OR wait_event_type = 'Lock';",
                                     NULL, NULL));
    } else {
        snprintf(text, sizeof text,
                 "On %s, see what is sent, written and replayed:", label(l, "from"));
        json_array_append_new(
            actions, action(text,
                            "SELECT application_name, client_addr, state, sent_lsn, replay_lsn, "
                            "pg_wal_lsn_diff(sent_lsn, replay_lsn) AS replay_lag_bytes, replay_lag "
                            "FROM pg_stat_replication;",
                            NULL, NULL));
        snprintf(text, sizeof text,
                 "On %s, check that replay is not paused (and resume it):", label(l, "to"));
        json_array_append_new(actions, action(text,
                                              "SELECT pg_is_wal_replay_paused(); -- then, if true: "
                                              "SELECT pg_wal_replay_resume();",
                                              NULL, NULL));
    }
    return make(logical ? "The subscriber applies changes slower than the publisher makes them, "
                          "so its data is behind and the publisher keeps WAL for it."
                        : "The standby is behind its upstream: reads there are stale, and a "
                          "failover would lose or wait for the missing WAL.",
                json_pack("[s, s, s]", "a burst of writes (bulk load, VACUUM FULL, index build)",
                          logical ? "a long transaction or lock conflict on the subscriber"
                                  : "replay paused, or a long query on the standby holding it "
                                    "back (max_standby_streaming_delay)",
                          "network or disk too slow for the write rate"),
                actions);
}

static json_t *edge_down(const json_t *l)
{
    json_t *actions = json_array();
    char text[400];
    if (!strcmp(label(l, "kind"), "logical")) {
        snprintf(text, sizeof text, "On %s, enable the subscription again:", label(l, "to"));
        char *sql = sql_ident("ALTER SUBSCRIPTION ", label(l, "subscription"), " ENABLE;");
        json_array_append_new(actions,
                              action(text, sql, NULL,
                                     "if it was disabled by an apply error, the same error comes "
                                     "back: read the subscriber's log first"));
        free(sql);
        json_array_append_new(actions,
                              action("Errors of apply and table sync:",
                                     "SELECT subname, apply_error_count, sync_error_count FROM "
                                     "pg_stat_subscription_stats;",
                                     NULL, NULL));
    } else {
        snprintf(text, sizeof text, "On %s, see whether the WAL receiver runs:", label(l, "to"));
        json_array_append_new(actions,
                              action(text,
                                     "SELECT status, sender_host, sender_port, last_msg_receipt_"
                                     "time FROM pg_stat_wal_receiver;",
                                     NULL, NULL));
        snprintf(text, sizeof text, "Is %s running, and can it reach %s?", label(l, "to"),
                 label(l, "from"));
        json_array_append_new(actions, action(text, NULL, "pg_isready; pg_ctl status", NULL));
    }
    return make("Changes are not flowing on this edge: the downstream falls further behind with "
                "every write, and the upstream keeps WAL for it if a slot is used.",
                json_pack("[s, s, s, s]", "the downstream server is down or restarting",
                          "network, pg_hba.conf or password change between them",
                          "the subscription was disabled (by hand, or by an apply error)",
                          "an initial copy stuck on a lock or a missing table"),
                actions);
}

static json_t *slot(const json_t *l, bool forecast)
{
    json_t *actions = json_array();
    char text[400];
    snprintf(text, sizeof text,
             "On %s, see what the slot holds back and who uses it:", label(l, "node"));
    char *sql = sql_with("SELECT slot_name, active, active_pid, wal_status, safe_wal_size, "
                         "pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) "
                         "AS retained FROM pg_replication_slots WHERE slot_name = ",
                         label(l, "slot"), ";");
    json_array_append_new(actions, action(text, sql, NULL, NULL));
    free(sql);
    json_array_append_new(actions, action("Bring its consumer back (the standby or subscription "
                                          "that streams from it), so it catches up.",
                                          NULL, NULL, NULL));
    snprintf(text, sizeof text,
             "If nothing will ever use it again, drop it on %s:", label(l, "node"));
    sql = sql_with("SELECT pg_drop_replication_slot(", label(l, "slot"), ");");
    json_array_append_new(actions,
                          action(text, sql, NULL,
                                 "its consumer can then never resume from where it stopped: a "
                                 "standby must be rebuilt, a subscription re-created with a new "
                                 "initial copy"));
    free(sql);
    return make(forecast ? "At the rate it grew in the last 30 minutes, the WAL this slot keeps "
                           "will reach its limit (max_slot_wal_keep_size, or the threshold) soon: "
                           "then the slot is invalidated, or the disk fills."
                         : "The slot keeps WAL its consumer has not confirmed: the disk of the "
                           "server fills, and with max_slot_wal_keep_size the slot is lost.",
                json_pack("[s, s, s]", "its consumer (standby, subscriber, tool) is down or slow",
                          "a slot left behind by a consumer that no longer exists",
                          "a long-running logical decoding transaction"),
                actions);
}

static json_t *database_down(const json_t *l)
{
    char text[300];
    snprintf(text, sizeof text, "Test the connection the way pgfleet does: pgfleet db test %s",
             label(l, "database"));
    return make("pgfleet cannot reach the database, or reaches it slowly: its replication is not "
                "watched, and what depends on it may be down.",
                json_pack("[s, s, s]", "the server is down, restarting or overloaded",
                          "network, security group or pg_hba.conf change",
                          "a password rotated where pgfleet's credentials do not know it"),
                json_pack("[o, o]", action(text, NULL, "pgfleet db test", NULL),
                          action("See the database's health and last error:", NULL,
                                 "GET /api/databases", NULL)));
}

json_t *guidance_for(AlertKind kind, const json_t *labels)
{
    switch (kind) {
    case AK_REPLICATION_LAG:
        return lag(labels);
    case AK_EDGE_DOWN:
        return edge_down(labels);
    case AK_SLOT_RETENTION:
        return slot(labels, false);
    case AK_SLOT_FORECAST:
        return slot(labels, true);
    case AK_DATABASE_DOWN:
        return database_down(labels);
    case AK_LOG_EVENTS:
        return make("PostgreSQL logged replication errors on this server more often than the "
                    "rule allows.",
                    json_pack("[s, s]", "a downstream that cannot connect or authenticate",
                              "WAL removed before a standby or slot read it"),
                    json_pack("[o]", action("Read the events with their hints:", NULL,
                                            "GET /api/replication/events?node=<node>", NULL)));
    case AK_MIGRATION_FAILED:
        return make("A migration failed on at least one target, or left a prepared transaction "
                    "(atomic runs) that holds locks until resolved.",
                    json_pack("[s, s]", "an error in the script on that database's schema",
                              "a lock timeout against the application"),
                    json_pack("[o, o]",
                              action("The run, per target, with each error:", NULL,
                                     "pgfleet migrate history / GET /api/migrations/<id>", NULL),
                              action("Prepared transactions left behind:",
                                     "SELECT gid, prepared, owner FROM pg_prepared_xacts;", NULL,
                                     "COMMIT PREPARED or ROLLBACK PREPARED only once you know "
                                     "what the other targets did")));
    case AK_STREAM_ERROR:
        return make("A stream pgfleet manages stopped in error: its data no longer flows.",
                    json_pack("[s, s]", "the source or target became unreachable mid-operation",
                              "a name conflict or missing privilege on one side"),
                    json_pack("[o]", action("The stream with its error; send the create (or the "
                                            "drop) again once the cause is fixed:",
                                            NULL, "pgfleet stream show <id>", NULL)));
    case AK_COLLECTOR_STALE:
        return make("pgfleet has not completed a collection for a while: everything it shows "
                    "(lag, slots, alerts) is old.",
                    json_pack("[s, s]",
                              "the daemon's event loop is blocked or the daemon is "
                              "overloaded",
                              "every server is slow to answer"),
                    json_pack("[o]", action("Check the daemon's log and /readyz.", NULL,
                                            "curl /readyz", NULL)));
    case AK_COUNT:
        break;
    }
    return json_object();
}
