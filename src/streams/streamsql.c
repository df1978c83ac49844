#include "streams/streamsql.h"

#include <stdio.h>

#include "common/strbuf.h"
#include "pg/pgquote.h"

const char *const streamsql_publication_exists = "SELECT 1 FROM pg_publication WHERE pubname = $1";
const char *const streamsql_create_slot =
    "SELECT pg_create_logical_replication_slot($1, 'pgoutput') WHERE NOT EXISTS (SELECT 1 FROM "
    "pg_replication_slots WHERE slot_name = $1)";
const char *const streamsql_subscription_exists =
    "SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database "
    "WHERE datname = current_database())";
const char *const streamsql_publication_has_table =
    "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = "
    "$3";
const char *const streamsql_terminate_slot_user =
    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND "
    "active_pid IS NOT NULL";
const char *const streamsql_drop_slot =
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1";
const char *const streamsql_sync_states =
    "SELECT sr.srrelid::regclass::text AS table_name, CASE sr.srsubstate WHEN 'i' THEN 'init' "
    "WHEN 'd' THEN 'copying' WHEN 'f' THEN 'copied' WHEN 's' THEN 'synchronized' WHEN 'r' THEN "
    "'ready' ELSE sr.srsubstate::text END AS state FROM pg_subscription_rel sr JOIN "
    "pg_subscription s ON s.oid = sr.srsubid WHERE s.subname = $1 AND s.subdbid = (SELECT oid "
    "FROM pg_database WHERE datname = current_database()) ORDER BY 1";
const char *const streamsql_subscription_enabled =
    "SELECT subenabled AS enabled FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT "
    "oid FROM pg_database WHERE datname = current_database())";
const char *const streamsql_quiet_session[3] = {"SET log_min_error_statement = panic",
                                                "SET log_statement = 'none'",
                                                "SET log_min_messages = error"};

char *streamsql_create_publication(const ReplicationStream *s)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "CREATE PUBLICATION ");
    pgquote_ident(&sb, s->publication);
    if (s->all_tables) {
        strbuf_puts(&sb, " FOR ALL TABLES");
        return strbuf_detach(&sb);
    }
    strbuf_puts(&sb, " FOR TABLE ");
    for (size_t i = 0; i < s->ntables; i++) {
        if (i)
            strbuf_puts(&sb, ", ");
        pgquote_qualified(&sb, s->tables[i]);
    }
    return strbuf_detach(&sb);
}

char *streamsql_conninfo(const DatabaseConfig *src, const char *password,
                         const char *application_name)
{
    StrBuf sb = STRBUF_INIT;
    char port[16];
    snprintf(port, sizeof port, "%lld", src->port);
    pgquote_conninfo_kv(&sb, "host", src->host);
    pgquote_conninfo_kv(&sb, "port", port);
    pgquote_conninfo_kv(&sb, "dbname", src->dbname);
    pgquote_conninfo_kv(&sb, "user", src->user);
    if (password)
        pgquote_conninfo_kv(&sb, "password", password);
    pgquote_conninfo_kv(&sb, "sslmode", sslmode_names[src->sslmode]);
    pgquote_conninfo_kv(&sb, "application_name", application_name);
    return strbuf_detach(&sb);
}

/* CREATE SUBSCRIPTION "name" CONNECTION '...' PUBLICATION "pub" */
static void subscription_head(StrBuf *sb, const char *name, const char *conninfo,
                              const char *publication)
{
    strbuf_puts(sb, "CREATE SUBSCRIPTION ");
    pgquote_ident(sb, name);
    strbuf_puts(sb, " CONNECTION ");
    pgquote_literal(sb, conninfo);
    strbuf_puts(sb, " PUBLICATION ");
    pgquote_ident(sb, publication);
}

char *streamsql_create_subscription(const ReplicationStream *s, const char *conninfo)
{
    StrBuf sb = STRBUF_INIT;
    subscription_head(&sb, s->subscription, conninfo, s->publication);
    strbuf_puts(&sb, " WITH (create_slot = false, slot_name = ");
    pgquote_literal(&sb, s->slot ? s->slot : s->subscription);
    strbuf_printf(&sb, ", copy_data = %s, streaming = %s, binary = %s)",
                  s->options.copy_data ? "true" : "false", s->options.streaming ? "on" : "off",
                  s->options.binary ? "true" : "false");
    return strbuf_detach(&sb);
}

char *streamsql_probe_subscription(const char *name, const char *conninfo, const char *publication)
{
    StrBuf sb = STRBUF_INIT;
    subscription_head(&sb, name, conninfo, publication);
    strbuf_puts(&sb, " WITH (create_slot = false, enabled = false, slot_name = NONE)");
    return strbuf_detach(&sb);
}

char *streamsql_alter_subscription(const char *subscription, const char *what)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "ALTER SUBSCRIPTION ");
    pgquote_ident(&sb, subscription);
    strbuf_printf(&sb, " %s", what);
    return strbuf_detach(&sb);
}

char *streamsql_drop_subscription(const char *subscription)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "DROP SUBSCRIPTION IF EXISTS ");
    pgquote_ident(&sb, subscription);
    return strbuf_detach(&sb);
}

char *streamsql_drop_publication(const char *publication)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "DROP PUBLICATION IF EXISTS ");
    pgquote_ident(&sb, publication);
    return strbuf_detach(&sb);
}

char *streamsql_publication_table(const char *publication, const char *qualified, bool add)
{
    StrBuf sb = STRBUF_INIT;
    strbuf_puts(&sb, "ALTER PUBLICATION ");
    pgquote_ident(&sb, publication);
    strbuf_puts(&sb, add ? " ADD TABLE " : " DROP TABLE ");
    pgquote_qualified(&sb, qualified);
    return strbuf_detach(&sb);
}
