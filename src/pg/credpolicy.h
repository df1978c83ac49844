/*
 * credpolicy: which credential sources a registered database may name.
 *
 * A database's password goes to the host the database names, so whoever
 * may register one could otherwise make pgfleet send any of its own secrets
 * there. An "env" source may name only variables matching
 * PGFLEET_CREDENTIAL_ENV_ALLOW (default PGFLEET_DB_*; a trailing * matches a
 * prefix) and never AWS_*, AUTH_KEY or one of pgfleet's settings, whatever
 * that list says. A "secretsmanager" source may name only secrets under
 * PGFLEET_SECRETS_PREFIX (default pgfleet/), by name or ARN. The answer never
 * says whether a refused secret exists: the check is on the name alone.
 * Applied when a database is registered (a 422 naming the field) and again
 * before every use (a record planted in Redis gets no secret either).
 */
#ifndef PGFLEET_CREDPOLICY_H
#define PGFLEET_CREDPOLICY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct CredPolicy CredPolicy;

/* env_allow and secret_prefixes: comma-separated lists (NULL: the defaults) */
CredPolicy *credpolicy_new(const char *env_allow, const char *secret_prefixes);
void credpolicy_free(CredPolicy *p);

/* false with why filled when the variable may not be read for a database */
bool credpolicy_env_ok(const CredPolicy *p, const char *name, char *why, size_t len);
/* false with why filled when the secret (name or ARN) may not be used */
bool credpolicy_secret_ok(const CredPolicy *p, const char *secret_id, char *why, size_t len);

#endif
