#include "http/wshub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "http/request.h"

/* a message shared by every client it is queued for */
typedef struct WsMsg {
    int refs;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
} WsMsg;

typedef struct WsQueued {
    WsMsg *msg;
    struct WsQueued *next;
} WsQueued;

struct WsClient {
    WsHub *hub;
    struct lws *wsi;
    Role role;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char *topics[WSHUB_MAX_TOPICS];
    size_t ntopics;
    StrBuf rx;
    bool rx_overflow;
    WsQueued *head, *tail;
    size_t queued;
    bool closing;          /* too slow: close at the next write */
    const char *close_why; /* close once the queue is written (policy violation) */
    int failed_auth;
    WsClient *prev, *next;
};

static void msg_unref(WsMsg *m);

/* topics that carry a state: a new subscriber gets the last event at once */
static const char *const state_topics[] = {"topology", "metrics"};
#define NSTATE (sizeof state_topics / sizeof state_topics[0])

struct WsHub {
    const Auth *auth;
    WsClient *clients;
    size_t nclients;
    WsMsg *latest[NSTATE];
};

static const char *const known_topics[] = {"heartbeat", "health", "topology", "metrics",
                                           "events",    "alerts", "streams",  NULL};
static const char *const known_prefixes[] = {"stream", "migration", "database", NULL};

WsHub *wshub_new(const Auth *auth)
{
    WsHub *hub = xcalloc(1, sizeof *hub);
    hub->auth = auth;
    return hub;
}

void wshub_free(WsHub *hub)
{
    if (!hub)
        return;
    /* clients are freed by their connections closing (LWS_CALLBACK_CLOSED) */
    for (WsClient *c = hub->clients; c; c = c->next)
        c->hub = NULL;
    for (size_t i = 0; i < NSTATE; i++)
        if (hub->latest[i])
            msg_unref(hub->latest[i]);
    free(hub);
}

size_t wshub_client_count(const WsHub *hub)
{
    return hub->nclients;
}

static bool subscribed(const WsClient *c, const char *topic)
{
    for (size_t i = 0; i < c->ntopics; i++)
        if (strcmp(c->topics[i], topic) == 0)
            return true;
    return false;
}

size_t wshub_subscriber_count(const WsHub *hub, const char *topic)
{
    size_t n = 0;
    for (const WsClient *c = hub->clients; c; c = c->next)
        n += subscribed(c, topic);
    return n;
}

bool wshub_topic_valid(const char *name)
{
    for (const char *const *t = known_topics; *t; t++)
        if (strcmp(name, *t) == 0)
            return true;
    const char *colon = strchr(name, ':');
    if (!colon || !colon[1] || strlen(name) > 128)
        return false;
    for (const char *const *p = known_prefixes; *p; p++) {
        size_t n = strlen(*p);
        if ((size_t)(colon - name) == n && strncmp(name, *p, n) == 0) {
            for (const char *q = colon + 1; *q; q++) {
                char ch = *q;
                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-' || ch == '.'))
                    return false;
            }
            return true;
        }
    }
    return false;
}

static WsMsg *msg_new(const char *payload, size_t len)
{
    WsMsg *m = xmalloc(sizeof *m + LWS_PRE + len);
    m->refs = 0;
    m->len = len;
    memcpy(m->data + LWS_PRE, payload, len);
    return m;
}

static void msg_unref(WsMsg *m)
{
    if (--m->refs == 0)
        free(m);
}

/* queues m for c; false when c is too far behind and is being dropped */
static bool enqueue(WsClient *c, WsMsg *m)
{
    if (c->closing)
        return false;
    if (c->queued >= WSHUB_MAX_QUEUE) {
        log_event(LOG_WARN, c->request_id, NULL,
                  "websocket client too slow (%zu messages queued); disconnecting", c->queued);
        c->closing = true;
        lws_callback_on_writable(c->wsi);
        return false;
    }
    WsQueued *q = xcalloc(1, sizeof *q);
    q->msg = m;
    m->refs++;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->queued++;
    lws_callback_on_writable(c->wsi);
    return true;
}

