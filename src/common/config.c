#include "common/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mask.h"
#include "common/xalloc.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"json", "text", NULL};
static const char *const health_connections[] = {"database", "server", NULL};

static const ConfigDef config_defs[CFG_COUNT] = {
    [CFG_LISTEN] = {.name = "listen",
                    .env = "PGFLEET_LISTEN",
                    .type = CFGT_LISTEN,
                    .default_value = "127.0.0.1:8000",
                    .description = "address and port the daemon serves HTTP and WebSocket on"},
    [CFG_REDIS_URL] = {.name = "redis_url",
                       .env = "PGFLEET_REDIS_URL",
                       .type = CFGT_URL,
                       .default_value = "redis://127.0.0.1:6379/0",
                       .description = "state store: redis:// or rediss:// (TLS), "
                                      "with user:password@ when ACLs are on"},
    [CFG_REDIS_PREFIX] = {.name = "redis_prefix",
                          .env = "PGFLEET_REDIS_PREFIX",
                          .type = CFGT_STRING,
                          .default_value = "pgfleet:",
                          .description = "prefix of every Redis key pgfleet writes"},
    [CFG_REDIS_TIMEOUT_MS] = {.name = "redis_timeout_ms",
                              .env = "PGFLEET_REDIS_TIMEOUT_MS",
                              .type = CFGT_INT,
                              .default_value = "2000",
                              .min = 50,
                              .max = 60000,
                              .description = "connect and command timeout for Redis"},
    [CFG_REDIS_CA_FILE] = {.name = "redis_ca_file",
                           .env = "PGFLEET_REDIS_CA_FILE",
                           .type = CFGT_STRING,
                           .default_value = NULL,
                           .description = "CA bundle (PEM) that signs the Redis server "
                                          "certificate, for rediss://; default: the system's"},
    [CFG_LOG_LEVEL] = {.name = "log_level",
                       .env = "PGFLEET_LOG_LEVEL",
                       .type = CFGT_ENUM,
                       .default_value = "info",
                       .choices = log_levels,
                       .description = "least severe level logged"},
    [CFG_LOG_FORMAT] = {.name = "log_format",
                        .env = "PGFLEET_LOG_FORMAT",
                        .type = CFGT_ENUM,
                        .default_value = "json",
                        .choices = log_formats,
                        .description = "json (one object per line) or text"},
    [CFG_AUTH_KEY] = {.name = "auth_key",
                      .env = "AUTH_KEY",
                      .type = CFGT_SECRET,
                      .default_value = NULL,
                      .description = "API key: 'Authorization: Bearer KEY' or 'X-API-Key: "
                                     "KEY' is admin"},
    [CFG_MAX_BODY_BYTES] = {.name = "max_body_bytes",
                            .env = "PGFLEET_MAX_BODY_BYTES",
                            .type = CFGT_INT,
                            .default_value = "1048576",
                            .min = 1024,
                            .max = 268435456,
                            .description = "largest request body accepted (413 beyond)"},
    [CFG_HEARTBEAT_SECONDS] = {.name = "heartbeat_seconds",
                               .env = "PGFLEET_HEARTBEAT_SECONDS",
                               .type = CFGT_INT,
                               .default_value = "5",
                               .min = 1,
                               .max = 3600,
                               .description = "interval of events on the WebSocket topic "
                                              "'heartbeat'"},
    [CFG_SHUTDOWN_GRACE_MS] = {.name = "shutdown_grace_ms",
                               .env = "PGFLEET_SHUTDOWN_GRACE_MS",
                               .type = CFGT_INT,
                               .default_value = "1500",
                               .min = 0,
                               .max = 60000,
                               .description = "how long SIGTERM waits for in-flight requests"},
    [CFG_AWS_REGION] = {.name = "aws_region",
                        .env = "AWS_REGION",
                        .type = CFGT_STRING,
                        .default_value = NULL,
                        .description = "AWS region (RDS, Secrets "
                                       "Manager, ElastiCache, SNS)"},
    [CFG_AWS_ENDPOINT_URL] = {.name = "aws_endpoint_url",
                              .env = "AWS_ENDPOINT_URL",
                              .type = CFGT_URL,
                              .default_value = NULL,
                              .description = "override of every AWS endpoint (moto, "
                                             "LocalStack); AWS_ENDPOINT_URL_<SERVICE> for one"},
    [CFG_AWS_PROFILE] = {.name = "aws_profile",
                         .env = "AWS_PROFILE",
                         .type = CFGT_STRING,
                         .default_value = NULL,
                         .description = "profile of ~/.aws/credentials and ~/.aws/config "
                                        "(credential chain: env, profile, ECS, EC2 IMDSv2)"},
    [CFG_ELASTICACHE_GROUP] = {.name = "elasticache_replication_group",
                               .env = "PGFLEET_ELASTICACHE_REPLICATION_GROUP",
                               .type = CFGT_STRING,
                               .default_value = NULL,
                               .description = "ElastiCache replication group to keep state in: "
                                              "its endpoint replaces the host of "
                                              "PGFLEET_REDIS_URL (rediss:// when TLS is on)"},
    [CFG_SECRETS_TTL_SECONDS] = {.name = "secrets_ttl_seconds",
                                 .env = "PGFLEET_SECRETS_TTL_SECONDS",
                                 .type = CFGT_INT,
                                 .default_value = "300",
                                 .min = 0,
                                 .max = 86400,
                                 .description = "how long a Secrets Manager value is reused "
                                                "before it is fetched again"},
    [CFG_HEALTH_INTERVAL_SECONDS] = {.name = "health_interval_seconds",
                                     .env = "PGFLEET_HEALTH_INTERVAL_SECONDS",
                                     .type = CFGT_INT,
                                     .default_value = "10",
                                     .min = 1,
                                     .max = 3600,
                                     .description = "how often each database is probed"},
    [CFG_HEALTH_DEGRADED_MS] = {.name = "health_degraded_ms",
                                .env = "PGFLEET_HEALTH_DEGRADED_MS",
                                .type = CFGT_INT,
                                .default_value = "1000",
                                .min = 1,
                                .max = 600000,
                                .description = "a probe slower than this marks a database "
                                               "degraded"},
    [CFG_PG_CA_FILE] = {.name = "pg_ca_file",
                        .env = "PGFLEET_PG_CA_FILE",
                        .type = CFGT_STRING,
                        .default_value = NULL,
                        .description = "CA bundle for PostgreSQL TLS (verify-ca/verify-full; the "
                                       "RDS bundle for RDS)"},
    [CFG_PG_POOL_SIZE] = {.name = "pg_pool_size",
                          .env = "PGFLEET_PG_POOL_SIZE",
                          .type = CFGT_INT,
                          .default_value = "4",
                          .min = 1,
                          .max = 100,
                          .description = "most connections pgfleet opens to one database"},
    [CFG_PG_CONNECT_TIMEOUT_MS] = {.name = "pg_connect_timeout_ms",
                                   .env = "PGFLEET_PG_CONNECT_TIMEOUT_MS",
                                   .type = CFGT_INT,
                                   .default_value = "5000",
                                   .min = 100,
                                   .max = 120000,
                                   .description = "PostgreSQL connect timeout"},
    [CFG_PG_STATEMENT_TIMEOUT_MS] = {.name = "pg_statement_timeout_ms",
                                     .env = "PGFLEET_PG_STATEMENT_TIMEOUT_MS",
                                     .type = CFGT_INT,
                                     .default_value = "30000",
                                     .min = 100,
                                     .max = 3600000,
                                     .description = "statement_timeout of every pgfleet session"},
    [CFG_URL] = {.name = "url",
                 .env = "PGFLEET_URL",
                 .type = CFGT_URL,
                 .default_value = "http://127.0.0.1:8000",
                 .description = "the server the CLI talks to (pgfleet db ...), with AUTH_KEY"},
    [CFG_COLLECT_INTERVAL_SECONDS] = {.name = "collect_interval_seconds",
                                      .env = "PGFLEET_COLLECT_INTERVAL_SECONDS",
                                      .type = CFGT_INT,
                                      .default_value = "5",
                                      .min = 1,
                                      .max = 3600,
                                      .description = "how often replication state is collected"},
    [CFG_LOG_POLL_MS] = {.name = "log_poll_ms",
                         .env = "PGFLEET_LOG_POLL_MS",
                         .type = CFGT_INT,
                         .default_value = "1000",
                         .min = 50,
                         .max = 60000,
                         .description = "how often followed PostgreSQL log files are read"},
    [CFG_RDS_LOG_POLL_SECONDS] = {.name = "rds_log_poll_seconds",
                                  .env = "PGFLEET_RDS_LOG_POLL_SECONDS",
                                  .type = CFGT_INT,
                                  .default_value = "30",
                                  .min = 1,
                                  .max = 3600,
                                  .description = "how often RDS logs are fetched (logs.rds)"},
    [CFG_RDS_DISCOVERY_SECONDS] = {.name = "rds_discovery_seconds",
                                   .env = "PGFLEET_RDS_DISCOVERY_SECONDS",
                                   .type = CFGT_INT,
                                   .default_value = "60",
                                   .min = 1,
                                   .max = 86400,
                                   .description = "how often RDS instances are described (when a "
                                                  "database names one)"},
    [CFG_INVENTORY_SECONDS] = {.name = "inventory_seconds",
                               .env = "PGFLEET_INVENTORY_SECONDS",
                               .type = CFGT_INT,
                               .default_value = "60",
                               .min = 1,
                               .max = 86400,
                               .description = "how often databases with subscriptions or logical "
                                              "slots are visited for initial-sync states"},
    [CFG_PUBLIC_URL] = {.name = "public_url",
                        .env = "PGFLEET_PUBLIC_URL",
                        .type = CFGT_URL,
                        .default_value = NULL,
                        .description =
                            "the URL people reach pgfleet at (https://pgfleet.example.com "
                            "behind a load balancer): its host is accepted in Host "
                            "headers and its origin in Origin headers"},
    [CFG_ALLOWED_ORIGINS] = {.name = "allowed_origins",
                             .env = "PGFLEET_ALLOWED_ORIGINS",
                             .type = CFGT_STRING,
                             .default_value = NULL,
                             .description = "other origins (comma-separated, "
                                            "https://host[:port]) whose pages may call the API "
                                            "and open the WebSocket"},
    [CFG_CREDENTIAL_ENV_ALLOW] = {.name = "credential_env_allow",
                                  .env = "PGFLEET_CREDENTIAL_ENV_ALLOW",
                                  .type = CFGT_STRING,
                                  .default_value = "PGFLEET_DB_*",
                                  .description = "environment variables a database's "
                                                 "credentials may name (comma-separated, a "
                                                 "trailing * matches a prefix); never AWS_*, "
                                                 "AUTH_KEY or pgfleet's own settings"},
    [CFG_SECRETS_PREFIX] = {.name = "secrets_prefix",
                            .env = "PGFLEET_SECRETS_PREFIX",
                            .type = CFGT_STRING,
                            .default_value = "pgfleet/",
                            .description = "Secrets Manager names a database's credentials may "
                                           "use (comma-separated prefixes)"},
    [CFG_LOG_DIRS] = {.name = "log_dirs",
                      .env = "PGFLEET_LOG_DIRS",
                      .type = CFGT_STRING,
                      .default_value = NULL,
                      .description = "folders a database's logs.file may be in "
                                     "(comma-separated); unset: no log file may be followed"},
    [CFG_WS_AUTH_TIMEOUT_SECONDS] = {.name = "ws_auth_timeout_seconds",
                                     .env = "PGFLEET_WS_AUTH_TIMEOUT_SECONDS",
                                     .type = CFGT_INT,
                                     .default_value = "10",
                                     .min = 1,
                                     .max = 3600,
                                     .description = "a WebSocket that has not authenticated by "
                                                    "then is closed"},
    [CFG_WS_UNAUTHENTICATED_PER_ADDRESS] = {.name = "ws_unauthenticated_per_address",
                                            .env = "PGFLEET_WS_UNAUTHENTICATED_PER_ADDRESS",
                                            .type = CFGT_INT,
                                            .default_value = "16",
                                            .min = 1,
                                            .max = 100000,
                                            .description = "most WebSockets one client address "
                                                           "may hold open before they "
                                                           "authenticate"},
    [CFG_BODY_TIMEOUT_SECONDS] = {.name = "body_timeout_seconds",
                                  .env = "PGFLEET_BODY_TIMEOUT_SECONDS",
                                  .type = CFGT_INT,
                                  .default_value = "30",
                                  .min = 1,
                                  .max = 3600,
                                  .description = "a request body not received whole by then ends "
                                                 "the connection (slow clients)"},
    [CFG_TEST_EXIT_AFTER] = {.name = "test_exit_after",
                             .env = "PGFLEET_TEST_EXIT_AFTER",
                             .type = CFGT_STRING,
                             .default_value = NULL,
                             .description = "tests only: the daemon kills itself (SIGKILL) right "
                                            "after the SQL of this stream step (publication, slot, "
                                            "subscription, disable, detach_slot, "
                                            "drop_subscription, drop_slot, drop_publication)"},
    [CFG_USERS_SECRET] = {.name = "users_secret",
                          .env = "PGFLEET_USERS_SECRET",
                          .type = CFGT_STRING,
                          .default_value = "pgfleet/users",
                          .description = "Secrets Manager secret holding the users who sign in "
                                         "with a password (`pgfleet user` edits it)"},
    [CFG_SESSION_IDLE_MINUTES] = {.name = "session_idle_minutes",
                                  .env = "PGFLEET_SESSION_IDLE_MINUTES",
                                  .type = CFGT_NUMBER,
                                  .default_value = "30",
                                  .min = 0,
                                  .max = 1440,
                                  .description = "a session unused this long ends (decimals "
                                                 "allowed)"},
    [CFG_SESSION_LIFETIME_HOURS] = {.name = "session_lifetime_hours",
                                    .env = "PGFLEET_SESSION_LIFETIME_HOURS",
                                    .type = CFGT_NUMBER,
                                    .default_value = "12",
                                    .min = 0,
                                    .max = 168,
                                    .description = "a session ends this long after sign-in, "
                                                   "used or not (decimals allowed)"},
    [CFG_TRUST_PROXY] = {.name = "trust_proxy",
                         .env = "PGFLEET_TRUST_PROXY",
                         .type = CFGT_BOOL,
                         .default_value = "false",
                         .description = "behind a load balancer: take the client address from "
                                        "X-Forwarded-For and https from X-Forwarded-Proto "
                                        "(never set it when clients reach pgfleet directly)"},
    [CFG_LOGIN_BACKOFF_MS] = {.name = "login_backoff_ms",
                              .env = "PGFLEET_LOGIN_BACKOFF_MS",
                              .type = CFGT_INT,
                              .default_value = "1000",
                              .min = 1,
                              .max = 60000,
                              .description = "after the 3rd failed sign-in of a user or an "
                                             "address, the next waits this long, doubling with "
                                             "each failure"},
    [CFG_LOGIN_LOCK_MINUTES] = {.name = "login_lock_minutes",
                                .env = "PGFLEET_LOGIN_LOCK_MINUTES",
                                .type = CFGT_NUMBER,
                                .default_value = "15",
                                .min = 0,
                                .max = 1440,
                                .description = "10 failed sign-ins lock the user name and the "
                                               "address this long (decimals allowed)"},
    [CFG_AUDIT_MAX] = {.name = "audit_max",
                       .env = "PGFLEET_AUDIT_MAX",
                       .type = CFGT_INT,
                       .default_value = "100000",
                       .min = 100,
                       .max = 100000000,
                       .description = "audit entries kept in Redis (the oldest go first)"},
    [CFG_AUDIT_FILE] = {.name = "audit_file",
                        .env = "PGFLEET_AUDIT_FILE",
                        .type = CFGT_STRING,
                        .default_value = NULL,
                        .description = "also append every audit entry to this file, one JSON "
                                       "object per line"},
    [CFG_SAML_IDP_METADATA] = {.name = "saml_idp_metadata",
                               .env = "PGFLEET_SAML_IDP_METADATA",
                               .type = CFGT_STRING,
                               .default_value = NULL,
                               .description = "SAML sign-in: the identity provider's metadata, a "
                                              "file or an https:// URL (read again every hour); "
                                              "needs PGFLEET_PUBLIC_URL"},
    [CFG_SAML_LABEL] = {.name = "saml_label",
                        .env = "PGFLEET_SAML_LABEL",
                        .type = CFGT_STRING,
                        .default_value = "AWS IAM Identity Center",
                        .description = "the SAML button's text on the sign-in page"},
    [CFG_SAML_GROUPS_ATTRIBUTE] = {.name = "saml_groups_attribute",
                                   .env = "PGFLEET_SAML_GROUPS_ATTRIBUTE",
                                   .type = CFGT_STRING,
                                   .default_value = "groups",
                                   .description = "the assertion attribute that lists the user's "
                                                  "groups (IAM Identity Center: group ids)"},
    [CFG_SAML_IDP_INITIATED] = {.name = "saml_idp_initiated",
                                .env = "PGFLEET_SAML_IDP_INITIATED",
                                .type = CFGT_BOOL,
                                .default_value = "true",
                                .description = "accept sign-ins the identity provider starts (the "
                                               "AWS access portal's tile)"},
    [CFG_OIDC_ISSUER] = {.name = "oidc_issuer",
                         .env = "PGFLEET_OIDC_ISSUER",
                         .type = CFGT_URL,
                         .default_value = NULL,
                         .description = "OpenID Connect sign-in: the provider's issuer URL "
                                        "(discovery at /.well-known/openid-configuration)"},
    [CFG_OIDC_CLIENT_ID] = {.name = "oidc_client_id",
                            .env = "PGFLEET_OIDC_CLIENT_ID",
                            .type = CFGT_STRING,
                            .default_value = NULL,
                            .description = "the client id pgfleet is registered with at the "
                                           "provider"},
    [CFG_OIDC_CLIENT_SECRET] = {.name = "oidc_client_secret",
                                .env = "PGFLEET_OIDC_CLIENT_SECRET",
                                .type = CFGT_SECRET,
                                .default_value = NULL,
                                .description = "its client secret (unset: a public client, PKCE "
                                               "only)"},
    [CFG_OIDC_SCOPES] = {.name = "oidc_scopes",
                         .env = "PGFLEET_OIDC_SCOPES",
                         .type = CFGT_STRING,
                         .default_value = "openid email profile",
                         .description = "scopes asked for (add the one that brings the groups "
                                        "claim, often \"groups\")"},
    [CFG_OIDC_GROUPS_CLAIM] = {.name = "oidc_groups_claim",
                               .env = "PGFLEET_OIDC_GROUPS_CLAIM",
                               .type = CFGT_STRING,
                               .default_value = "groups",
                               .description = "the ID token claim that lists the user's groups"},
    [CFG_OIDC_USERNAME_CLAIM] = {.name = "oidc_username_claim",
                                 .env = "PGFLEET_OIDC_USERNAME_CLAIM",
                                 .type = CFGT_STRING,
                                 .default_value = "email",
                                 .description = "the ID token claim that names the user (sub "
                                                "when absent)"},
    [CFG_OIDC_ALGS] = {.name = "oidc_algs",
                       .env = "PGFLEET_OIDC_ALGS",
                       .type = CFGT_STRING,
                       .default_value = "RS256,PS256,ES256",
                       .description = "ID token signature algorithms accepted (RS*, PS*, ES*; "
                                      "never none or HS*)"},
    [CFG_OIDC_LABEL] = {.name = "oidc_label",
                        .env = "PGFLEET_OIDC_LABEL",
                        .type = CFGT_STRING,
                        .default_value = "OpenID Connect",
                        .description = "the OpenID Connect button's text on the sign-in page"},
    [CFG_SSO_ROLE_MAP] = {.name = "sso_role_map",
                          .env = "PGFLEET_SSO_ROLE_MAP",
                          .type = CFGT_STRING,
                          .default_value = NULL,
                          .description = "single sign-on groups to roles: "
                                         "group=role,... (group names or ids; the highest "
                                         "role wins; no mapped group, no session)"},
    [CFG_SSO_IDENTITY_STORE_ID] = {.name = "sso_identity_store_id",
                                   .env = "PGFLEET_SSO_IDENTITY_STORE_ID",
                                   .type = CFGT_STRING,
                                   .default_value = NULL,
                                   .description = "IAM Identity Center's identity store: group "
                                                  "ids are also matched by their names "
                                                  "(identitystore:DescribeGroup)"},
    [CFG_ALERT_HISTORY_DAYS] = {.name = "alert_history_days",
                                .env = "PGFLEET_ALERT_HISTORY_DAYS",
                                .type = CFGT_NUMBER,
                                .default_value = "30",
                                .min = 0,
                                .max = 3650,
                                .description = "alert transitions and deliveries are kept this "
                                               "long in Redis"},
    [CFG_ALERT_REPEAT_MINUTES] = {.name = "alert_repeat_minutes",
                                  .env = "PGFLEET_ALERT_REPEAT_MINUTES",
                                  .type = CFGT_NUMBER,
                                  .default_value = "240",
                                  .min = 0,
                                  .max = 10080,
                                  .description = "a firing alert nobody acknowledged is notified "
                                                 "again this often (decimals allowed)"},
    [CFG_ALERT_RETRY_MS] = {.name = "alert_retry_ms",
                            .env = "PGFLEET_ALERT_RETRY_MS",
                            .type = CFGT_INT,
                            .default_value = "1000",
                            .min = 1,
                            .max = 600000,
                            .description = "a failed notification is tried again after this "
                                           "long, doubling, 5 attempts in all"},
    [CFG_INSTANCE_ID] = {.name = "instance_id",
                         .env = "PGFLEET_INSTANCE_ID",
                         .type = CFGT_STRING,
                         .description = "this instance's name among those sharing one Redis "
                                        "(letters, digits, '.', '_', '-'; default: the host "
                                        "name and the listen port)"},
    [CFG_CLUSTER_LEASE_MS] = {.name = "cluster_lease_ms",
                              .env = "PGFLEET_CLUSTER_LEASE_MS",
                              .type = CFGT_INT,
                              .default_value = "10000",
                              .min = 1000,
                              .max = 300000,
                              .description = "leases (leader, shards) and membership last this "
                                             "long without renewal; renewed every quarter of it"},
    [CFG_CLUSTER_SYNC_SECONDS] = {.name = "cluster_sync_seconds",
                                  .env = "PGFLEET_CLUSTER_SYNC_SECONDS",
                                  .type = CFGT_INT,
                                  .default_value = "30",
                                  .min = 1,
                                  .max = 3600,
                                  .description = "the registered databases are compared with "
                                                 "Redis this often (changes made through another "
                                                 "instance arrive at once as messages)"},
    [CFG_HEALTH_CONNECTIONS] = {.name = "health_connections",
                                .env = "PGFLEET_HEALTH_CONNECTIONS",
                                .type = CFGT_ENUM,
                                .default_value = "database",
                                .choices = health_connections,
                                .description = "database: each database is probed on a connection "
                                               "of its own (its credentials checked too); server: "
                                               "one connection per server probes all its "
                                               "databases (that they exist and accept "
                                               "connections)"},
};

