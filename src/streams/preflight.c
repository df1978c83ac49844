#include "streams/preflight.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

const char *const preflight_source_settings_sql =
    "SELECT current_setting('wal_level') AS wal_level, "
    "current_setting('rds.logical_replication', true) AS rds_logical, "
    "current_setting('max_replication_slots')::int AS max_slots, "
    "(SELECT count(*) FROM pg_replication_slots)::int AS used_slots, "
    "current_setting('max_wal_senders')::int AS max_senders, "
    "(SELECT count(*) FROM pg_stat_replication)::int AS used_senders, "
    "r.rolname::text AS role, r.rolsuper AS superuser, r.rolreplication AS replication, "
    "CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') THEN "
    "pg_has_role('rds_replication', 'MEMBER') ELSE false END AS rds_replication, "
    "EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS pub_exists, "
    "(SELECT coalesce(array_agg(schemaname || '.' || tablename ORDER BY 1), '{}') FROM "
    "pg_publication_tables WHERE pubname = $1)::text[] AS pub_tables, "
    "EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $2) AS slot_exists, "
    "coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = $2), false) AS "
    "slot_active, current_database()::text AS database, "
    "current_setting('server_version_num')::int AS version_num "
    "FROM pg_roles r WHERE r.rolname = current_user";

const char *const preflight_target_settings_sql =
    "SELECT current_setting('max_logical_replication_workers')::int AS max_workers, "
    "(SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL)::int AS used_workers, "
    "current_setting('max_replication_slots')::int AS max_origins, "
    "(SELECT count(*) FROM pg_subscription)::int AS used_origins, "
    "r.rolname::text AS role, r.rolsuper AS superuser, "
    "CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_create_subscription') THEN "
    "pg_has_role('pg_create_subscription', 'MEMBER') ELSE false END AS create_subscription_role, "
    "EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1) AS sub_exists, "
    "current_database()::text AS database, "
    "current_setting('server_version_num')::int AS version_num "
    "FROM pg_roles r WHERE r.rolname = current_user";

const char *const preflight_tables_sql =
    "SELECT n.nspname::text AS schema, c.relname::text AS name, "
    "n.nspname || '.' || c.relname AS qualified, c.relreplident::text AS replident, "
    "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk, "
    "pg_has_role(c.relowner, 'USAGE') AS owned, has_table_privilege(c.oid, 'SELECT') AS "
    "can_select, "
    "(SELECT json_agg(json_build_object('name', a.attname, 'type', "
    "format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum) FROM pg_attribute a WHERE "
    "a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '')::text "
    "AS columns, "
    "(SELECT json_agg(s.relname ORDER BY s.relname) FROM pg_depend d JOIN pg_class s ON s.oid = "
    "d.objid AND s.relkind = 'S' WHERE d.refobjid = c.oid AND d.deptype IN ('a', "
    "'i'))::text AS sequences "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgfleet') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' "
    "AND ($1::text[] IS NULL OR n.nspname || '.' || c.relname = ANY ($1::text[])) "
    "ORDER BY 3";

char *preflight_qualify(const char *name)
{
    return strchr(name, '.') ? xstrdup(name) : xasprintf("public.%s", name);
}

static void add(json_t *checks, const char *check, const char *status, const char *hint,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add(json_t *checks, const char *check, const char *status, const char *hint,
                const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:s?}", "check", check, "status",
                                            status, "message", msg, "hint", hint));
}

