#include "replication/rdswatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/rds.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "replication/topology.h"

struct RdsWatch {
    AwsClient *aws;
    const Registry *registry;
    uv_timer_t timer;
    json_t *instances;
    json_t *clusters;
    char error[400];
    char described_at[32];
    bool busy, closing;
    bool active; /* this instance calls AWS (the leader); else it imports */
    int refs;    /* owner, timer, calls in flight */
};

static void unref(void *owner)
{
    RdsWatch *w = owner;
    if (--w->refs > 0)
        return;
    json_decref(w->instances);
    json_decref(w->clusters);
    free(w);
}

static void instances_described(void *ud, const json_t *instances, const AwsResult *r)
{
    RdsWatch *w = ud;
    w->busy = false;
    if (!w->closing && r->ok) {
        json_decref(w->instances);
        w->instances = json_deep_copy(instances);
        w->error[0] = '\0';
        jsonutil_now_rfc3339(w->described_at, sizeof w->described_at);
    } else if (!w->closing) {
        char msg[sizeof w->error];
        snprintf(msg, sizeof msg, "%s: %s", r->code ? r->code : "error",
                 r->message ? r->message : "");
        if (strcmp(msg, w->error) != 0)
            log_warn("RDS DescribeDBInstances failed (topology keeps the last answer): %s%s%s", msg,
                     r->hint ? "; " : "", r->hint ? r->hint : "");
        memcpy(w->error, msg, sizeof w->error);
    }
    unref(w);
}

static void clusters_described(void *ud, const json_t *clusters, const AwsResult *r)
{
    RdsWatch *w = ud;
    if (!w->closing && r->ok) {
        json_decref(w->clusters);
        w->clusters = json_deep_copy(clusters);
    } else if (!w->closing)
        log_debug("RDS DescribeDBClusters failed: %s", r->message ? r->message : "");
    unref(w);
}

static void tick(uv_timer_t *t)
{
    RdsWatch *w = t->data;
    if (w->busy || !w->active)
        return;
    json_t *map = registry_rds_map(w->registry);
    bool any = json_object_size(map) > 0;
    json_decref(map);
    if (!any)
        return; /* no database names an RDS instance: no calls */
    w->busy = true;
    w->refs += 2;
    rds_describe_instances(w->aws, NULL, instances_described, w);
    rds_describe_clusters(w->aws, NULL, clusters_described, w);
}

RdsWatch *rdswatch_new(uv_loop_t *loop, AwsClient *aws, const Registry *registry, long interval_ms)
{
    RdsWatch *w = xcalloc(1, sizeof *w);
    w->aws = aws;
    w->registry = registry;
    w->active = true;
    w->refs = 2; /* owner and timer */
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, tick, 1000, (uint64_t)interval_ms);
    return w;
}

void rdswatch_free(RdsWatch *w)
{
    if (!w)
        return;
    w->closing = true;
    uvtimer_close(&w->timer, unref);
    unref(w);
}

void rdswatch_merge(const RdsWatch *w, json_t *topo)
{
    if (!w || !w->instances)
        return;
    json_t *map = registry_rds_map(w->registry);
    topology_merge_rds(topo, w->instances, w->clusters, map);
    json_decref(map);
    json_object_set_new(topo, "rds",
                        json_pack("{s:s, s:s?}", "described_at", w->described_at, "error",
                                  w->error[0] ? w->error : NULL));
}

void rdswatch_set_active(RdsWatch *w, bool active)
{
    if (!w || w->active == active)
        return;
    w->active = active;
    if (active)
        tick(&w->timer);
}

json_t *rdswatch_export(const RdsWatch *w)
{
    if (!w || !w->instances)
        return NULL;
    return json_pack("{s:O, s:O?, s:s, s:s}", "instances", w->instances, "clusters", w->clusters,
                     "described_at", w->described_at, "error", w->error);
}

void rdswatch_import(RdsWatch *w, const json_t *shared)
{
    const json_t *inst = json_object_get(shared, "instances");
    if (!w || w->active || !json_is_array(inst))
        return;
    json_decref(w->instances);
    w->instances = json_deep_copy(inst);
    json_decref(w->clusters);
    const json_t *cl = json_object_get(shared, "clusters");
    w->clusters = json_is_array(cl) ? json_deep_copy(cl) : NULL;
    snprintf(w->described_at, sizeof w->described_at, "%s",
             jsonutil_str(shared, "described_at") ? jsonutil_str(shared, "described_at") : "");
    snprintf(w->error, sizeof w->error, "%s",
             jsonutil_str(shared, "error") ? jsonutil_str(shared, "error") : "");
}
