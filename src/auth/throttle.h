/*
 * throttle: failed sign-ins slow down, then lock, per user name and per
 * client address, in Redis so every instance sees the same counts.
 *
 * Failures 1 and 2 cost nothing; from the 3rd the next attempt must wait
 * backoff_ms, doubling with each failure; the 10th locks for lock_ms. Counts
 * are forgotten lock_ms after the last failure; a successful sign-in clears
 * the user name's count (not the address's, so one good account does not
 * reset an address that is guessing others). Keys hold a hash of the name
 * or address, never the text:
 *   login:fail:<u|a>:<sha256 hex>   count   (PX lock_ms)
 *   login:wait:<u|a>:<sha256 hex>   1       (PX the wait)
 */
#ifndef PGFLEET_THROTTLE_H
#define PGFLEET_THROTTLE_H

#include "common/error.h"
#include "store/store.h"

#define THROTTLE_LOCK_AFTER 10

typedef struct Throttle Throttle;

Throttle *throttle_new(Store *store, long backoff_ms, long lock_ms);
void throttle_free(Throttle *t);

/* wait_ms > 0: no attempt now; failures: the larger count of the two */
typedef void (*ThrottleCb)(void *ud, PgfError err, long wait_ms, long failures);
/* may an attempt for username from address be made now? */
void throttle_check(Throttle *t, const char *username, const char *address, ThrottleCb cb,
                    void *ud);
/* counts a failure; cb (may be NULL) gets the wait it imposes and the count */
void throttle_failed(Throttle *t, const char *username, const char *address, ThrottleCb cb,
                     void *ud);
void throttle_succeeded(Throttle *t, const char *username);

#endif
