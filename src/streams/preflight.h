/*
 * preflight: what a logical replication stream needs, checked before it is
 * created. The queries read the source and the target (one connection each);
 * preflight_evaluate is a pure function from their answers to the checks:
 *
 *   [{"check","status":"ok"|"warning"|"error","message","hint"|null}]
 *
 * wal_level (rds.logical_replication on RDS), free slots and WAL senders on
 * the source, free logical replication workers and origins on the target,
 * privileges on both sides, a primary key or replica identity on every
 * table, every table present on the target with the source's columns,
 * sequences (not replicated), the target reaching the source, and name
 * conflicts with existing publications, subscriptions and slots.
 */
#ifndef PGFLEET_PREFLIGHT_H
#define PGFLEET_PREFLIGHT_H

#include <jansson.h>

/* $1 publication, $2 slot */
extern const char *const preflight_source_settings_sql;
/* $1 subscription */
extern const char *const preflight_target_settings_sql;
/* $1 text[] of "schema.table" (NULL: every user table) */
extern const char *const preflight_tables_sql;

/*
 * req: {"tables":["schema.table",...] | "all_tables":true, "publication", "subscription",
 *       "slot", "options":{"create_slot","binary",...}, "resume":{...}|absent}
 * src / tgt: {"settings":{row}, "tables":[rows]} or {"error":"..."}; tgt may carry
 * "reach":{"verified":bool,"ok":bool,"error":"..."|null,"why":"..."|null}.
 * Returns the checks (new reference).
 */
json_t *preflight_evaluate(const json_t *req, const json_t *src, const json_t *tgt);

/* "orders" -> "public.orders"; "s.t" stays (new string) */
char *preflight_qualify(const char *name);

/* counts in checks: returns the number with that status */
size_t preflight_count(const json_t *checks, const char *status);

#endif