static bool b(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

static long long n(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* "a, b, c" of up to 20 names, then "and N more" */
static void join(StrBuf *sb, const json_t *names)
{
    size_t i;
    const json_t *x;
    json_array_foreach(names, i, x)
    {
        if (i == 20) {
            strbuf_printf(sb, " and %zu more", json_array_size(names) - 20);
            break;
        }
        strbuf_printf(sb, "%s%s", i ? ", " : "", json_string_value(x));
    }
}

static const json_t *table_named(const json_t *rows, const char *q)
{
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r) if (!strcmp(jsonutil_str(r, "qualified"), q)) return r;
    return NULL;
}

/* wal_level, free slots and WAL senders, the right to replicate */
static void source_server_checks(json_t *c, const json_t *req, const json_t *s)
{
    const json_t *opt = json_object_get(req, "options");
    bool create_slot = !json_is_false(json_object_get(opt, "create_slot"));
    const char *wal = jsonutil_str(s, "wal_level");
    const char *rds = jsonutil_str(s, "rds_logical");
    if (wal && !strcmp(wal, "logical"))
        add(c, "wal_level", "ok", NULL, "wal_level is logical on the source");
    else if (rds)
        add(c, "wal_level", "error",
            "set rds.logical_replication = 1 in the instance's DB parameter group and reboot it",
            "rds.logical_replication is %s on the source (RDS): wal_level is %s, logical "
            "decoding is off",
            rds, wal ? wal : "unknown");
    else
        add(c, "wal_level", "error",
            "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL on the source",
            "wal_level is '%s' on the source; logical replication needs 'logical'",
            wal ? wal : "unknown");

    long long free_slots = n(s, "max_slots") - n(s, "used_slots");
    if (!create_slot)
        add(c, "replication_slots", "ok", NULL, "an existing slot is reused: none is created");
    else if (free_slots > 0)
        add(c, "replication_slots", "ok", NULL, "%lld of %lld replication slots free", free_slots,
            n(s, "max_slots"));
    else
        add(c, "replication_slots", "error",
            "raise max_replication_slots on the source (restart needed), or drop an unused slot "
            "(pg_replication_slots with active = false)",
            "no free replication slot on the source: max_replication_slots = %lld, %lld in use",
            n(s, "max_slots"), n(s, "used_slots"));
    long long free_senders = n(s, "max_senders") - n(s, "used_senders");
    if (free_senders > 0)
        add(c, "wal_senders", "ok", NULL, "%lld of %lld WAL senders free", free_senders,
            n(s, "max_senders"));
    else
        add(c, "wal_senders", "error", "raise max_wal_senders on the source (restart needed)",
            "no free WAL sender on the source: max_wal_senders = %lld, %lld streaming",
            n(s, "max_senders"), n(s, "used_senders"));

    const char *role = jsonutil_str(s, "role");
    if (b(s, "superuser") || b(s, "replication") || b(s, "rds_replication"))
        add(c, "source_privileges", "ok", NULL, "%s may replicate (%s)", role,
            b(s, "superuser")     ? "superuser"
            : b(s, "replication") ? "REPLICATION"
                                  : "rds_replication");
    else
        add(c, "source_privileges", "error",
            "ALTER ROLE <role> REPLICATION; on RDS: GRANT rds_replication TO <role>",
            "%s has neither REPLICATION nor rds_replication on the source: the subscription "
            "connects as this role and could not stream",
            role);
}

/* the source's tables sorted by what is wrong with them */
typedef struct TableFindings {
    json_t *missing, *not_owned, *no_select, *no_identity, *seqs;
} TableFindings;

static void find_table_problems(TableFindings *f, const json_t *req, const json_t *tables)
{
    *f = (TableFindings){json_array(), json_array(), json_array(), json_array(), json_array()};
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(req, "tables"), i,
                       x) if (!table_named(tables, json_string_value(x)))
        json_array_append_new(f->missing, json_string(json_string_value(x)));
    json_array_foreach(tables, i, x)
    {
        const char *q = jsonutil_str(x, "qualified");
        if (!b(x, "owned"))
            json_array_append_new(f->not_owned, json_string(q));
        if (!b(x, "can_select"))
            json_array_append_new(f->no_select, json_string(q));
        const char *ri = jsonutil_str(x, "replident");
        bool ok = (ri && (!strcmp(ri, "f") || !strcmp(ri, "i"))) ||
                  (ri && !strcmp(ri, "d") && b(x, "has_pk"));
        if (!ok)
            json_array_append_new(f->no_identity, json_string(q));
        json_t *sq =
            jsonutil_str(x, "sequences") ? json_loads(jsonutil_str(x, "sequences"), 0, NULL) : NULL;
        size_t k;
        const json_t *y;
        json_array_foreach(sq, k, y)
        {
            char *name = xasprintf("%s.%s", jsonutil_str(x, "schema"), json_string_value(y));
            json_array_append_new(f->seqs, json_string(name));
            free(name);
        }
        json_decref(sq);
    }
}