const ConfigDef *config_def(ConfigKey key)
{
    return &config_defs[key];
}

static const char *process_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

bool config_host_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcasecmp(host, "localhost") == 0;
}

static bool parse_port(const char *s, int *port)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

bool config_parse_listen(const char *s, char **host, int *port)
{
    const char *colon;
    const char *hstart = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        hstart = s + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen)) /* bare IPv6 needs brackets */
            return false;
    }
    if (hlen == 0 || hlen > 253)
        return false;
    for (size_t i = 0; i < hlen; i++) {
        char c = hstart[i];
        if (!(c == '.' || c == '-' || c == ':' || (c >= '0' && c <= '9') ||
              (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    if (!parse_port(colon + 1, port))
        return false;
    *host = xstrndup(hstart, hlen);
    return true;
}

bool config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            if (out)
                *out = strcasecmp(s, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

static bool check_value(Config *cfg, ConfigKey key, const char *v, char *err, size_t errlen)
{
    const ConfigDef *d = &config_defs[key];
    switch (d->type) {
    case CFGT_STRING:
    case CFGT_SECRET:
        return true;
    case CFGT_URL:
        if (strstr(v, "://") == NULL || strchr(v, ' ') || strchr(v, '\n')) {
            snprintf(err, errlen, "%s: not a URL (expected scheme://host...)", d->env);
            return false;
        }
        return true;
    case CFGT_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            snprintf(err, errlen, "%s: '%s' is not a whole number", d->env, v);
            return false;
        }
        if (n < d->min || n > d->max) {
            snprintf(err, errlen, "%s: %ld is out of range (%ld to %ld)", d->env, n, d->min,
                     d->max);
            return false;
        }
        return true;
    }
    case CFGT_NUMBER: {
        char *end;
        errno = 0;
        double n = strtod(v, &end);
        if (errno || end == v || *end || n != n) {
            snprintf(err, errlen, "%s: '%s' is not a number", d->env, v);
            return false;
        }
        if (n <= (double)d->min || n > (double)d->max) {
            snprintf(err, errlen, "%s: %s is out of range (more than %ld, at most %ld)", d->env, v,
                     d->min, d->max);
            return false;
        }
        return true;
    }
    case CFGT_BOOL:
        if (config_parse_bool(v, NULL))
            return true;
        snprintf(err, errlen, "%s: '%s' is not true or false", d->env, v);
        return false;
    case CFGT_ENUM:
        for (const char *const *c = d->choices; *c; c++)
            if (strcasecmp(v, *c) == 0)
                return true;
        {
            char list[200] = "";
            for (const char *const *c = d->choices; *c; c++) {
                strncat(list, *c, sizeof list - strlen(list) - 1);
                if (c[1])
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            snprintf(err, errlen, "%s: '%s' is not one of: %s", d->env, v, list);
        }
        return false;
    case CFGT_LISTEN:
        free(cfg->listen_host);
        cfg->listen_host = NULL;
        if (!config_parse_listen(v, &cfg->listen_host, &cfg->listen_port)) {
            snprintf(err, errlen, "%s: '%s' is not host:port (port 1-65535; IPv6 as [::1]:8000)",
                     d->env, v);
            return false;
        }
        return true;
    }
    return true;
}

bool config_load(Config *cfg, ConfigGetenv getenv_fn, void *ud, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (!getenv_fn)
        getenv_fn = process_getenv;
    bool ok = true;
    for (int k = 0; k < CFG_COUNT; k++) {
        const ConfigDef *d = &config_defs[k];
        const char *v = getenv_fn(d->env, ud);
        if (v && *v) {
            cfg->raw[k] = xstrdup(v);
            cfg->from_env[k] = true;
        } else if (d->default_value) {
            cfg->raw[k] = xstrdup(d->default_value);
        }
        if (ok && cfg->raw[k] && !check_value(cfg, (ConfigKey)k, cfg->raw[k], err, errlen))
            ok = false;
    }
    if (!ok)
        return false;
    if (!log_level_parse(cfg->raw[CFG_LOG_LEVEL], &cfg->log_level) ||
        !log_format_parse(cfg->raw[CFG_LOG_FORMAT], &cfg->log_format))
        return false; /* unreachable: checked as enums above */
    cfg->redis_timeout_ms = strtol(cfg->raw[CFG_REDIS_TIMEOUT_MS], NULL, 10);
    cfg->max_body_bytes = strtol(cfg->raw[CFG_MAX_BODY_BYTES], NULL, 10);
    cfg->heartbeat_seconds = strtol(cfg->raw[CFG_HEARTBEAT_SECONDS], NULL, 10);
    cfg->shutdown_grace_ms = strtol(cfg->raw[CFG_SHUTDOWN_GRACE_MS], NULL, 10);
    cfg->secrets_ttl_seconds = strtol(cfg->raw[CFG_SECRETS_TTL_SECONDS], NULL, 10);
    cfg->health_interval_seconds = strtol(cfg->raw[CFG_HEALTH_INTERVAL_SECONDS], NULL, 10);
    cfg->health_degraded_ms = strtol(cfg->raw[CFG_HEALTH_DEGRADED_MS], NULL, 10);
    cfg->pg_pool_size = strtol(cfg->raw[CFG_PG_POOL_SIZE], NULL, 10);
    cfg->pg_connect_timeout_ms = strtol(cfg->raw[CFG_PG_CONNECT_TIMEOUT_MS], NULL, 10);
    cfg->pg_statement_timeout_ms = strtol(cfg->raw[CFG_PG_STATEMENT_TIMEOUT_MS], NULL, 10);
    cfg->collect_interval_seconds = strtol(cfg->raw[CFG_COLLECT_INTERVAL_SECONDS], NULL, 10);
    cfg->log_poll_ms = strtol(cfg->raw[CFG_LOG_POLL_MS], NULL, 10);
    cfg->rds_log_poll_ms = 1000 * strtol(cfg->raw[CFG_RDS_LOG_POLL_SECONDS], NULL, 10);
    cfg->rds_discovery_ms = 1000 * strtol(cfg->raw[CFG_RDS_DISCOVERY_SECONDS], NULL, 10);
    cfg->inventory_ms = 1000 * strtol(cfg->raw[CFG_INVENTORY_SECONDS], NULL, 10);
    cfg->ws_auth_timeout_seconds = strtol(cfg->raw[CFG_WS_AUTH_TIMEOUT_SECONDS], NULL, 10);
    cfg->ws_unauthenticated_per_address =
        strtol(cfg->raw[CFG_WS_UNAUTHENTICATED_PER_ADDRESS], NULL, 10);
    cfg->body_timeout_seconds = strtol(cfg->raw[CFG_BODY_TIMEOUT_SECONDS], NULL, 10);
    cfg->session_idle_seconds = 60 * strtod(cfg->raw[CFG_SESSION_IDLE_MINUTES], NULL);
    cfg->session_lifetime_seconds = 3600 * strtod(cfg->raw[CFG_SESSION_LIFETIME_HOURS], NULL);
    if (!config_parse_bool(cfg->raw[CFG_TRUST_PROXY], &cfg->trust_proxy))
        return false; /* unreachable: checked above */
    cfg->login_backoff_ms = strtol(cfg->raw[CFG_LOGIN_BACKOFF_MS], NULL, 10);
    cfg->login_lock_seconds = 60 * strtod(cfg->raw[CFG_LOGIN_LOCK_MINUTES], NULL);
    cfg->audit_max = strtol(cfg->raw[CFG_AUDIT_MAX], NULL, 10);
    if (!config_parse_bool(cfg->raw[CFG_SAML_IDP_INITIATED], &cfg->saml_idp_initiated))
        return false; /* unreachable: checked above */
    cfg->alert_history_days = strtod(cfg->raw[CFG_ALERT_HISTORY_DAYS], NULL);
    cfg->alert_repeat_seconds = 60 * strtod(cfg->raw[CFG_ALERT_REPEAT_MINUTES], NULL);
    cfg->alert_retry_ms = strtol(cfg->raw[CFG_ALERT_RETRY_MS], NULL, 10);
    cfg->cluster_lease_ms = strtol(cfg->raw[CFG_CLUSTER_LEASE_MS], NULL, 10);
    cfg->cluster_sync_ms = 1000 * strtol(cfg->raw[CFG_CLUSTER_SYNC_SECONDS], NULL, 10);
    cfg->health_per_server = strcasecmp(cfg->raw[CFG_HEALTH_CONNECTIONS], "server") == 0;
    return true;
}

void config_free(Config *cfg)
{
    for (int k = 0; k < CFG_COUNT; k++) {
        if (cfg->raw[k] && config_defs[k].type == CFGT_SECRET)
            xfree_secret(cfg->raw[k]);
        else
            free(cfg->raw[k]);
        cfg->raw[k] = NULL;
    }
    free(cfg->listen_host);
    cfg->listen_host = NULL;
}

const char *config_display(const Config *cfg, ConfigKey key, char *buf, size_t buflen)
{
    const char *v = cfg->raw[key];
    if (!v)
        return "(unset)";
    if (config_defs[key].type == CFGT_SECRET)
        return "********";
    mask_secrets(v, buf, buflen);
    return buf;
}