static void send_json(WsClient *c, json_t *doc)
{
    char *s = jsonutil_dumps(doc);
    json_decref(doc);
    WsMsg *m = msg_new(s, strlen(s));
    free(s);
    m->refs++; /* hold while queueing so a refused enqueue frees it */
    enqueue(c, m);
    msg_unref(m);
}

static void send_error(WsClient *c, PgfError err, const char *hint, const char *message)
{
    json_t *doc = http_error_json(err, message, hint);
    json_object_set_new(doc, "type", json_string("error"));
    send_json(c, doc);
}

static int state_index(const char *topic)
{
    for (size_t i = 0; i < NSTATE; i++)
        if (strcmp(state_topics[i], topic) == 0)
            return (int)i;
    return -1;
}

/* {"type":"event",...} as a message with no holder yet (refs 0) */
static WsMsg *event_msg(const char *topic, json_t *data)
{
    char ts[32];
    jsonutil_now_rfc3339(ts, sizeof ts);
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:o}", "type", "event", "topic", topic, "ts", ts, "data", data);
    char *s = jsonutil_dumps(doc);
    json_decref(doc);
    WsMsg *m = msg_new(s, strlen(s));
    free(s);
    return m;
}

static void fan_out(WsHub *hub, const char *topic, WsMsg *m)
{
    m->refs++; /* held while queueing */
    for (WsClient *c = hub->clients; c; c = c->next)
        if (subscribed(c, topic))
            enqueue(c, m);
    msg_unref(m);
}

static void keep_latest(WsHub *hub, int state, WsMsg *m)
{
    m->refs++;
    if (hub->latest[state])
        msg_unref(hub->latest[state]);
    hub->latest[state] = m;
}

void wshub_publish_state(WsHub *hub, const char *topic, json_t *diff, json_t *full)
{
    int state = hub ? state_index(topic) : -1;
    if (state < 0) {
        json_decref(full);
        wshub_publish(hub, topic, diff);
        return;
    }
    json_object_set_new(full, "full", json_true());
    keep_latest(hub, state, event_msg(topic, full));
    if (wshub_subscriber_count(hub, topic) == 0)
        json_decref(diff);
    else
        fan_out(hub, topic, event_msg(topic, diff));
}

void wshub_publish(WsHub *hub, const char *topic, json_t *data)
{
    int state = hub ? state_index(topic) : -1;
    if (!hub || (state < 0 && wshub_subscriber_count(hub, topic) == 0)) {
        json_decref(data);
        return;
    }
    WsMsg *m = event_msg(topic, data);
    if (state >= 0)
        keep_latest(hub, state, m);
    fan_out(hub, topic, m);
}

WsClient *wshub_client_new(WsHub *hub, void *wsi, Role role, const char *request_id, bool welcome)
{
    WsClient *c = xcalloc(1, sizeof *c);
    c->hub = hub;
    c->wsi = wsi;
    c->role = role;
    snprintf(c->request_id, sizeof c->request_id, "%s", request_id);
    c->next = hub->clients;
    if (hub->clients)
        hub->clients->prev = c;
    hub->clients = c;
    hub->nclients++;
    if (welcome)
        wshub_client_welcome(c, role);
    return c;
}

void wshub_client_welcome(WsClient *c, Role role)
{
    c->role = role;
    json_t *topics = json_array();
    for (const char *const *t = known_topics; *t; t++)
        json_array_append_new(topics, json_string(*t));
    for (const char *const *p = known_prefixes; *p; p++)
        json_array_append_new(topics, json_sprintf("%s:<id>", *p));
    send_json(c, json_pack("{s:s, s:b, s:s, s:o}", "type", "welcome", "authenticated",
                           role != ROLE_NONE, "role", role_name(role), "topics", topics));
    log_event(LOG_INFO, c->request_id, json_pack("{s:s}", "role", role_name(role)),
              "websocket client connected");
}