/* tables present, owned or readable, with a replica identity; their sequences */
static void source_table_checks(json_t *c, const json_t *req, const json_t *s, const json_t *tables)
{
    bool all = json_is_true(json_object_get(req, "all_tables"));
    const char *role = jsonutil_str(s, "role");
    TableFindings f;
    find_table_problems(&f, req, tables);
    json_t *missing = f.missing, *not_owned = f.not_owned, *no_select = f.no_select,
           *no_identity = f.no_identity, *seqs = f.seqs;
    StrBuf sb = STRBUF_INIT;
    if (json_array_size(missing)) {
        join(&sb, missing);
        add(c, "source_tables", "error", "check the names (schema.table) or create the tables",
            "not on the source: %s", sb.data);
    } else if (!all && json_array_size(tables) == 0)
        add(c, "source_tables", "error", "give tables, or all_tables: true",
            "no tables to replicate");
    else
        add(c, "source_tables", "ok", NULL, "%zu table(s) to replicate", json_array_size(tables));
    strbuf_reset(&sb);
    if (all && !b(s, "superuser"))
        add(c, "table_ownership", "error",
            "list the tables instead, or use a superuser (CREATE PUBLICATION ... FOR ALL TABLES "
            "needs one)",
            "all_tables needs a superuser on the source; %s is not", role);
    else if (!b(s, "superuser") && json_array_size(not_owned) && !b(s, "pub_exists")) {
        join(&sb, not_owned);
        add(c, "table_ownership", "error",
            "ALTER TABLE ... OWNER TO the source role, or create the publication as the owner",
            "CREATE PUBLICATION needs ownership of each table; %s does not own: %s", role, sb.data);
    } else if (json_array_size(no_select)) {
        join(&sb, no_select);
        add(c, "table_ownership", "error", "GRANT SELECT ON <table> TO the source role",
            "the initial copy reads each table; %s cannot SELECT from: %s", role, sb.data);
    } else
        add(c, "table_ownership", "ok", NULL, "%s may publish and copy the tables", role);
    strbuf_reset(&sb);
    if (json_array_size(no_identity)) {
        join(&sb, no_identity);
        add(c, "replica_identity", "error",
            "ALTER TABLE ... ADD PRIMARY KEY (...), or ALTER TABLE ... REPLICA IDENTITY FULL",
            "no primary key or replica identity: %s (UPDATE and DELETE on them would fail on the "
            "source once published)",
            sb.data);
    } else
        add(c, "replica_identity", "ok", NULL, "every table has a primary key or replica identity");
    strbuf_reset(&sb);
    if (json_array_size(seqs)) {
        join(&sb, seqs);
        add(c, "sequences", "warning",
            "after cutover, set each sequence on the target past the source's value (setval)",
            "sequences are not replicated: %s", sb.data);
    } else
        add(c, "sequences", "ok", NULL, "no sequences belong to the tables");
    strbuf_free(&sb);
    json_decref(missing);
    json_decref(not_owned);
    json_decref(no_select);
    json_decref(no_identity);
    json_decref(seqs);
}

static void source_checks(json_t *c, const json_t *req, const json_t *s, const json_t *tables)
{
    source_server_checks(c, req, s);
    source_table_checks(c, req, s, tables);
}

/* free workers and origins, the right to create subscriptions */
static void target_server_checks(json_t *c, const json_t *t)
{
    long long free_workers = n(t, "max_workers") - n(t, "used_workers");
    if (free_workers > 0)
        add(c, "target_workers", "ok", NULL, "%lld of %lld logical replication workers free",
            free_workers, n(t, "max_workers"));
    else
        add(c, "target_workers", "error",
            "raise max_logical_replication_workers (and max_worker_processes) on the target; "
            "restart needed",
            "no free logical replication worker on the target: max_logical_replication_workers "
            "= %lld, %lld running",
            n(t, "max_workers"), n(t, "used_workers"));
    if (n(t, "used_origins") >= n(t, "max_origins"))
        add(c, "target_origins", "error",
            "raise max_replication_slots on the target (it bounds replication origins); restart "
            "needed",
            "no free replication origin on the target: max_replication_slots = %lld, %lld "
            "subscriptions",
            n(t, "max_origins"), n(t, "used_origins"));
    else
        add(c, "target_origins", "ok", NULL, "%lld of %lld replication origins free",
            n(t, "max_origins") - n(t, "used_origins"), n(t, "max_origins"));
    if (b(t, "superuser") || b(t, "create_subscription_role"))
        add(c, "target_privileges", "ok", NULL, "%s may create subscriptions",
            jsonutil_str(t, "role"));
    else
        add(c, "target_privileges", "error",
            n(t, "version_num") >= 160000
                ? "GRANT pg_create_subscription TO <role>, and CREATE on the database"
                : "use a superuser for the target (PostgreSQL 15 lets only superusers create "
                  "subscriptions; 16 adds pg_create_subscription)",
            "%s may not create subscriptions on the target", jsonutil_str(t, "role"));
}

