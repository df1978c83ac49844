#include "pg/discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/mask.h"
#include "common/xalloc.h"

/*
 * Each query returns its rows; columns are named so the snapshot keeps them.
 * LSNs are text. The current position is the primary's insert position, or a
 * standby's replay position (what its own downstreams and slots can see).
 */
const char *const discover_queries[] = {
    /* instance */
    "SELECT system_identifier::text AS system_identifier, pg_is_in_recovery() AS in_recovery, "
    "current_setting('server_version') AS server_version, "
    "(SELECT timeline_id FROM pg_control_checkpoint()) AS timeline, "
    "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() "
    "END::text "
    "AS current_lsn, pg_last_wal_receive_lsn()::text AS receive_lsn, "
    "pg_last_wal_replay_lsn()::text AS replay_lsn, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_seconds, "
    "current_setting('wal_level') AS wal_level, current_setting('cluster_name') AS cluster_name, "
    /* host and port of the upstream are taken from it; the rest (a password) is dropped */
    "CASE WHEN pg_is_in_recovery() AND pg_has_role(current_user, 'pg_read_all_settings', "
    "'MEMBER') THEN current_setting('primary_conninfo', true) END "
    "AS primary_conninfo FROM pg_control_system()",
    /* downstreams this server sends WAL to */
    "SELECT r.pid, r.usename::text AS usename, r.application_name, host(r.client_addr) AS "
    "client_addr, "
    "r.client_port, r.state, r.sent_lsn::text AS sent_lsn, r.flush_lsn::text AS flush_lsn, "
    "r.replay_lsn::text AS replay_lsn, extract(epoch FROM r.replay_lag)::float8 AS "
    "replay_lag_seconds, "
    "r.sync_state, s.slot_name::text AS slot_name "
    "FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid",
    /* where this server gets WAL from */
    "SELECT status, sender_host, sender_port, slot_name::text AS slot_name, "
    "flushed_lsn::text AS flushed_lsn, latest_end_lsn::text AS latest_end_lsn, "
    "extract(epoch FROM now() - last_msg_receipt_time)::float8 AS last_msg_age_seconds "
    "FROM pg_stat_wal_receiver",
    /* slots, with the WAL each retains */
    "SELECT slot_name::text AS slot_name, slot_type, database::text AS database, active, "
    "active_pid, restart_lsn::text AS restart_lsn, confirmed_flush_lsn::text AS "
    "confirmed_flush_lsn, "
    "wal_status, safe_wal_size, "
    "pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END, restart_lsn)::bigint AS retained_wal_bytes, "
    "CASE WHEN confirmed_flush_lsn IS NULL OR pg_is_in_recovery() THEN NULL ELSE "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint END AS confirmed_lag_bytes "
    "FROM pg_replication_slots",
    /*
     * Subscriptions of every database (a shared catalog). subconninfo is
     * column-restricted and a plain reference fails at plan time, so it is
     * read through query_to_xml, which runs only when the role may read it.
     */
    "SELECT s.oid::int8 AS oid, d.datname::text AS database, s.subname::text AS name, "
    "s.subenabled AS enabled, s.subslotname::text AS slot, s.subpublications AS publications, "
    "CASE WHEN has_column_privilege('pg_subscription', 'subconninfo', 'SELECT') THEN "
    "(xpath('/row/c/text()', query_to_xml(format('SELECT subconninfo AS c FROM "
    "pg_catalog.pg_subscription WHERE oid = %s', s.oid), false, true, '')))[1]::text END "
    "AS conninfo "
    "FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid",
    /* apply workers (relid IS NULL) and table sync workers */
    "SELECT subid::int8 AS oid, pid, relid::int8 AS relid, received_lsn::text AS received_lsn, "
    "latest_end_lsn::text AS latest_end_lsn, "
    "extract(epoch FROM now() - last_msg_receipt_time)::float8 AS last_msg_age_seconds "
    "FROM pg_stat_subscription",
    /* errors per subscription (PostgreSQL 15) */
    "SELECT subid::int8 AS oid, apply_error_count, sync_error_count FROM "
    "pg_stat_subscription_stats",
    "SELECT datname::text AS name FROM pg_database WHERE datallowconn AND NOT datistemplate "
    "ORDER BY datname",
};
const int discover_nqueries = (int)(sizeof discover_queries / sizeof discover_queries[0]);

