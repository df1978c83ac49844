#include "replication/history.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/keys.h"

/* how many samples an hour holds at the collector's interval */
static long history_len(long interval)
{
    return 3600 / (interval > 0 ? interval : 5) + 1;
}

static void stored(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_debug("replication metrics not cached: %s", errmsg);
}

/* the numbers of one cycle, without what does not change */
static json_t *compact_sample(const json_t *metrics)
{
    json_t *edges = json_array();
    json_t *slots = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(metrics, "edges"), i, x)
    {
        const char *name = jsonutil_str(x, "subscription");
        json_array_append_new(
            edges,
            json_pack("{s:O, s:O, s:O, s:s?, s:O, s:O, s:O}", "kind", json_object_get(x, "kind"),
                      "from", json_object_get(x, "from"), "to", json_object_get(x, "to"), "name",
                      name ? name : jsonutil_str(x, "slot"), "state", json_object_get(x, "state"),
                      "lag_bytes", json_object_get(x, "lag_bytes"), "lag_seconds",
                      json_object_get(x, "lag_seconds")));
    }
    json_array_foreach(json_object_get(metrics, "slots"), i, x) json_array_append_new(
        slots, json_pack("{s:O, s:O, s:O, s:O}", "node", json_object_get(x, "node"), "name",
                         json_object_get(x, "name"), "retained_wal_bytes",
                         json_object_get(x, "retained_wal_bytes"), "active",
                         json_object_get(x, "active")));
    return json_pack("{s:O, s:I, s:o, s:o}", "at", json_object_get(metrics, "collected_at"),
                     "epoch", (json_int_t)time(NULL), "edges", edges, "slots", slots);
}

void history_record(Store *store, long interval, const json_t *metrics)
{
    if (store_state(store) != STORE_READY)
        return;
    char *latest = json_dumps(metrics, JSON_COMPACT);
    if (store_set(store, KEY_REPLICATION_LATEST, latest, strlen(latest), 3 * interval + 5, stored,
                  NULL) != PGF_OK)
        log_debug("replication metrics not cached: the store is down");
    free(latest);
    json_t *sample = compact_sample(metrics);
    char *text = json_dumps(sample, JSON_COMPACT);
    json_decref(sample);
    if (store_list_push(store, KEY_REPLICATION_HISTORY, text, strlen(text), history_len(interval),
                        7200, stored, NULL) != PGF_OK)
        log_debug("replication history not kept: the store is down");
    free(text);
}

typedef struct Read {
    long since_epoch, minutes, interval;
    DoneCb cb;
    void *ud;
} Read;

static void read_done(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *values, const size_t *lens)
{
    Read *h = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "read the history", errmsg, h->cb, h->ud);
    } else {
        json_t *samples = json_array();
        /* the list is newest first; the answer is oldest first */
        for (size_t i = n; i-- > 0;) {
            json_t *s = json_loadb(values[i], lens[i], 0, NULL);
            if (json_is_object(s) &&
                json_integer_value(json_object_get(s, "epoch")) >= h->since_epoch)
                json_array_append_new(samples, s);
            else
                json_decref(s);
        }
        h->cb(h->ud,
              json_pack("{s:i, s:i, s:I, s:o}", "minutes", (int)h->minutes, "interval_seconds",
                        (int)h->interval, "count", (json_int_t)json_array_size(samples), "samples",
                        samples),
              NULL);
    }
    free(h);
}

void history_read(Store *store, long interval, long minutes, DoneCb cb, void *ud)
{
    Read *h = xcalloc(1, sizeof *h);
    h->minutes = minutes;
    h->interval = interval > 0 ? interval : 5;
    h->since_epoch = (long)time(NULL) - minutes * 60;
    h->cb = cb;
    h->ud = ud;
    if (store_list_range(store, KEY_REPLICATION_HISTORY, 0, history_len(interval) - 1, read_done,
                         h) != PGF_OK) {
        free(h);
        failure_store_report(PGF_ERR_STORE_DOWN, "read the history", NULL, cb, ud);
    }
}
