/*
 * failure: how a service reports an error to its caller's callback.
 *
 * Every asynchronous service operation ends in one DoneCb call with either a
 * result or a Failure: an error code from the one table (error.h), a message
 * that names the object, a hint the user can act on, and optional detail
 * members (validation fields, pre-flight checks, an AWS error code) that the
 * API merges into its error document. The HTTP layer turns a Failure into
 * {"error": {"code", "message", "hint", ...detail}} with the code's status.
 */
#ifndef PGFLEET_FAILURE_H
#define PGFLEET_FAILURE_H

#include <jansson.h>

#include "common/error.h"

typedef struct Failure {
    PgfError code;
    char message[1024];
    char hint[512];
    json_t *detail; /* object merged into the error document, or NULL; owned */
} Failure;

/* fills f (detail is stolen; hint may be NULL) */
void failure_set(Failure *f, PgfError code, json_t *detail, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* the state store could not be used: err (PGF_ERR_STORE_DOWN unless Redis answered with
 * another), "could not <what>: <why>", and the hint every such failure carries */
void failure_store(Failure *f, PgfError err, const char *what, const char *why);
/* releases f's detail */
void failure_clear(Failure *f);

/*
 * The one completion callback of services: exactly one of result (a new
 * reference the callee takes) and failure (borrowed for the call) is set.
 */
typedef void (*DoneCb)(void *ud, json_t *result, const Failure *failure);

/* reports a failure to cb and clears it */
void failure_report(Failure *f, DoneCb cb, void *ud);
/* failure_store then failure_report */
void failure_store_report(PgfError err, const char *what, const char *why, DoneCb cb, void *ud);

#endif
