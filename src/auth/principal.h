/*
 * principal: who a request or a WebSocket acts as, once authenticated.
 */
#ifndef PGFLEET_PRINCIPAL_H
#define PGFLEET_PRINCIPAL_H

#include "auth/rbac.h"
#include "auth/sessions.h"

typedef struct Principal {
    Role role;                   /* ROLE_NONE: not authenticated */
    const char *method;          /* "none" (no method configured), "api_key", "password" ... */
    char user[USERNAME_MAX + 1]; /* the user; "api-key" for the key; "local" with no auth */
    char session[SESSION_PUBLIC_ID_LEN + 1]; /* the session's public id; "" when none */
    char csrf[SESSION_CSRF_LEN + 1];         /* a cookie session's CSRF token; "" otherwise */
    double expires_at;                       /* the session's absolute end (unix s); 0: none */
    double idle_seconds;                     /* the session's idle timeout; 0: none */
    bool via_cookie;                         /* state changes need X-CSRF-Token */
} Principal;

#endif