static const char *const section_names[] = {
    "instance",      "replication",          "wal_receiver",       "slots",
    "subscriptions", "subscription_workers", "subscription_stats", "databases",
};

bool discover_parse_conninfo(const char *conninfo, PgConnParams *p, void **owner, char *err,
                             size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        /* libpq's own message may quote the string too: the whole message is masked */
        char *raw =
            xasprintf("bad connection string '%s': %s", conninfo, perr ? perr : "out of memory");
        mask_secrets(raw, err, errlen);
        xfree_secret(raw);
        if (perr)
            PQfreemem(perr);
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n'))
            err[--n] = '\0';
        return false;
    }
    memset(p, 0, sizeof *p);
    p->port = 5432;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            p->host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            p->port = atoi(o->val);
        else if (strcmp(o->keyword, "dbname") == 0)
            p->dbname = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            p->user = o->val;
        else if (strcmp(o->keyword, "password") == 0)
            p->password = o->val;
        else if (strcmp(o->keyword, "sslmode") == 0)
            p->sslmode = o->val;
        else if (strcmp(o->keyword, "sslrootcert") == 0)
            p->sslrootcert = o->val;
    }
    if (!p->host)
        p->host = "localhost";
    if (!p->dbname)
        p->dbname = "postgres";
    if (!p->user) {
        const char *u = getenv("PGUSER");
        p->user = u ? u : "postgres";
    }
    if (!p->password)
        p->password = getenv("PGPASSWORD");
    *owner = opts;
    return true;
}

void discover_free_conninfo(void *owner)
{
    PQconninfoFree(owner);
}

typedef struct Run Run;

typedef struct One {
    Run *run;
    int idx;
    PgConn *conn;
    uint64_t started_ns;
} One;

struct Run {
    json_t *snapshots;
    int pending;
    One *ones;
    DiscoverCb cb;
    void *ud;
};

static void finish_one(One *o)
{
    Run *r = o->run;
    if (--r->pending > 0)
        return;
    r->cb(r->ud, r->snapshots);
    json_decref(r->snapshots);
    free(r->ones);
    free(r);
}

static void set_error(json_t *snap, const PgError *e)
{
    json_t *err = json_pack("{s:s, s:s}", "kind", pg_err_kind_name(e->kind), "message", e->message);
    json_object_set_new(err, "hint", e->hint[0] ? json_string(e->hint) : json_null());
    json_object_set_new(snap, "error", err);
}

json_t *discover_snapshot_new(const char *host, int port)
{
    char id[300];
    snprintf(id, sizeof id, "%s:%d", host, port);
    return json_pack("{s:s, s:s, s:i, s:b, s:n}", "id", id, "host", host, "port", port, "reached",
                     0, "error");
}

void discover_snapshot_fill(json_t *snap, PGresult *const *res, int n, const PgError *err)
{
    if (err) {
        set_error(snap, err);
        return;
    }
    json_object_set_new(snap, "reached", json_true());
    json_object_set_new(snap, "error", json_null());
    for (int i = 0; i < n && i < discover_nqueries; i++) {
        json_t *rows = pg_rows_json(res[i]);
        if (i == 0 || i == 2) { /* single-row sections */
            json_t *first = json_array_get(rows, 0);
            json_object_set_new(snap, section_names[i], first ? json_incref(first) : json_null());
        } else if (i == discover_nqueries - 1) {
            json_t *names = json_array();
            size_t k;
            json_t *row;
            json_array_foreach(rows, k, row) json_array_append(names, json_object_get(row, "name"));
            json_object_set_new(snap, "databases", names);
        } else {
            json_object_set_new(snap, section_names[i], json_incref(rows));
        }
        json_decref(rows);
    }
}

