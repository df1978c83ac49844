#include "replication/replication.h"

#include <stdlib.h>

#include "common/xalloc.h"
#include "replication/collector.h"
#include "replication/history.h"
#include "replication/inventory.h"
#include "replication/metricsdiff.h"
#include "replication/rdswatch.h"

struct Replication {
    ReplicationDeps deps;
    Collector *collector;
    RdsWatch *rds;
    Inventory *inventory;
    bool leader;
    json_t *last_metrics; /* the last published, the base of the next diff */
};

static size_t servers(void *ud, PgTarget **out, size_t max)
{
    return registry_servers(ud, out, max);
}

static void collected(void *ud, const json_t *topology, const json_t *metrics, bool shape_changed)
{
    Replication *r = ud;
    (void)topology;
    json_t *topo = replication_topology(r);
    if (shape_changed)
        publish(&r->deps.pub, "topology", json_incref(topo));
    /* "metrics" carries what changed; the full document goes along for new subscribers */
    json_t *full = json_deep_copy(metrics);
    json_t *diff = metrics_diff(r->last_metrics, full);
    json_decref(r->last_metrics);
    r->last_metrics = json_incref(full);
    publish(&r->deps.pub, "metrics", json_pack("{s:o, s:o}", "diff", diff, "full", full));
    if (r->leader)
        history_record(r->deps.store, r->deps.cfg->collect_interval_seconds, metrics);
    if (r->deps.on_collected)
        r->deps.on_collected(r->deps.collected_ud, topo, metrics);
    json_decref(topo);
}

static void local_collected(void *ud, const json_t *local)
{
    Replication *r = ud;
    r->deps.share(r->deps.share_ud, r, local);
}

Replication *replication_new(const ReplicationDeps *deps)
{
    Replication *r = xcalloc(1, sizeof *r);
    r->deps = *deps;
    r->leader = true;
    const Config *cfg = deps->cfg;
    r->collector = collector_new(deps->loop, cfg->collect_interval_seconds * 1000, servers,
                                 (void *)(uintptr_t)deps->registry, collected, r);
    if (deps->aws)
        r->rds = rdswatch_new(deps->loop, deps->aws, deps->registry, cfg->rds_discovery_ms);
    r->inventory = inventory_new(deps->loop, deps->registry, r->collector, cfg->inventory_ms);
    if (deps->share)
        collector_on_local(r->collector, local_collected, r);
    return r;
}

void replication_set_leader(Replication *r, bool leader)
{
    r->leader = leader;
    rdswatch_set_active(r->rds, leader);
}

void replication_kick(Replication *r)
{
    collector_kick(r->collector);
}

void replication_merge(Replication *r, json_t *others, const json_t *rds)
{
    if (rds)
        rdswatch_import(r->rds, rds);
    collector_merge(r->collector, others);
}

json_t *replication_rds_export(const Replication *r)
{
    return rdswatch_export(r->rds);
}

void replication_free(Replication *r)
{
    if (!r)
        return;
    inventory_free(r->inventory);
    rdswatch_free(r->rds);
    collector_free(r->collector);
    json_decref(r->last_metrics);
    free(r);
}

json_t *replication_topology(const Replication *r)
{
    const json_t *t = collector_topology(r->collector);
    if (!t)
        return NULL;
    json_t *topo = json_deep_copy(t);
    rdswatch_merge(r->rds, topo);
    return topo;
}

json_t *replication_status(const Replication *r)
{
    return collector_topology(r->collector) ? collector_status(r->collector) : NULL;
}

char *replication_prometheus(const Replication *r)
{
    return collector_prometheus(r->collector);
}

void replication_history(const Replication *r, long minutes, DoneCb cb, void *ud)
{
    history_read(r->deps.store, r->deps.cfg->collect_interval_seconds, minutes, cb, ud);
}

void replication_events(const Replication *r, const EventQuery *q, DoneCb cb, void *ud)
{
    eventlog_read(r->deps.events, q, cb, ud);
}
