/*
 * users: the daemon's view of the users secret (PGFLEET_USERS_SECRET).
 *
 * Read through the Secrets Manager cache: again on its TTL (a timer asks the
 * cache every ttl, so a disabled user or a changed role takes effect within
 * it even with nobody signing in), and at once when someone tries a name the
 * last read did not have (at most once every USERS_FRESH_MIN_MS), so a user
 * just added can sign in. A secret that does not exist means no password
 * sign-in; a read that fails keeps the last good list.
 */
#ifndef PGFLEET_USERS_H
#define PGFLEET_USERS_H

#include <stdbool.h>

#include <uv.h>

#include "auth/userdoc.h"
#include "aws/secrets.h"

#define USERS_FRESH_MIN_MS 2000

typedef enum UsersState {
    USERS_UNREAD,  /* not read yet */
    USERS_ABSENT,  /* no such secret, or AWS not configured: no password sign-in */
    USERS_PRESENT, /* read (maybe with invalid entries left out) */
    USERS_FAILING, /* never read successfully: AWS answered with an error */
} UsersState;

typedef struct Users Users;

Users *users_new(uv_loop_t *loop, SecretsCache *secrets, const char *secret_id, long ttl_seconds);
/* pending lookups are answered (user NULL) first */
void users_free(Users *u);

/* the user (borrowed during the call) or NULL; fresh: re-read first when allowed */
typedef void (*UsersCb)(void *ud, const User *user);
void users_lookup(Users *u, const char *username, bool fresh, UsersCb cb, void *ud);
/* as the last read said, at once (NULL when unknown) */
const User *users_peek(const Users *u, const char *username);
UsersState users_state(const Users *u);
const char *users_secret_id(const Users *u);

#endif
