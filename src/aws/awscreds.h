/*
 * awscreds: the AWS credential provider chain, in the order the AWS SDKs use.
 *
 *   1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
 *   2. shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
 *      AWS_CONFIG_FILE (~/.aws/config), profile AWS_PROFILE (default "default")
 *   3. ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (from 169.254.170.2), or AWS_CONTAINER_CREDENTIALS_FULL_URI with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE
 *   4. EC2 instance metadata, IMDSv2 (a session token first), at
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT (default http://169.254.169.254);
 *      AWS_EC2_METADATA_DISABLED=true skips it
 *
 * Temporary credentials are fetched again five minutes before they expire;
 * when that fails while the old ones still hold, the old ones are used.
 * Secrets are never logged: only the source and the access key id's last 4.
 *
 * Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region.
 */
#ifndef PGFLEET_AWSCREDS_H
#define PGFLEET_AWSCREDS_H

#include <stdbool.h>
#include <time.h>

#include <uv.h>

#include "httpc/httpc.h"

typedef struct AwsCredentials {
    char *access_key;
    char *secret_key;
    char *session_token; /* or NULL */
    time_t expiration;   /* 0: does not expire */
    char source[160];    /* "environment", "profile default (/root/.aws/credentials)" ... */
} AwsCredentials;

typedef struct AwsCreds AwsCreds;
typedef const char *(*AwsGetenv)(const char *name, void *ud);

/*
 * creds is NULL when error is set. Both are valid during the call only.
 * Called from the loop, never inside awscreds_get.
 */
typedef void (*AwsCredsCb)(void *ud, const AwsCredentials *creds, const char *error);

/* getenv_fn NULL: the process environment */
AwsCreds *awscreds_new(uv_loop_t *loop, Httpc *http, AwsGetenv getenv_fn, void *ud);
void awscreds_free(AwsCreds *c);
void awscreds_get(AwsCreds *c, AwsCredsCb cb, void *ud);
/* forget cached credentials (after an ExpiredToken answer) */
void awscreds_invalidate(AwsCreds *c);
/* the region, or NULL when none is configured (new string) */
char *awscreds_region(AwsCreds *c);
/* the source of the last credentials, or "" */
const char *awscreds_source(const AwsCreds *c);
/* "AKIA****WXYZ" for display, into buf */
const char *awscreds_masked_key(const AwsCreds *c, char *buf, size_t len);

/* reads key from [section] of an INI file; NULL when absent (new string) */
char *awscreds_ini_get(const char *path, const char *section, const char *key);
/* parses "2026-11-26T15:00:00Z" (also with fractional seconds); 0 on failure */
time_t awscreds_parse_time(const char *iso);

#endif
