/*
 * keys: the layout of pgfleet's state in Redis, in one place.
 *
 * Every key lives under the store's prefix (PGFLEET_REDIS_PREFIX, default
 * "pgfleet:"); the names below are given without it. Every record is a JSON
 * object that carries "schema_version" and is validated by its model when
 * read back; a record that does not validate is reported and skipped.
 * Secrets (passwords, tokens, keys) are never stored.
 *
 *   databases                  hash: database id -> DatabaseConfig (model/database.h)
 *   streams                    hash: stream id -> ReplicationStream (model/stream.h),
 *                              with the step a create or drop has reached
 *   migrations                 hash: execution id -> MigrationExecution (model/migration.h)
 *   replication:latest         string: the collector's last status (TTL: three intervals)
 *   replication:history        list, newest first: compact lag/WAL samples (an hour)
 *   replication:events         list, newest first: classified log events (the last 1000)
 *   modeltest:<kind>:<id>      GET /api/models/test round-trip records (TTL 60 s)
 *   cluster:members            sorted set: instance id, scored by when it expires (ms)
 *   cluster:info               hash: instance id -> its description (version, start, host)
 *   cluster:fence              counter: the fencing tokens of the leases
 *   cluster:leader             string "<instance>:<token>" with a PX lease time
 *   cluster:shard:<n>          the same, per shard (n < 64)
 *   cluster:snapshot:<n>       string: what shard n's holder collected (fenced write)
 *   cluster:rds                string: the leader's last RDS answer (fenced write)
 *   cluster:events             pub/sub channel: events of one instance for the others
 */
#ifndef PGFLEET_KEYS_H
#define PGFLEET_KEYS_H

#define KEY_DATABASES           "databases"
#define KEY_STREAMS             "streams"
#define KEY_MIGRATIONS          "migrations"
#define KEY_REPLICATION_LATEST  "replication:latest"
#define KEY_REPLICATION_HISTORY "replication:history"
#define KEY_REPLICATION_EVENTS  "replication:events"
#define KEY_MODELTEST           "modeltest"

#endif