void wshub_client_set_role(WsClient *c, Role role)
{
    c->role = role;
}

void wshub_client_end(WsClient *c, const char *why)
{
    c->close_why = why;
    lws_callback_on_writable(c->wsi);
}

static void handle_subscribe(WsClient *c, const json_t *msg, bool subscribe)
{
    const json_t *topics = json_object_get(msg, "topics");
    if (!json_is_array(topics) || json_array_size(topics) == 0) {
        send_error(c, PGF_ERR_VALIDATION,
                   "send {\"type\":\"subscribe\",\"topics\":[\"heartbeat\"]}",
                   "topics: must be a non-empty array of topic names");
        return;
    }
    if (subscribe && !role_allows(c->role, ROLE_VIEWER)) {
        send_error(c, PGF_ERR_UNAUTHORIZED,
                   "sign in first (the session cookie), send {\"type\":\"auth\",\"key\":"
                   "\"<AUTH_KEY>\"}, or connect with an Authorization header",
                   "authentication required to subscribe");
        return;
    }
    size_t i;
    const json_t *t;
    json_array_foreach(topics, i, t)
    {
        const char *name = json_string_value(t);
        if (!name || !wshub_topic_valid(name)) {
            char m[200];
            snprintf(m, sizeof m, "topics[%zu]: unknown topic%s%.100s%s", i, name ? " '" : "",
                     name ? name : "", name ? "'" : "");
            send_error(c, PGF_ERR_VALIDATION,
                       "known topics: heartbeat, health, topology, alerts, stream:<id>, "
                       "migration:<id>, database:<id>",
                       m);
            return;
        }
    }
    json_t *fresh = json_array(); /* state topics newly subscribed */
    json_array_foreach(topics, i, t)
    {
        const char *name = json_string_value(t);
        if (subscribe && !subscribed(c, name)) {
            if (c->ntopics == WSHUB_MAX_TOPICS) {
                send_error(c, PGF_ERR_VALIDATION, NULL, "too many topics for one connection");
                json_decref(fresh);
                return;
            }
            c->topics[c->ntopics++] = xstrdup(name);
            int st = state_index(name);
            if (st >= 0 && c->hub && c->hub->latest[st])
                json_array_append_new(fresh, json_integer(st));
        } else if (!subscribe) {
            for (size_t k = 0; k < c->ntopics; k++) {
                if (strcmp(c->topics[k], name) == 0) {
                    free(c->topics[k]);
                    c->topics[k] = c->topics[--c->ntopics];
                    break;
                }
            }
        }
    }
    json_t *now = json_array();
    for (size_t k = 0; k < c->ntopics; k++)
        json_array_append_new(now, json_string(c->topics[k]));
    send_json(c, json_pack("{s:s, s:o}", "type", subscribe ? "subscribed" : "unsubscribed",
                           "topics", now));
    /* the state as it is now, after the confirmation (a client that reconnected is current) */
    json_array_foreach(fresh, i, t) enqueue(c, c->hub->latest[json_integer_value(t)]);
    json_decref(fresh);
}

