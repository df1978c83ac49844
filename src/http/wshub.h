/*
 * wshub: WebSocket clients and the topics they subscribe to.
 *
 * Protocol (JSON text frames), client -> server:
 *   {"type":"auth","key":"..."}               authenticate with the API key when the upgrade
 *                                             carried no credentials (a browser's session
 *                                             cookie authenticates the upgrade itself)
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
 * viewer role. The welcome is the first message and comes once the
 * upgrade's credentials are checked: a client waits for it before
 * subscribing. A socket opened by a session is closed (1008) when the
 * session ends. A client that falls more than WSHUB_MAX_QUEUE messages behind
 * is disconnected (close code 1008) rather than letting memory grow.
 */
#ifndef PGFLEET_WSHUB_H
#define PGFLEET_WSHUB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/rbac.h"

#define WSHUB_MAX_QUEUE   1024
#define WSHUB_MAX_MESSAGE (64 * 1024)
#define WSHUB_MAX_TOPICS  64
/* a connection is closed after this many failed {"type":"auth"} frames */
#define WSHUB_MAX_FAILED_AUTH 3

typedef struct WsHub WsHub;
typedef struct WsClient WsClient;

/* auth NULL or open: every client is admin */
WsHub *wshub_new(const Auth *auth);
void wshub_free(WsHub *hub);

/* Sends {"type":"event","topic":topic,"data":data} to every subscriber; data is stolen. */
void wshub_publish(WsHub *hub, const char *topic, json_t *data);
/*
 * A state topic ("topology", "metrics") whose events carry changes: diff goes
 * to the subscribers, full (with "full": true) is what a new subscriber gets
 * at once. Both stolen.
 */
void wshub_publish_state(WsHub *hub, const char *topic, json_t *diff, json_t *full);
size_t wshub_client_count(const WsHub *hub);
size_t wshub_subscriber_count(const WsHub *hub, const char *topic);

/* true when name is a topic clients may subscribe to */
bool wshub_topic_valid(const char *name);

/* --- called by server.c from the libwebsockets callback --- */
/* welcome false: the caller sends it with wshub_client_welcome once it knows the role */
WsClient *wshub_client_new(WsHub *hub, void *wsi, Role role, const char *request_id, bool welcome);
void wshub_client_welcome(WsClient *c, Role role);
/* the role changed (a user's role in the users secret) */
void wshub_client_set_role(WsClient *c, Role role);
/* closes the connection (1008) with why, after what is queued */
void wshub_client_end(WsClient *c, const char *why);
/* one received fragment; returns false when the connection must close */
bool wshub_client_receive(WsClient *c, const void *data, size_t len, bool final, bool binary);
/* writes one queued message; returns false when the connection must close */
bool wshub_client_writable(WsClient *c);
void wshub_client_free(WsClient *c);
/* the role the client holds now (ROLE_NONE until it authenticates) */
Role wshub_client_role(const WsClient *c);

#endif
