/*
 * sessions: signed-in browsers, kept in Redis so every instance knows them.
 *
 * A session is named by a token of 256 random bits (base64url, 43
 * characters) that only the browser holds, in the pgfleet_session cookie.
 * Redis holds the token's SHA-256 and nothing from which the token follows:
 *
 *   session:<sha256 hex>  {"v":1,"user","role","method","address",
 *                          "created_at","last_seen","expires_at"}  (PX = idle left)
 *   sessions              sorted set: sha256 hex by expires_at (the admin list)
 *
 * A session ends when it was not used for the idle time, at its absolute
 * lifetime, at logout, or when an admin revokes it. Its public id (what the
 * admin list shows and DELETE /api/sessions/{id} takes) is the first 24 hex
 * digits of the hash. The CSRF token of a session is a keyed BLAKE2b of the
 * token: derived, never stored.
 */
#ifndef PGFLEET_SESSIONS_H
#define PGFLEET_SESSIONS_H

#include <stdbool.h>

#include <jansson.h>

#include "auth/rbac.h"
#include "auth/userdoc.h"
#include "common/error.h"
#include "store/store.h"

#define SESSION_TOKEN_LEN     43
#define SESSION_PUBLIC_ID_LEN 24
#define SESSION_CSRF_LEN      64

typedef struct Session {
    char id[SESSION_PUBLIC_ID_LEN + 1];
    char user[USERNAME_MAX + 1];
    Role role;
    char method[16];
    char address[64];
    double created_at, last_seen, expires_at; /* unix seconds */
} Session;

typedef struct Sessions Sessions;

Sessions *sessions_new(Store *store, double idle_seconds, double lifetime_seconds);
void sessions_free(Sessions *s);
double sessions_idle_seconds(const Sessions *s);

/* s NULL: no such session (or it ended); err: Redis failed */
typedef void (*SessionCb)(void *ud, PgfError err, const Session *s);

/*
 * A new session for proto's user, role, method and address; its token is
 * written to token at once, the record stored before cb.
 */
void sessions_create(Sessions *s, const Session *proto, char token[SESSION_TOKEN_LEN + 1],
                     SessionCb cb, void *ud);
/* the live session a token names; touch: counts as use (moves last_seen) */
void sessions_resolve(Sessions *s, const char *token, bool touch, SessionCb cb, void *ud);
/* ends the session a token names; cb gets what it was (NULL when none) */
void sessions_end(Sessions *s, const char *token, SessionCb cb, void *ud);
/* ends a session by public id (admin); cb gets what it was (NULL when none) */
void sessions_revoke(Sessions *s, const char *public_id, SessionCb cb, void *ud);

/* the live sessions, most recently used first: [{id,user,role,method,address,...}] */
typedef void (*SessionListCb)(void *ud, PgfError err, json_t *list);
void sessions_list(Sessions *s, SessionListCb cb, void *ud);

/* the session as the API shows it (no token, no hash) */
json_t *session_to_json(const Session *s);
/* a well-formed token (43 base64url characters) */
bool sessions_token_valid(const char *token);
/* the session's CSRF token (64 hex digits) */
void sessions_csrf(const char *token, char out[SESSION_CSRF_LEN + 1]);

#endif
