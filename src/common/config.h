/*
 * config: the one table of pgfleet settings.
 *
 * Every setting has a name, an environment variable, a type, a default and a
 * description (PgBouncer's CF_ABS table is the model). `pgfleet config` prints
 * the table with the current values, secrets masked. Loading validates every
 * value and names the variable and the rule when one is wrong.
 */
#ifndef PGFLEET_CONFIG_H
#define PGFLEET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

typedef enum ConfigKey {
    CFG_LISTEN,
    CFG_REDIS_URL,
    CFG_REDIS_PREFIX,
    CFG_REDIS_TIMEOUT_MS,
    CFG_REDIS_CA_FILE,
    CFG_LOG_LEVEL,
    CFG_LOG_FORMAT,
    CFG_AUTH_KEY,
    CFG_MAX_BODY_BYTES,
    CFG_HEARTBEAT_SECONDS,
    CFG_SHUTDOWN_GRACE_MS,
    CFG_AWS_REGION,
    CFG_AWS_ENDPOINT_URL,
    CFG_AWS_PROFILE,
    CFG_ELASTICACHE_GROUP,
    CFG_SECRETS_TTL_SECONDS,
    CFG_HEALTH_INTERVAL_SECONDS,
    CFG_HEALTH_DEGRADED_MS,
    CFG_PG_CA_FILE,
    CFG_PG_POOL_SIZE,
    CFG_PG_CONNECT_TIMEOUT_MS,
    CFG_PG_STATEMENT_TIMEOUT_MS,
    CFG_URL,
    CFG_COLLECT_INTERVAL_SECONDS,
    CFG_LOG_POLL_MS,
    CFG_RDS_LOG_POLL_SECONDS,
    CFG_RDS_DISCOVERY_SECONDS,
    CFG_INVENTORY_SECONDS,
    CFG_PUBLIC_URL,
    CFG_ALLOWED_ORIGINS,
    CFG_CREDENTIAL_ENV_ALLOW,
    CFG_SECRETS_PREFIX,
    CFG_LOG_DIRS,
    CFG_WS_AUTH_TIMEOUT_SECONDS,
    CFG_WS_UNAUTHENTICATED_PER_ADDRESS,
    CFG_BODY_TIMEOUT_SECONDS,
    CFG_TEST_EXIT_AFTER,
    CFG_USERS_SECRET,
    CFG_SESSION_IDLE_MINUTES,
    CFG_SESSION_LIFETIME_HOURS,
    CFG_TRUST_PROXY,
    CFG_LOGIN_BACKOFF_MS,
    CFG_LOGIN_LOCK_MINUTES,
    CFG_AUDIT_MAX,
    CFG_AUDIT_FILE,
    CFG_SAML_IDP_METADATA,
    CFG_SAML_LABEL,
    CFG_SAML_GROUPS_ATTRIBUTE,
    CFG_SAML_IDP_INITIATED,
    CFG_OIDC_ISSUER,
    CFG_OIDC_CLIENT_ID,
    CFG_OIDC_CLIENT_SECRET,
    CFG_OIDC_SCOPES,
    CFG_OIDC_GROUPS_CLAIM,
    CFG_OIDC_USERNAME_CLAIM,
    CFG_OIDC_ALGS,
    CFG_OIDC_LABEL,
    CFG_SSO_ROLE_MAP,
    CFG_SSO_IDENTITY_STORE_ID,
    CFG_ALERT_HISTORY_DAYS,
    CFG_ALERT_REPEAT_MINUTES,
    CFG_ALERT_RETRY_MS,
    CFG_INSTANCE_ID,
    CFG_CLUSTER_LEASE_MS,
    CFG_CLUSTER_SYNC_SECONDS,
    CFG_HEALTH_CONNECTIONS,
    CFG_COUNT
} ConfigKey;

typedef enum ConfigType {
    CFGT_STRING,
    CFGT_SECRET, /* a string never printed or logged */
    CFGT_INT,
    CFGT_ENUM,
    CFGT_LISTEN, /* host:port or [v6]:port */
    CFGT_URL,
    CFGT_NUMBER, /* a decimal number within [min, max] */
    CFGT_BOOL,   /* true/false, yes/no, on/off, 1/0 */
} ConfigType;

typedef struct ConfigDef {
    const char *name; /* short name, as `pgfleet config` shows it */
    const char *env;  /* environment variable */
    ConfigType type;
    const char *default_value; /* NULL: unset by default */
    const char *description;
    const char *const *choices; /* CFGT_ENUM: NULL-terminated */
    long min, max;              /* CFGT_INT: inclusive range */
} ConfigDef;

typedef struct Config {
    char *raw[CFG_COUNT]; /* the value in force, as text; NULL when unset */
    bool from_env[CFG_COUNT];
    /* parsed values */
    char *listen_host;
    int listen_port;
    LogLevel log_level;
    LogFormat log_format;
    long redis_timeout_ms;
    long max_body_bytes;
    long heartbeat_seconds;
    long shutdown_grace_ms;
    long secrets_ttl_seconds;
    long health_interval_seconds;
    long health_degraded_ms;
    long pg_pool_size;
    long pg_connect_timeout_ms;
    long pg_statement_timeout_ms;
    long collect_interval_seconds;
    long log_poll_ms;
    long rds_log_poll_ms;
    long rds_discovery_ms;
    long inventory_ms;
    long ws_auth_timeout_seconds;
    long ws_unauthenticated_per_address;
    long body_timeout_seconds;
    double session_idle_seconds;
    double session_lifetime_seconds;
    bool trust_proxy;
    long login_backoff_ms;
    double login_lock_seconds;
    long audit_max;
    bool saml_idp_initiated;
    double alert_history_days;
    double alert_repeat_seconds;
    long alert_retry_ms;
    long cluster_lease_ms;
    long cluster_sync_ms;
    bool health_per_server; /* PGFLEET_HEALTH_CONNECTIONS=server */
} Config;

/* looks up one variable; returns NULL when unset */
typedef const char *(*ConfigGetenv)(const char *name, void *ud);

const ConfigDef *config_def(ConfigKey key);

/*
 * Loads every setting through getenv_fn (NULL: the process environment).
 * On failure returns false and writes one line naming the variable and the
 * rule into err (size errlen). The Config must be released with config_free
 * either way.
 */
bool config_load(Config *cfg, ConfigGetenv getenv_fn, void *ud, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void config_free(Config *cfg);

static inline const char *config_get(const Config *cfg, ConfigKey key)
{
    return cfg->raw[key];
}

/*
 * What `pgfleet config` shows for a value: secrets as "********", any password
 * inside a value as "****" (common/mask.h). May use buf.
 */
const char *config_display(const Config *cfg, ConfigKey key, char *buf, size_t buflen);

/* parses "host:port" / "[::1]:port"; host is a new string */
bool config_parse_listen(const char *s, char **host, int *port) __attribute__((warn_unused_result));
/* true/yes/on/1 or false/no/off/0 (any case); out may be NULL */
bool config_parse_bool(const char *s, bool *out) __attribute__((warn_unused_result));
/* true for 127.0.0.0/8, ::1 and localhost */
bool config_host_is_loopback(const char *host);

#endif
