/*
 * order: in which order a migration visits its targets, as a pure function.
 *
 * Logical replication does not carry DDL, so a subscriber must have the new
 * shape before its publisher sends rows of that shape: subscribers run
 * before their publishers. A script that drops or renames things runs the
 * other way (publishers first), so a subscriber never receives rows without
 * a column it still expects. A target is a subscriber of another when one of
 * its subscriptions' conninfo names that target's host, port and database (or,
 * when the conninfo cannot be read, when its slot is in that target's database).
 */
#ifndef PGFLEET_ORDER_H
#define PGFLEET_ORDER_H

#include <stdbool.h>

#include <jansson.h>

typedef struct OrderNode {
    const char *label; /* how the plan names it */
    const char *host;  /* as the target is reached */
    int port;
    const char *dbname;
    const json_t *subs;  /* its subscriptions: [{"conninfo","name","slot"}] */
    const json_t *slots; /* the logical slots in its database: ["name", ...] (or NULL) */
} OrderNode;

/* the index of the node a subscription's conninfo points at, or -1 */
int order_publisher_of(const OrderNode *nodes, int n, const char *conninfo);

/*
 * The index of the node a subscription ({"conninfo","slot"}) receives from, or -1. Without
 * its conninfo (a role that may not read pg_subscription.subconninfo in that database):
 * the one node whose database holds a logical slot of that name, and *by_slot is set.
 */
int order_publisher(const OrderNode *nodes, int n, const json_t *sub, bool *by_slot);

/*
 * Fills order[0..n) with node indexes in run order. Each subscriber ->
 * publisher relation found adds a note to plan (an array of strings).
 */
void order_targets(const OrderNode *nodes, int n, bool drops, int *order, json_t *plan);

/* true when a statement of the script drops or renames something: one starts with DROP,
 * or is an ALTER TABLE ... DROP / ... RENAME (statements: each one's first 63 bytes) */
bool order_script_drops(const char *const *statements, int n);

#endif
