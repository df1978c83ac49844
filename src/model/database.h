/*
 * database: DatabaseConfig, a PostgreSQL server pgfleet manages.
 *
 * Built from JSON (API bodies, Redis records) with full validation, written
 * back as JSON. The credential reference says where the password comes from;
 * a password given inline is held in memory only long enough to be moved to a
 * secret store, and is never written out: not to the API, not to Redis, not
 * to logs (to_json shows "password_set": true instead).
 */
#ifndef PGFLEET_DATABASE_H
#define PGFLEET_DATABASE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "model/validate.h"

#define DATABASE_SCHEMA_VERSION 1

typedef enum CredSource {
    CRED_PASSWORD,       /* given at registration, kept in Secrets Manager */
    CRED_SECRETSMANAGER, /* secret_id: RDS-format JSON secret */
    CRED_RDS_IAM,        /* a fresh RDS IAM token per connection */
    CRED_ENV,            /* env: the name of a variable holding the password */
} CredSource;

typedef enum SslMode {
    SSL_DISABLE,
    SSL_ALLOW,
    SSL_PREFER,
    SSL_REQUIRE,
    SSL_VERIFY_CA,
    SSL_VERIFY_FULL,
} SslMode;

typedef struct CredentialRef {
    CredSource source;
    char *password; /* CRED_PASSWORD, only until stored; never serialized */
    bool password_set;
    char *secret_id; /* CRED_SECRETSMANAGER; CRED_PASSWORD: where pgfleet keeps it */
    char *env;       /* CRED_ENV */
} CredentialRef;

typedef struct DatabaseConfig {
    char *id;
    char *name;
    char *host;
    long long port;
    char *dbname;
    char *user;
    SslMode sslmode;
    CredentialRef credentials;
    char **tags;
    size_t ntags;
    char *aws_region;          /* optional */
    char *aws_rds_instance_id; /* optional */
    char *log_file;            /* optional: a PostgreSQL log file to follow */
    int log_format;            /* index in log_format_names (LogFormatKind order) */
    bool log_rds;              /* follow the RDS instance's logs through the RDS API */
    char *created_at;
    char *updated_at;
} DatabaseConfig;

extern const char *const cred_source_names[];
extern const char *const sslmode_names[];
extern const char *const log_format_names[];

/*
 * Fills db from obj. A missing id is generated and missing timestamps set to
 * now. Returns false with every problem in v; db is then still safe to free.
 */
bool database_from_json(DatabaseConfig *db, const json_t *obj, Validation *v)
    __attribute__((warn_unused_result));
/* the JSON users and Redis see: never the password */
json_t *database_to_json(const DatabaseConfig *db);
void database_free(DatabaseConfig *db);

#endif