static void handle_message(WsClient *c, const char *data, size_t len)
{
    char err[200];
    json_t *msg = jsonutil_parse(data, len, err, sizeof err);
    if (!msg) {
        char m[256];
        snprintf(m, sizeof m, "malformed JSON at %s", err);
        send_error(c, PGF_ERR_BAD_JSON, "send one JSON object per text frame", m);
        return;
    }
    const char *type = jsonutil_str(msg, "type");
    if (!json_is_object(msg) || !type) {
        send_error(c, PGF_ERR_VALIDATION, "messages look like {\"type\":\"subscribe\",...}",
                   "type: is required");
    } else if (strcmp(type, "subscribe") == 0) {
        handle_subscribe(c, msg, true);
    } else if (strcmp(type, "unsubscribe") == 0) {
        handle_subscribe(c, msg, false);
    } else if (strcmp(type, "ping") == 0) {
        send_json(c, json_pack("{s:s}", "type", "pong"));
    } else if (strcmp(type, "auth") == 0) {
        const char *key = jsonutil_str(msg, "key");
        Principal p;
        if (!c->hub || !c->hub->auth || auth_open(c->hub->auth)) {
            c->role = ROLE_ADMIN;
            send_json(c, json_pack("{s:s, s:s}", "type", "auth_ok", "role", "admin"));
        } else if (key && auth_key_principal(c->hub->auth, key, strlen(key), &p)) {
            c->role = ROLE_ADMIN;
            send_json(c, json_pack("{s:s, s:s}", "type", "auth_ok", "role", "admin"));
        } else {
            c->failed_auth++;
            log_event(LOG_WARN, c->request_id, json_pack("{s:i}", "attempt", c->failed_auth),
                      "websocket authentication failed");
            send_error(c, PGF_ERR_UNAUTHORIZED, "check the key (AUTH_KEY of the server)",
                       c->failed_auth >= WSHUB_MAX_FAILED_AUTH
                           ? "invalid API key: too many attempts, closing"
                           : "invalid API key");
            if (c->failed_auth >= WSHUB_MAX_FAILED_AUTH)
                c->close_why = "too many failed authentications";
        }
    } else {
        char m[160];
        snprintf(m, sizeof m, "type: unknown message type '%.60s'", type);
        send_error(c, PGF_ERR_VALIDATION, "types: auth, subscribe, unsubscribe, ping", m);
    }
    json_decref(msg);
}

bool wshub_client_receive(WsClient *c, const void *data, size_t len, bool final, bool binary)
{
    if (c->rx.len + len > WSHUB_MAX_MESSAGE)
        c->rx_overflow = true;
    if (!c->rx_overflow)
        strbuf_append(&c->rx, data, len);
    if (!final)
        return true;
    if (c->rx_overflow) {
        send_error(c, PGF_ERR_TOO_LARGE, NULL, "message larger than 64 KiB");
    } else if (binary) {
        send_error(c, PGF_ERR_BAD_JSON, "send JSON as text frames",
                   "binary frames are not "
                   "accepted");
    } else {
        handle_message(c, c->rx.data ? c->rx.data : "", c->rx.len);
    }
    strbuf_reset(&c->rx);
    c->rx_overflow = false;
    return true;
}

/* the connection ends (1008 policy violation, with why, where lws can still say it) */
static bool close_with(WsClient *c, const char *why)
{
    log_event(LOG_WARN, c->request_id, NULL, "websocket closed: %s", why);
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)(uintptr_t)why,
                     strlen(why));
    return false;
}

bool wshub_client_writable(WsClient *c)
{
    if (c->closing)
        return close_with(c, "too slow: message queue full");
    WsQueued *q = c->head;
    if (!q && c->close_why)
        return close_with(c, c->close_why);
    if (!q)
        return true;
    int n = lws_write(c->wsi, q->msg->data + LWS_PRE, q->msg->len, LWS_WRITE_TEXT);
    c->head = q->next;
    if (!c->head)
        c->tail = NULL;
    c->queued--;
    msg_unref(q->msg);
    free(q);
    if (n < (int)0)
        return false;
    if (c->head || c->close_why)
        lws_callback_on_writable(c->wsi);
    return true;
}

Role wshub_client_role(const WsClient *c)
{
    return c->role;
}

void wshub_client_free(WsClient *c)
{
    if (!c)
        return;
    if (c->hub) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->hub->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->hub->nclients--;
    }
    while (c->head) {
        WsQueued *q = c->head;
        c->head = q->next;
        msg_unref(q->msg);
        free(q);
    }
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    strbuf_free(&c->rx);
    log_event(LOG_INFO, c->request_id, NULL, "websocket client disconnected");
    free(c);
}