/* the source table q's columns against its copy tt on the target: missing ones, other types */
static void compare_columns(const char *q, const json_t *st, const json_t *tt, json_t *cols,
                            json_t *types)
{
    json_t *sc =
        json_loads(jsonutil_str(st, "columns") ? jsonutil_str(st, "columns") : "[]", 0, NULL);
    json_t *tc =
        json_loads(jsonutil_str(tt, "columns") ? jsonutil_str(tt, "columns") : "[]", 0, NULL);
    size_t k, m;
    const json_t *a, *bcol;
    json_array_foreach(sc, k, a)
    {
        const json_t *found = NULL;
        json_array_foreach(tc, m, bcol) if (!strcmp(jsonutil_str(a, "name"),
                                                    jsonutil_str(bcol, "name"))) found = bcol;
        char *what;
        if (!found) {
            what = xasprintf("%s.%s", q, jsonutil_str(a, "name"));
            json_array_append_new(cols, json_string(what));
        } else if (strcmp(jsonutil_str(a, "type"), jsonutil_str(found, "type")) != 0) {
            what =
                xasprintf("%s.%s (%s on the source, %s on the target)", q, jsonutil_str(a, "name"),
                          jsonutil_str(a, "type"), jsonutil_str(found, "type"));
            json_array_append_new(types, json_string(what));
        } else
            continue;
        free(what);
    }
    json_decref(sc);
    json_decref(tc);
}

/* every source table on the target, with the source's columns and types */
static void target_table_checks(json_t *c, const json_t *req, const json_t *src_tables,
                                const json_t *tgt_tables)
{
    bool binary = json_is_true(json_object_get(json_object_get(req, "options"), "binary"));
    json_t *missing = json_array(), *cols = json_array(), *types = json_array();
    size_t i;
    const json_t *st;
    json_array_foreach(src_tables, i, st)
    {
        const char *q = jsonutil_str(st, "qualified");
        const json_t *tt = table_named(tgt_tables, q);
        if (tt)
            compare_columns(q, st, tt, cols, types);
        else
            json_array_append_new(missing, json_string(q));
    }
    StrBuf sb = STRBUF_INIT;
    if (json_array_size(missing) || json_array_size(cols)) {
        if (json_array_size(missing)) {
            strbuf_puts(&sb, "missing on the target: ");
            join(&sb, missing);
        }
        if (json_array_size(cols)) {
            strbuf_printf(
                &sb, "%scolumns missing on the target: ", json_array_size(missing) ? "; " : "");
            join(&sb, cols);
        }
        add(c, "target_tables", "error",
            "create them on the target with the source's definition (pg_dump --schema-only "
            "--table=... from the source), or run a migration on the target first",
            "%s", sb.data);
    } else if (json_array_size(types)) {
        join(&sb, types);
        add(c, "target_tables", binary ? "error" : "warning",
            binary ? "binary mode needs identical types: align them or turn binary off"
                   : "values are converted through their text form; align the types if "
                     "conversion can fail",
            "column types differ: %s", sb.data);
    } else
        add(c, "target_tables", "ok", NULL, "every table exists on the target with its columns");
    strbuf_free(&sb);
    json_decref(missing);
    json_decref(cols);
    json_decref(types);
}

static void target_checks(json_t *c, const json_t *req, const json_t *t, const json_t *src_tables,
                          const json_t *tgt_tables)
{
    target_server_checks(c, t);
    target_table_checks(c, req, src_tables, tgt_tables);
}