static void queried(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    One *o = ud;
    json_t *snap = json_array_get(o->run->snapshots, (size_t)o->idx);
    discover_snapshot_fill(snap, res, n, err);
    json_object_set_new(snap, "duration_ms",
                        json_real((double)(uv_hrtime() - o->started_ns) / 1e6));
    pgconn_close(c);
    finish_one(o);
}

static void connected(void *ud, PgConn *c, const PgError *err)
{
    One *o = ud;
    if (err) {
        set_error(json_array_get(o->run->snapshots, (size_t)o->idx), err);
        finish_one(o);
        return;
    }
    if (!pgconn_pipeline(c, discover_queries, discover_nqueries, queried, o)) {
        PgError e = {.kind = PGE_CLOSED};
        snprintf(e.message, sizeof e.message, "could not send the catalog queries");
        set_error(json_array_get(o->run->snapshots, (size_t)o->idx), &e);
        pgconn_close(c);
        finish_one(o);
    }
}

void discover_run(uv_loop_t *loop, const PgConnParams *targets, int n, DiscoverCb cb, void *ud)
{
    Run *r = xcalloc(1, sizeof *r);
    r->snapshots = json_array();
    r->pending = n;
    r->cb = cb;
    r->ud = ud;
    r->ones = xcalloc((size_t)(n > 0 ? n : 1), sizeof *r->ones);
    for (int i = 0; i < n; i++)
        json_array_append_new(r->snapshots,
                              discover_snapshot_new(targets[i].host, targets[i].port));
    if (n == 0) {
        cb(ud, r->snapshots);
        json_decref(r->snapshots);
        free(r->ones);
        free(r);
        return;
    }
    for (int i = 0; i < n; i++) {
        One *o = &r->ones[i];
        o->run = r;
        o->idx = i;
        o->started_ns = uv_hrtime();
        PgConnParams p = targets[i];
        if (!p.application_name)
            p.application_name = "pgfleet discover";
        pgconn_connect(loop, &p, connected, o);
    }
}

/* ---- per-database inventory: publications and initial-sync states ---- */

static const char *const inventory_queries[] = {
    "SELECT p.pubname::text AS name, p.puballtables AS all_tables, p.pubinsert AS ins, "
    "p.pubupdate AS upd, p.pubdelete AS del, "
    "coalesce((SELECT array_agg(format('%I.%I', t.schemaname, t.tablename) ORDER BY 1) "
    "FROM pg_publication_tables t WHERE t.pubname = p.pubname), '{}')::text[] AS tables "
    "FROM pg_publication p ORDER BY 1",
    "SELECT s.subname::text AS subscription, sr.srrelid::regclass::text AS table_name, "
    "CASE sr.srsubstate WHEN 'i' THEN 'init' WHEN 'd' THEN 'copying' WHEN 'f' THEN 'copied' "
    "WHEN 's' THEN 'synchronized' WHEN 'r' THEN 'ready' ELSE sr.srsubstate::text END AS state, "
    "sr.srsublsn::text AS lsn FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = "
    "sr.srsubid WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = "
    "current_database()) ORDER BY 1, 2",
};

#define INVENTORY_PARALLEL 8

typedef struct InvJob {
    struct InvRun *run;
    json_t *snap; /* borrowed */
    char *dbname;
    PgConnParams params;
} InvJob;

typedef struct InvRun {
    uv_loop_t *loop;
    json_t *snapshots;
    InvJob *jobs;
    size_t njobs, next, pending;
    DiscoverCb cb;
    void *ud;
} InvRun;

static void inv_start_next(InvRun *r);

static void inv_finish(InvRun *r)
{
    if (--r->pending > 0) {
        inv_start_next(r);
        return;
    }
    r->cb(r->ud, r->snapshots);
    for (size_t i = 0; i < r->njobs; i++)
        free(r->jobs[i].dbname);
    free(r->jobs);
    json_decref(r->snapshots);
    free(r);
}

