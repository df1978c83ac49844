/*
 * audit: who did what, when, from where, with what result.
 *
 * Every state-changing request and every sign-in, sign-out and failed
 * sign-in becomes one entry: {ts, user, method, role, address, action,
 * target, result, status, request_id, detail?}. Entries go to a Redis stream
 * ("audit", capped near max entries, the oldest dropped first) and, when a
 * file is named, are appended to it as JSON lines (O_APPEND, one write per
 * entry, so lines of several writers never interleave). A failure to write
 * either is logged; the request it records is not held up.
 *
 * Strings from requests are bounded and stripped of control characters
 * before they are written.
 */
#ifndef PGFLEET_AUDIT_H
#define PGFLEET_AUDIT_H

#include <stdbool.h>

#include <jansson.h>

#include "common/failure.h"
#include "store/store.h"

typedef struct AuditEntry {
    const char *user;    /* who: a user name, "api-key", "local"; "" when unknown */
    const char *method;  /* password, api_key, none ... */
    const char *role;    /* viewer, operator, admin, none */
    const char *address; /* the client address */
    const char *action;  /* login, logout, login_failed, database.create ... */
    const char *target;  /* the object acted on (an id), or NULL */
    const char *result;  /* ok, denied, failed, locked */
    unsigned status;     /* the HTTP status answered, 0 when none */
    const char *request_id;
    json_t *detail; /* optional, stolen */
} AuditEntry;

typedef struct Audit Audit;

/* file may be NULL; false with err filled when the file cannot be opened */
Audit *audit_new(Store *store, long max_entries, const char *file, char *err, size_t errlen);
void audit_free(Audit *a);

void audit_record(Audit *a, const AuditEntry *e);

typedef struct AuditQuery {
    const char *user;    /* exact, NULL: any */
    const char *action;  /* exact or a prefix ending in '.' ("stream."), NULL: any */
    double since, until; /* unix seconds; 0: open */
    long limit;          /* 1..1000 */
} AuditQuery;

/* newest first: {"entries": [...], "scanned": n, "complete": bool} */
void audit_query(Audit *a, const AuditQuery *q, DoneCb cb, void *ud);

#endif
