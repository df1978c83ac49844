/*
 * events: replication events from the log sources.
 *
 * Each event gets an id and received_at, goes to WebSocket topic "events"
 * (and "database:<id>"), into Redis (list <prefix>replication:events,
 * newest first, the last EVENTS_KEEP) and into a small ring in memory, which
 * answers GET /api/replication/events when Redis cannot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/xalloc.h"

#define EVENTS_KEY  "replication:events"
#define EVENTS_KEEP 1000
#define RING_SIZE   200

struct EventLog {
    json_t *ring[RING_SIZE]; /* oldest overwritten first */
    size_t next;
    uint64_t seq;
    uint64_t total;
};

EventLog *events_new(void)
{
    return xcalloc(1, sizeof(EventLog));
}

void events_free(EventLog *l)
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

void events_add(ApiContext *ctx, json_t *ev)
{
    EventLog *l = ctx->events;
    char id[48], now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    snprintf(id, sizeof id, "%llx-%llu", (unsigned long long)(uv_hrtime() / 1000000),
             (unsigned long long)++l->seq);
    json_object_set_new(ev, "id", json_string(id));
    json_object_set_new(ev, "received_at", json_string(now));
    l->total++;
    log_event(strcmp(jsonutil_str(ev, "severity") ? jsonutil_str(ev, "severity") : "", "critical")
                  ? LOG_INFO
                  : LOG_WARN,
              NULL,
              json_pack("{s:O, s:O, s:O}", "node", json_object_get(ev, "node"), "kind",
                        json_object_get(ev, "kind"), "database_id",
                        json_object_get(ev, "database_id")),
              "replication event: %s", jsonutil_str(ev, "message"));
    if (store_state(ctx->store) == STORE_READY) {
        char *text = json_dumps(ev, JSON_COMPACT);
        if (store_list_push(ctx->store, EVENTS_KEY, text, strlen(text), EVENTS_KEEP, 0, pushed,
                            NULL) != PGF_OK)
            log_debug("replication event not stored: the store is down");
        free(text);
    }
    const char *db = jsonutil_str(ev, "database_id");
    if (db) {
        char topic[128];
        snprintf(topic, sizeof topic, "database:%s", db);
        wshub_publish(ctx->hub, topic, json_pack("{s:s, s:O}", "type", "event", "event", ev));
    }
    wshub_publish(ctx->hub, "events", json_incref(ev));
    json_decref(l->ring[l->next]);
    l->ring[l->next] = ev;
    l->next = (l->next + 1) % RING_SIZE;
}

typedef struct EventsRead {
    HttpRequest *req;
    long limit;
    char node[300], database_id[128], severity[16];
} EventsRead;

static bool matches(const EventsRead *q, const json_t *ev)
{
    const char *node = jsonutil_str(ev, "node"), *db = jsonutil_str(ev, "database_id"),
               *sev = jsonutil_str(ev, "severity");
    return (!q->node[0] || (node && strcmp(node, q->node) == 0)) &&
           (!q->database_id[0] || (db && strcmp(db, q->database_id) == 0)) &&
           (!q->severity[0] || (sev && strcmp(sev, q->severity) == 0));
}

static void respond(EventsRead *q, json_t *events, const char *from)
{
    http_respond_json(q->req, 200,
                      json_pack("{s:I, s:s, s:o}", "count", (json_int_t)json_array_size(events),
                                "source", from, "events", events));
}

/* newest first, from the memory ring */
static void answer_from_memory(EventsRead *q, ApiContext *ctx)
{
    EventLog *l = ctx->events;
    json_t *out = json_array();
    for (size_t k = 1; k <= RING_SIZE && (long)json_array_size(out) < q->limit; k++) {
        json_t *ev = l->ring[(l->next + RING_SIZE - k) % RING_SIZE];
        if (ev && matches(q, ev))
            json_array_append(out, ev);
    }
    respond(q, out, "memory");
}

static void events_read(void *ud, PgfError err, const char *errmsg, size_t n,
                        const char *const *values, const size_t *lens)
{
    EventsRead *q = ud;
    if (err != PGF_OK) {
        http_respond_error(q->req, err, "check PGFLEET_REDIS_URL and that Redis is up",
                           "could not read events: %s", errmsg);
    } else {
        json_t *out = json_array();
        for (size_t i = 0; i < n && (long)json_array_size(out) < q->limit; i++) {
            json_t *ev = json_loadb(values[i], lens[i], 0, NULL);
            if (ev && matches(q, ev))
                json_array_append(out, ev);
            json_decref(ev);
        }
        respond(q, out, "redis");
    }
    http_request_release(q->req);
    free(q);
}

void api_replication_events(HttpRequest *req, void *app)
{
    ApiContext *ctx = app;
    EventsRead *q = xcalloc(1, sizeof *q);
    q->req = req;
    q->limit = 100;
    char buf[32];
    if (http_query_param(req, "limit", buf, sizeof buf)) {
        char *end;
        q->limit = strtol(buf, &end, 10);
        if (*end || q->limit < 1 || q->limit > EVENTS_KEEP) {
            free(q);
            http_respond_error(req, PGF_ERR_VALIDATION, "give limit between 1 and 1000",
                               "limit: '%s' is not a number from 1 to 1000", buf);
            return;
        }
    }
    if (http_query_param(req, "severity", q->severity, sizeof q->severity) &&
        strcmp(q->severity, "critical") && strcmp(q->severity, "warning") &&
        strcmp(q->severity, "info")) {
        free(q);
        http_respond_error(req, PGF_ERR_VALIDATION, "use critical, warning or info",
                           "severity: unknown value");
        return;
    }
    (void)http_query_param(req, "node", q->node, sizeof q->node);
    (void)http_query_param(req, "database_id", q->database_id, sizeof q->database_id);
    bool filtered = q->node[0] || q->database_id[0] || q->severity[0];
    /* filters scan the whole kept list; without them only what is asked for is read */
    if (store_list_range(ctx->store, EVENTS_KEY, 0, filtered ? EVENTS_KEEP - 1 : q->limit - 1,
                         events_read, q) != PGF_OK) {
        answer_from_memory(q, ctx);
        free(q);
        return;
    }
    http_request_hold(req);
}