static void inv_record(InvJob *j, json_t *entry)
{
    json_t *inv = json_object_get(j->snap, "inventory");
    if (!inv) {
        inv = json_object();
        json_object_set_new(j->snap, "inventory", inv);
    }
    json_object_set_new(inv, j->dbname, entry);
}

static void inv_queried(void *ud, PgConn *c, PGresult *const *res, int n, const PgError *err)
{
    InvJob *j = ud;
    if (err || n < 2) {
        inv_record(j, json_pack("{s:s}", "error", err ? err->message : "no answer"));
    } else {
        json_t *pubs = pg_rows_json(res[0]);
        json_t *rels = pg_rows_json(res[1]);
        inv_record(j, json_pack("{s:o, s:o}", "publications", pubs, "subscription_tables", rels));
    }
    pgconn_close(c);
    inv_finish(j->run);
}

static void inv_connected(void *ud, PgConn *c, const PgError *err)
{
    InvJob *j = ud;
    if (err) {
        inv_record(j, json_pack("{s:s}", "error", err->message));
        inv_finish(j->run);
        return;
    }
    if (!pgconn_pipeline(c, inventory_queries, 2, inv_queried, j)) {
        inv_record(j, json_pack("{s:s}", "error", "could not send the inventory queries"));
        pgconn_close(c);
        inv_finish(j->run);
    }
}

static void inv_start_next(InvRun *r)
{
    size_t done = r->njobs + 1 - r->pending;
    while (r->next < r->njobs && r->next - done < INVENTORY_PARALLEL) {
        InvJob *j = &r->jobs[r->next++];
        j->params.dbname = j->dbname;
        if (!j->params.application_name)
            j->params.application_name = "pgfleet discover";
        pgconn_connect(r->loop, &j->params, inv_connected, j);
    }
}

/*
 * The databases of a snapshot worth a visit: those with subscriptions (their
 * initial-sync states live in each database's pg_subscription_rel, nowhere
 * instance-wide), or all of them. A publisher's publications are read only
 * with all: a logical edge names its publications from the subscriber's
 * pg_subscription, a shared catalog.
 */
static void wanted_databases(const json_t *snap, bool all, json_t *out)
{
    size_t i;
    const json_t *x;
    if (all) {
        json_array_foreach(json_object_get(snap, "databases"), i, x)
            json_object_set_new(out, json_string_value(x), json_true());
        return;
    }
    json_array_foreach(json_object_get(snap, "subscriptions"), i,
                       x) if (jsonutil_str(x, "database"))
        json_object_set_new(out, jsonutil_str(x, "database"), json_true());
}

void discover_inventory(uv_loop_t *loop, const PgConnParams *targets, const json_t *snapshots,
                        bool all, DiscoverCb cb, void *ud)
{
    InvRun *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->snapshots = json_incref((json_t *)(uintptr_t)snapshots);
    r->cb = cb;
    r->ud = ud;
    size_t cap = 16;
    r->jobs = xcalloc(cap, sizeof *r->jobs);
    size_t i;
    json_t *snap;
    json_array_foreach(r->snapshots, i, snap)
    {
        if (!json_is_true(json_object_get(snap, "reached")))
            continue;
        json_t *dbs = json_object();
        wanted_databases(snap, all, dbs);
        const char *db;
        json_t *v;
        json_object_foreach(dbs, db, v)
        {
            if (r->njobs == cap) {
                cap *= 2;
                r->jobs = xrealloc(r->jobs, cap * sizeof *r->jobs);
            }
            r->jobs[r->njobs++] =
                (InvJob){.run = r, .snap = snap, .dbname = xstrdup(db), .params = targets[i]};
        }
        json_decref(dbs);
    }
    r->pending = r->njobs + 1; /* +1 until every job is started */
    inv_start_next(r);
    inv_finish(r);
}
