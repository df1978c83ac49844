#include "replication/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "pg/discover.h"

#define SWEEP_MAX 4096

struct Inventory {
    uv_loop_t *loop;
    const Registry *registry;
    Collector *collector;
    uv_timer_t timer;
    bool sweeping, closing;
    int refs; /* owner, timer, a sweep in flight */
};

/* one sweep: the servers' params (owned, with passwords) and their last snapshots */
typedef struct Sweep {
    Inventory *inv;
    int n, waiting;
    PgConnParams *params;
    json_t *snaps;
} Sweep;

static void unref(void *owner)
{
    Inventory *inv = owner;
    if (--inv->refs == 0)
        free(inv);
}

static void sweep_free(Sweep *s)
{
    for (int i = 0; i < s->n; i++)
        pgconn_params_clear(&s->params[i]);
    free(s->params);
    json_decref(s->snaps);
    Inventory *inv = s->inv;
    inv->sweeping = false;
    free(s);
    unref(inv);
}

static void swept(void *ud, const json_t *snapshots)
{
    Sweep *s = ud;
    size_t i;
    const json_t *snap;
    json_array_foreach(snapshots, i, snap)
    {
        if (!s->inv->closing)
            collector_set_inventory(s->inv->collector, jsonutil_str(snap, "id"),
                                    json_object_get(snap, "inventory"));
    }
    sweep_free(s);
}

static void sweep_run(Sweep *s)
{
    if (s->inv->closing) {
        sweep_free(s);
        return;
    }
    discover_inventory(s->inv->loop, s->params, s->snaps, false, swept, s);
}

typedef struct Pw {
    Sweep *s;
    int idx;
} Pw;

static void got_password(void *ud, const char *password, const PgError *err)
{
    Pw *w = ud;
    Sweep *s = w->s;
    if (!err)
        pgconn_params_set_password(&s->params[w->idx], password);
    free(w);
    if (--s->waiting == 0)
        sweep_run(s);
}

static const json_t *snapshot_of(const json_t *last, const DatabaseConfig *db)
{
    char id[300];
    snprintf(id, sizeof id, "%s:%lld", db->host, db->port);
    size_t k;
    const json_t *x;
    json_array_foreach(last, k, x) if (!strcmp(jsonutil_str(x, "id"), id)) return x;
    return NULL;
}

static void tick(uv_timer_t *t)
{
    Inventory *inv = t->data;
    const json_t *last = collector_snapshots(inv->collector);
    if (inv->sweeping || !last)
        return;
    PgTarget **servers = xcalloc(SWEEP_MAX, sizeof *servers);
    size_t n = registry_servers(inv->registry, servers, SWEEP_MAX);
    Sweep *s = xcalloc(1, sizeof *s);
    s->inv = inv;
    s->params = xcalloc(n + 1, sizeof *s->params);
    s->snaps = json_array();
    for (size_t i = 0; i < n; i++) {
        const json_t *snap = snapshot_of(last, pgtarget_config(servers[i]));
        if (!snap)
            continue;
        json_array_append_new(s->snaps, json_deep_copy(snap));
        PgConnParams p;
        pgtarget_params(servers[i], "pgfleet inventory", &p);
        pgconn_params_copy(&s->params[s->n], &p);
        servers[s->n++] = servers[i];
    }
    inv->refs++;
    inv->sweeping = true;
    if (s->n == 0) {
        free(servers);
        sweep_free(s);
        return;
    }
    s->waiting = s->n + 1;
    for (int i = 0; i < s->n; i++) {
        Pw *w = xmalloc(sizeof *w);
        w->s = s;
        w->idx = i;
        pgtarget_password(servers[i], got_password, w);
    }
    free(servers);
    if (--s->waiting == 0)
        sweep_run(s);
}

Inventory *inventory_new(uv_loop_t *loop, const Registry *registry, Collector *collector,
                         long interval_ms)
{
    Inventory *inv = xcalloc(1, sizeof *inv);
    inv->loop = loop;
    inv->registry = registry;
    inv->collector = collector;
    inv->refs = 2; /* owner and timer */
    uv_timer_init(loop, &inv->timer);
    inv->timer.data = inv;
    uv_timer_start(&inv->timer, tick, 1500, (uint64_t)interval_ms);
    return inv;
}

void inventory_free(Inventory *inv)
{
    if (!inv)
        return;
    inv->closing = true;
    uvtimer_close(&inv->timer, unref);
    unref(inv);
}
