/*
 * registry: the live set of registered databases.
 *
 * Records live in Redis (hash "databases": id -> DatabaseConfig, never a
 * password). A password given at registration is put in Secrets Manager as
 * pgfleet/db/<id> (RDS secret format) and only its secret id is kept. Each
 * record has one PgTarget (pool + health probes) and its log sources (a file
 * followed like tail -F, RDS logs). The set is loaded from Redis when the
 * store first becomes ready; every write goes to Redis first, then to the
 * live set.
 *
 * Who hears what: health changes go to the publisher (topics "health" and
 * "database:<id>"), replication events of the log sources to on_log_event,
 * and on_loaded runs once the set is loaded (start-up recovery hangs there).
 * Writes, removals and tests end in one DoneCb each (common/failure.h).
 */
#ifndef PGFLEET_REGISTRY_H
#define PGFLEET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

#include "aws/aws.h"
#include "aws/secrets.h"
#include "common/config.h"
#include "common/failure.h"
#include "common/publish.h"
#include "logs/logsource.h"
#include "pg/target.h"
#include "store/store.h"

typedef struct Registry Registry;

typedef struct RegistryDeps {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    AwsClient *aws;        /* may be NULL: no password source and no RDS logs */
    SecretsCache *secrets; /* may be NULL */
    Publisher events;      /* health changes */
    LogEventCb on_log_event;
    void *log_ud;
    void (*on_loaded)(void *ud);
    void *loaded_ud;
    /* scale-out: whether this instance polls a database (NULL: every one) */
    bool (*owns)(void *ud, const char *database_id);
    void *owns_ud;
    /* a database was registered, changed or removed through this instance */
    void (*on_changed)(void *ud, const char *database_id);
    void *changed_ud;
} RegistryDeps;

Registry *registry_new(const RegistryDeps *deps);
/* stops every target and log source */
void registry_free(Registry *r);

/* loads the set from Redis the first time the store is ready (later calls do nothing) */
void registry_store_ready(Registry *r);
/* false (with f filled: 503 and why) while the set is not loaded */
bool registry_ready(Registry *r, Failure *f) __attribute__((warn_unused_result));

/*
 * Scale-out. Only the databases deps.owns accepts are polled here (health
 * probes, log sources, collection of their server); registry_reconcile
 * applies a change of ownership. The health of the others is what the
 * polling instance shared (registry_set_remote: id -> health, stolen);
 * pgtarget_polling says whether a database is polled here.
 * registry_sync compares the live set with Redis (changes made through
 * another instance); registry_sync_one does it for one id.
 */
void registry_reconcile(Registry *r);
void registry_set_remote(Registry *r, json_t *health_by_id);
/* "ok", "degraded", "unreachable" or "unknown", wherever it was probed */
const char *registry_health_state(const Registry *r, const PgTarget *t);
void registry_sync(Registry *r);
void registry_sync_one(Registry *r, const char *id);

/*
 * The PostgreSQL connections this instance holds now, per server:
 * {"health_connections": "database"|"server", "open": n, "servers": {"host:port": n}}.
 * Held: one per polled database (up to PGFLEET_PG_POOL_SIZE while busy), or with
 * PGFLEET_HEALTH_CONNECTIONS=server one per server, plus what streams and migrations open.
 */
json_t *registry_connections(const Registry *r);

size_t registry_count(const Registry *r);
/* the registered database's target, or NULL */
PgTarget *registry_find(const Registry *r, const char *id);
/* every target, in registration order; returns how many were put in out */
size_t registry_targets(const Registry *r, PgTarget **out, size_t max);
/*
 * One target per server (host:port, localhost = 127.0.0.1): its database with
 * the lowest id, when this instance polls it; returns how many.
 */
size_t registry_servers(const Registry *r, PgTarget **out, size_t max);
/* node id ("host:port") -> aws.rds_instance_id of every database that names one (new) */
json_t *registry_rds_map(const Registry *r);

/* which databases a list answer holds: NULL members take everything */
typedef struct RegistryQuery {
    const char *tag;    /* has this tag */
    const char *name;   /* id or name contains this (case-insensitive) */
    const char *server; /* "host:port" (localhost = 127.0.0.1) */
    const char *health; /* ok, degraded, unreachable, unknown */
    long offset, limit; /* limit 0: all of them */
} RegistryQuery;

/*
 * {"databases":[config + health...], "count": in this page, "total": matching, "offset",
 * "next_offset": the next page's or null, "connections": registry_connections} from
 * memory, in registration order, as JSON text (new string). Each database's text is
 * kept until its configuration or health changes: thousands answer in a few ms.
 */
char *registry_list_text(Registry *r, const RegistryQuery *q);
/* config + health of one database, or NULL (new reference) */
json_t *registry_get_json(const Registry *r, const char *id);

/*
 * Registers (id NULL) or replaces (id: the database to change) a database
 * from an API body (stolen). Answers the database with its health.
 */
void registry_write(Registry *r, json_t *body, const char *id, DoneCb cb, void *ud);
/* removes it (and the password secret pgfleet made for it): {"deleted": id} */
void registry_remove(Registry *r, const char *id, DoneCb cb, void *ud);
/* connects now and reports server facts or the first error with a hint */
void registry_test(Registry *r, const char *id, DoneCb cb, void *ud);
/* every database at once: {"ok","count","results":[...]} */
void registry_test_all(Registry *r, DoneCb cb, void *ud);

#endif
