/*
 * wshub: WebSocket clients and the topics they subscribe to.
 *
 * Protocol (JSON text frames), client -> server:
 *   {"type":"auth","key":"..."}               authenticate when the upgrade had no key
 *   {"type":"subscribe","topics":["heartbeat"]}
 *   {"type":"unsubscribe","topics":[...]}
 *   {"type":"ping"}
 * server -> client:
 *   {"type":"welcome","authenticated":bool,"role":"...","topics":[known topic names]}
 *   {"type":"auth_ok","role":"admin"} | {"type":"subscribed","topics":[...]} | {"type":"pong"}
 *   {"type":"event","topic":"heartbeat","ts":"...","data":{...}}
 *   {"type":"error","error":{"code","message","hint"}}  (the connection stays open)
 *
 * Topics are a known name ("heartbeat", "health", "topology") or a known name,
 * a colon and an id ("stream:<id>", "migration:<id>"). Subscribing needs the
 * viewer role. A client that falls more than WSHUB_MAX_QUEUE messages behind
 * is disconnected (close code 1008) rather than letting memory grow.
 */
#ifndef PGFLEET_WSHUB_H
#define PGFLEET_WSHUB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "auth/authkey.h"
#include "auth/rbac.h"

#define WSHUB_MAX_QUEUE   1024
#define WSHUB_MAX_MESSAGE (64 * 1024)
#define WSHUB_MAX_TOPICS  64
/* a connection is closed after this many failed {"type":"auth"} frames */
#define WSHUB_MAX_FAILED_AUTH 3

typedef struct WsHub WsHub;
typedef struct WsClient WsClient;

/* authkey may be NULL: no auth configured, every client is admin */
WsHub *wshub_new(const AuthKey *authkey);
void wshub_free(WsHub *hub);

/* Sends {"type":"event","topic":topic,"data":data} to every subscriber; data is stolen. */
void wshub_publish(WsHub *hub, const char *topic, json_t *data);
size_t wshub_client_count(const WsHub *hub);
size_t wshub_subscriber_count(const WsHub *hub, const char *topic);

/* true when name is a topic clients may subscribe to */
bool wshub_topic_valid(const char *name);

/* --- called by server.c from the libwebsockets callback --- */
WsClient *wshub_client_new(WsHub *hub, void *wsi, Role role, const char *request_id);
/* one received fragment; returns false when the connection must close */
bool wshub_client_receive(WsClient *c, const void *data, size_t len, bool final, bool binary);
/* writes one queued message; returns false when the connection must close */
bool wshub_client_writable(WsClient *c);
void wshub_client_free(WsClient *c);
/* the role the client holds now (ROLE_NONE until it authenticates) */
Role wshub_client_role(const WsClient *c);

#endif