static void name_checks(json_t *c, const json_t *req, const json_t *s, const json_t *t)
{
    const json_t *resume = json_object_get(req, "resume");
    bool create_slot =
        !json_is_false(json_object_get(json_object_get(req, "options"), "create_slot"));
    const char *pub = jsonutil_str(req, "publication"), *sub = jsonutil_str(req, "subscription"),
               *slot = jsonutil_str(req, "slot");
    StrBuf sb = STRBUF_INIT;
    const char *status = "ok";
    const char *hint = NULL;
    if (b(s, "pub_exists") && !b(resume, "publication_created")) {
        /* an existing publication is reused when it publishes exactly the tables asked for */
        json_t *want = json_deep_copy(json_object_get(req, "tables"));
        bool same = json_equal(want, json_object_get(s, "pub_tables")) ||
                    json_is_true(json_object_get(req, "all_tables"));
        json_decref(want);
        if (same) {
            strbuf_printf(&sb,
                          "publication %s exists with these tables: it is reused (and kept "
                          "when the stream is dropped); ",
                          pub);
            status = "warning";
        } else {
            strbuf_printf(&sb, "publication %s exists with other tables; ", pub);
            status = "error";
            hint = "choose another publication name, or drop the existing publication";
        }
    }
    if (create_slot && b(s, "slot_exists") && !b(resume, "slot_created")) {
        strbuf_printf(&sb, "replication slot %s already exists on the source (%s); ", slot,
                      b(s, "slot_active") ? "active" : "inactive");
        status = "error";
        hint = "choose another slot name, drop the slot, or reuse it with create_slot: false";
    }
    if (!create_slot && !b(s, "slot_exists")) {
        strbuf_printf(&sb, "create_slot is false but slot %s does not exist on the source; ", slot);
        status = "error";
        hint = "create it (pg_create_logical_replication_slot(name, 'pgoutput')) or let pgfleet";
    }
    if (b(t, "sub_exists") && !resume) {
        strbuf_printf(&sb, "subscription %s already exists on the target server; ", sub);
        status = "error";
        hint = "subscription names are unique per server: choose another";
    }
    if (!sb.len)
        strbuf_printf(&sb, "publication %s, subscription %s and slot %s are free; ", pub, sub,
                      slot);
    sb.data[sb.len - 2] = '\0';
    add(c, "name_conflicts", status, hint, "%s", sb.data);
    strbuf_free(&sb);
}

json_t *preflight_evaluate(const json_t *req, const json_t *src, const json_t *tgt)
{
    json_t *c = json_array();
    const json_t *s = json_object_get(src, "settings"), *t = json_object_get(tgt, "settings");
    if (jsonutil_str(src, "error"))
        add(c, "source_reachable", "error", jsonutil_str(src, "hint"),
            "pgfleet cannot reach the source: %s", jsonutil_str(src, "error"));
    else
        add(c, "source_reachable", "ok", NULL, "pgfleet reached the source (%s)",
            jsonutil_str(s, "database"));
    if (jsonutil_str(tgt, "error"))
        add(c, "target_reachable", "error", jsonutil_str(tgt, "hint"),
            "pgfleet cannot reach the target: %s", jsonutil_str(tgt, "error"));
    else
        add(c, "target_reachable", "ok", NULL, "pgfleet reached the target (%s)",
            jsonutil_str(t, "database"));
    if (s)
        source_checks(c, req, s, json_object_get(src, "tables"));
    if (t && s)
        target_checks(c, req, t, json_object_get(src, "tables"), json_object_get(tgt, "tables"));
    const json_t *reach = json_object_get(tgt, "reach");
    if (reach && json_is_true(json_object_get(reach, "verified")))
        add(c, "target_reaches_source", json_is_true(json_object_get(reach, "ok")) ? "ok" : "error",
            json_is_true(json_object_get(reach, "ok"))
                ? NULL
                : "the target must reach the source's host and port and log in: check the "
                  "network path from the target, pg_hba.conf on the source and the password",
            "%s",
            json_is_true(json_object_get(reach, "ok"))
                ? "the target connected and logged in to the source (a CREATE SUBSCRIPTION "
                  "that was rolled back)"
                : jsonutil_str(reach, "error"));
    else if (reach)
        add(c, "target_reaches_source", "warning", NULL,
            "not verified from the target: %s. Verified: pgfleet itself reached the source",
            jsonutil_str(reach, "why"));
    if (s && t)
        name_checks(c, req, s, t);
    return c;
}

size_t preflight_count(const json_t *checks, const char *status)
{
    size_t i, k = 0;
    const json_t *x;
    json_array_foreach(checks, i, x) if (!strcmp(jsonutil_str(x, "status"), status)) k++;
    return k;
}
