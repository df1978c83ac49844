/*
 * inventory: the slower sweep. Every interval, for each server of the
 * collector's last snapshot, the databases with subscriptions are visited
 * (discover_inventory) for their initial-sync states, and the result is
 * handed to the collector, which merges it into its later cycles.
 */
#ifndef PGFLEET_INVENTORY_H
#define PGFLEET_INVENTORY_H

#include <uv.h>

#include "registry/registry.h"
#include "replication/collector.h"

typedef struct Inventory Inventory;

Inventory *inventory_new(uv_loop_t *loop, const Registry *registry, Collector *collector,
                         long interval_ms);
/* a sweep in flight finishes without touching the collector */
void inventory_free(Inventory *inv);

#endif
