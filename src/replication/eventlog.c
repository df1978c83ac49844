#include "replication/eventlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/keys.h"

#define RING_SIZE 200

struct EventLog {
    Store *store;
    Publisher pub;
    json_t *ring[RING_SIZE]; /* oldest overwritten first */
    size_t next;
    uint64_t seq;
};

EventLog *eventlog_new(Store *store, Publisher pub)
{
    EventLog *l = xcalloc(1, sizeof *l);
    l->store = store;
    l->pub = pub;
    return l;
}

void eventlog_free(EventLog *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < RING_SIZE; i++)
        json_decref(l->ring[i]);
    free(l);
}

static void pushed(void *ud, PgfError err, const char *errmsg)
{
    (void)ud;
    if (err != PGF_OK)
        log_debug("replication event not stored: %s", errmsg);
}

void eventlog_add(EventLog *l, json_t *ev)
{
    char id[48], now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    snprintf(id, sizeof id, "%llx-%llu", (unsigned long long)(uv_hrtime() / 1000000),
             (unsigned long long)++l->seq);
    json_object_set_new(ev, "id", json_string(id));
    json_object_set_new(ev, "received_at", json_string(now));
    const char *sev = jsonutil_str(ev, "severity");
    log_event(sev && !strcmp(sev, "critical") ? LOG_WARN : LOG_INFO, NULL,
              json_pack("{s:O, s:O, s:O}", "node", json_object_get(ev, "node"), "kind",
                        json_object_get(ev, "kind"), "database_id",
                        json_object_get(ev, "database_id")),
              "replication event: %s", jsonutil_str(ev, "message"));
    char *text = json_dumps(ev, JSON_COMPACT);
    if (store_list_push(l->store, KEY_REPLICATION_EVENTS, text, strlen(text), EVENTLOG_KEEP, 0,
                        pushed, NULL) != PGF_OK)
        log_debug("replication event not stored: the store is down");
    free(text);
    const char *db = jsonutil_str(ev, "database_id");
    if (db) {
        char topic[128];
        snprintf(topic, sizeof topic, "database:%s", db);
        publish(&l->pub, topic, json_pack("{s:s, s:O}", "type", "event", "event", ev));
    }
    publish(&l->pub, "events", json_incref(ev));
    json_decref(l->ring[l->next]);
    l->ring[l->next] = ev;
    l->next = (l->next + 1) % RING_SIZE;
}

/* ---- reading ---- */

typedef struct Read {
    EventQuery q;
    char *node, *database_id, *severity; /* owned copies of the filters */
    DoneCb cb;
    void *ud;
} Read;

static bool is(const char *want, const char *have)
{
    return !want || !*want || (have && strcmp(want, have) == 0);
}

static bool matches(const EventQuery *q, const json_t *ev)
{
    return is(q->node, jsonutil_str(ev, "node")) &&
           is(q->database_id, jsonutil_str(ev, "database_id")) &&
           is(q->severity, jsonutil_str(ev, "severity"));
}

static json_t *answer(json_t *events, const char *from)
{
    return json_pack("{s:I, s:s, s:o}", "count", (json_int_t)json_array_size(events), "source",
                     from, "events", events);
}

/* newest first, from the memory ring */
static json_t *from_memory(const EventLog *l, const EventQuery *q)
{
    json_t *out = json_array();
    for (size_t k = 1; k <= RING_SIZE && (long)json_array_size(out) < q->limit; k++) {
        json_t *ev = l->ring[(l->next + RING_SIZE - k) % RING_SIZE];
        if (ev && matches(q, ev))
            json_array_append(out, ev);
    }
    return answer(out, "memory");
}

static void read_free(Read *r)
{
    free(r->node);
    free(r->database_id);
    free(r->severity);
    free(r);
}

static void read_done(void *ud, PgfError err, const char *errmsg, size_t n,
                      const char *const *values, const size_t *lens)
{
    Read *r = ud;
    if (err != PGF_OK) {
        failure_store_report(err, "read events", errmsg, r->cb, r->ud);
    } else {
        json_t *out = json_array();
        for (size_t i = 0; i < n && (long)json_array_size(out) < r->q.limit; i++) {
            json_t *ev = json_loadb(values[i], lens[i], 0, NULL);
            if (json_is_object(ev) && matches(&r->q, ev))
                json_array_append(out, ev);
            json_decref(ev);
        }
        r->cb(r->ud, answer(out, "redis"), NULL);
    }
    read_free(r);
}

void eventlog_read(EventLog *l, const EventQuery *q, DoneCb cb, void *ud)
{
    Read *r = xcalloc(1, sizeof *r);
    r->q.limit = q->limit;
    r->q.node = r->node = xstrdup(q->node ? q->node : "");
    r->q.database_id = r->database_id = xstrdup(q->database_id ? q->database_id : "");
    r->q.severity = r->severity = xstrdup(q->severity ? q->severity : "");
    r->cb = cb;
    r->ud = ud;
    bool filtered = r->node[0] || r->database_id[0] || r->severity[0];
    /* filters scan the whole kept list; without them only what is asked for is read */
    if (store_list_range(l->store, KEY_REPLICATION_EVENTS, 0,
                         filtered ? EVENTLOG_KEEP - 1 : q->limit - 1, read_done, r) != PGF_OK) {
        cb(ud, from_memory(l, &r->q), NULL);
        read_free(r);
    }
}
