/*
 * streamsql: the SQL of logical replication streams, as pure functions.
 *
 * DDL cannot take parameters, so names are quoted (pg/pgquote.h) into the
 * statement; everything else is a parameterized query. No user text ever
 * goes inside a dollar-quoted body. Idempotence comes from guards (pgseq):
 * each CREATE runs only when its guard query finds nothing. Every builder
 * returns a new string; those that carry the source's password (the
 * subscription's conninfo) must be freed with xfree_secret.
 */
#ifndef PGFLEET_STREAMSQL_H
#define PGFLEET_STREAMSQL_H

#include <stdbool.h>

#include "model/database.h"
#include "model/stream.h"

/* $1 publication: a row when it exists */
extern const char *const streamsql_publication_exists;
/* $1 slot: creates the logical slot (pgoutput) unless it exists */
extern const char *const streamsql_create_slot;
/* $1 subscription: a row when it exists in the session's database */
extern const char *const streamsql_subscription_exists;
/* $1 publication, $2 schema, $3 table: a row when the publication has the table */
extern const char *const streamsql_publication_has_table;
/* $1 slot: ends the walsender using the slot */
extern const char *const streamsql_terminate_slot_user;
/* $1 slot: drops it when it exists (55006 object_in_use while a walsender holds it) */
extern const char *const streamsql_drop_slot;
/* $1 subscription: per-table initial-sync states (table_name, state) */
extern const char *const streamsql_sync_states;
/* $1 subscription: its enabled flag in the session's database (no row: gone) */
extern const char *const streamsql_subscription_enabled;
/* session settings that keep a statement carrying a password out of the server's log */
extern const char *const streamsql_quiet_session[3];

/* CREATE PUBLICATION "p" FOR TABLE "s"."t", ... | FOR ALL TABLES */
char *streamsql_create_publication(const ReplicationStream *s);
/* the conninfo the target uses to reach the source (carries the password) */
char *streamsql_conninfo(const DatabaseConfig *src, const char *password,
                         const char *application_name);
/* CREATE SUBSCRIPTION on the recorded slot (create_slot = false) with the options */
char *streamsql_create_subscription(const ReplicationStream *s, const char *conninfo);
/* the reach check: a disabled subscription without a slot, to be rolled back */
char *streamsql_probe_subscription(const char *name, const char *conninfo, const char *publication);
/* ALTER SUBSCRIPTION "sub" <what> (what is pgfleet's own text, never user input) */
char *streamsql_alter_subscription(const char *subscription, const char *what);
/* DROP SUBSCRIPTION IF EXISTS "sub" */
char *streamsql_drop_subscription(const char *subscription);
/* DROP PUBLICATION IF EXISTS "p" */
char *streamsql_drop_publication(const char *publication);
/* ALTER PUBLICATION "p" ADD TABLE | DROP TABLE "s"."t" */
char *streamsql_publication_table(const char *publication, const char *qualified, bool add);

#endif
