/*
 * secrets: AWS Secrets Manager (JSON 1.1 protocol).
 *
 * GetSecretValue goes through a cache: a value is reused for ttl seconds,
 * then fetched again; a new VersionId is noticed and logged, and from then on
 * the new value is used. Concurrent gets of one secret share one call.
 * secrets_invalidate drops an entry (after an authentication failure, so a
 * rotated password is picked up at once).
 *
 * Values live in jansson strings, freed without being scrubbed; only
 * pgfleet's own copies of passwords are zeroed.
 *
 * A secret comes back as {"arn","name","version_id","value","cached":bool,
 * "age_seconds"}; "value" is the SecretString. Callers must keep it out of
 * logs, API answers and Redis.
 */
#ifndef PGFLEET_SECRETS_H
#define PGFLEET_SECRETS_H

#include "aws/aws.h"

typedef struct SecretsCache SecretsCache;

SecretsCache *secrets_new(AwsClient *c, long ttl_seconds);
/* waiting gets are answered with an error */
void secrets_free(SecretsCache *s);
/* answers from the loop, never inside the call */
void secrets_get(SecretsCache *s, const char *secret_id, AwsJsonCb cb, void *ud);
void secrets_invalidate(SecretsCache *s, const char *secret_id);

/* every secret (all pages): [{"name","arn","description","last_changed"}] */
void secrets_list(AwsClient *c, AwsJsonCb cb, void *ud);
/* {"arn","name","version_id"} */
void secrets_create(AwsClient *c, const char *name, const char *value, AwsJsonCb cb, void *ud);
void secrets_put(AwsClient *c, const char *secret_id, const char *value, AwsJsonCb cb, void *ud);
/* deletes without the recovery window */
void secrets_delete(AwsClient *c, const char *secret_id, AwsJsonCb cb, void *ud);

#endif
