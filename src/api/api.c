#include "api/api.h"

#include <stdlib.h>

#include <uv.h>

#include "common/xalloc.h"

static const char *const r_public[] = {NULL};
static const char *const r_ready[] = {"503", NULL};
static const char *const r_auth[] = {"401", NULL};
static const char *const r_login[] = {"400", "401", "415", "422", "429", "503", NULL};
static const char *const r_logout[] = {"503", NULL};
static const char *const r_sso[] = {"400", "403", "503", NULL};
static const char *const r_missing[] = {"404", NULL};
static const char *const r_store[] = {"401", "403", "503", NULL};
static const char *const r_aws[] = {"401", "403", NULL};
static const char *const r_db_read[] = {"401", "403", "404", "503", NULL};
static const char *const r_db_write[] = {"400", "401", "403", "404", "409", "413",
                                         "415", "422", "502", "503", NULL};
static const char *const r_hist[] = {"401", "403", "422", "503", NULL};
static const char *const r_page[] = {"401", "403", "404", "422", "503", NULL};
static const char *const r_validate[] = {"400", "401", "403", "404", "413", "415", "422", NULL};

#define R(method, pattern, role, handler, tag, summary, req, resp, responses, success, action)     \
    {                                                                                              \
        method, pattern, role, handler, tag, summary, req, resp, responses, success, action, 0     \
    }
/* the same, with ROUTE_* flags */
#define RF(method, pattern, role, handler, tag, summary, req, resp, responses, success, action,    \
           flags)                                                                                  \
    {                                                                                              \
        method, pattern, role, handler, tag, summary, req, resp, responses, success, action, flags \
    }

/*
 * every route: method, pattern, least role, handler, docs, success status, and
 * for those that change something, the action the audit trail records.
 * Roles: viewer reads everything but secrets; operator runs streams,
 * migrations and database tests; admin registers databases and manages sessions.
 */
static const Route routes[] = {
    R(HTTP_GET, "/healthz", ROLE_NONE, api_healthz, "health", "Liveness: the process serves", NULL,
      "Health", r_public, 0, NULL),
    R(HTTP_GET, "/readyz", ROLE_NONE, api_readyz, "health",
      "Readiness: the state store (Redis) answers", NULL, "Ready", r_ready, 0, NULL),
    R(HTTP_GET, "/api/cluster", ROLE_VIEWER, api_cluster, "health",
      "The pgfleet instances sharing this Redis: each one's version, start, whether it leads, "
      "the shards and databases it polls",
      NULL, "Cluster", r_aws, 0, NULL),
    R(HTTP_GET, "/ws", ROLE_NONE, api_ws_plain, "events",
      "WebSocket endpoint (upgrade required): subscribe to topics, receive JSON events", NULL, NULL,
      r_public, 0, NULL),
    R(HTTP_GET, "/auth/methods", ROLE_NONE, api_auth_methods, "auth",
      "How one signs in here (the login page asks): password when the users secret exists, API "
      "key when AUTH_KEY is set",
      NULL, "AuthMethods", r_public, 0, NULL),
    R(HTTP_POST, "/auth/login", ROLE_NONE, api_auth_login, "auth",
      "Sign in ({\"method\":\"password\",\"username\",\"password\"} or "
      "{\"method\":\"api_key\",\"key\"}): starts a session, sets the pgfleet_session cookie, "
      "answers who signed in and the CSRF token state changes must carry",
      "LoginRequest", "AuthStatus", r_login, 0, NULL),
    R(HTTP_POST, "/auth/logout", ROLE_NONE, api_auth_logout, "auth",
      "Sign out: ends the cookie's session and clears the cookie", NULL, "LogoutResult", r_logout,
      0, NULL),
    RF(HTTP_GET, "/auth/saml/metadata", ROLE_NONE, api_saml_metadata, "auth",
       "This service provider's SAML metadata (entity id and ACS, from PGFLEET_PUBLIC_URL): give "
       "it to the identity provider",
       NULL, NULL, r_missing, 0, NULL, ROUTE_XML),
    RF(HTTP_GET, "/auth/saml/login", ROLE_NONE, api_saml_login, "auth",
       "Starts a SAML sign-in: 303 to the identity provider (query: next, a path here to come "
       "back to)",
       NULL, NULL, r_sso, 303, NULL, ROUTE_PAGE),
    {HTTP_POST, "/auth/saml/acs", ROLE_NONE, api_saml_acs, "auth",
     "Assertion consumer service: the identity provider posts its signed SAMLResponse here "
     "(a form); 303 to the app with a session, or a page that says why not",
     "SamlPost", NULL, r_sso, 303, NULL, ROUTE_CROSS_SITE_FORM | ROUTE_PAGE},
    RF(HTTP_GET, "/auth/oidc/login", ROLE_NONE, api_oidc_login, "auth",
       "Starts an OpenID Connect sign-in (code flow with PKCE): 303 to the provider (query: "
       "next)",
       NULL, NULL, r_sso, 303, NULL, ROUTE_PAGE),
    RF(HTTP_GET, "/auth/oidc/callback", ROLE_NONE, api_oidc_callback, "auth",
       "Where the provider sends the browser back (query: code, state): 303 to the app with a "
       "session, or a page that says why not",
       NULL, NULL, r_sso, 303, NULL, ROUTE_PAGE),
    R(HTTP_GET, "/api/openapi.json", ROLE_VIEWER, api_openapi, "meta", "This OpenAPI document",
      NULL, NULL, r_auth, 0, NULL),
    R(HTTP_GET, "/api/auth/status", ROLE_VIEWER, api_auth_status, "auth",
      "Who the caller is: user, role, method, the session's expiry and its CSRF token", NULL,
      "AuthStatus", r_auth, 0, NULL),
    R(HTTP_GET, "/api/sessions", ROLE_ADMIN, api_sessions_list, "auth",
      "Every live session, most recently used first", NULL, "SessionList", r_store, 0, NULL),
    R(HTTP_DELETE, "/api/sessions/{id}", ROLE_ADMIN, api_sessions_revoke, "auth",
      "End a session (its id from GET /api/sessions); its browser must sign in again", NULL,
      "Session", r_db_read, 0, "session.revoke"),
    R(HTTP_GET, "/api/audit", ROLE_ADMIN, api_audit_list, "auth",
      "The audit trail, newest first (query: user, action (exact, or a prefix ending in '.'), "
      "since, until (RFC 3339), limit 1..1000, default 100)",
      NULL, "AuditList", r_hist, 0, NULL),
    R(HTTP_GET, "/api/models/test", ROLE_OPERATOR, api_models_test, "models",
      "Builds one of each model, validates it, stores it in Redis, reads it back and compares",
      NULL, "ModelTest", r_store, 0, NULL),
    R(HTTP_GET, "/api/databases", ROLE_VIEWER, api_databases_list, "databases",
      "Registered databases with their health, from memory: all, or a page (limit, offset) of "
      "those matching tag, name (part of id or name), server (host:port), health; and the "
      "connections this instance holds",
      NULL, "DatabaseList", r_hist, 0, NULL),
    R(HTTP_POST, "/api/databases", ROLE_ADMIN, api_databases_create, "databases",
      "Register a database (a password given here is kept in Secrets Manager, not in Redis)",
      "DatabaseConfig", "DatabaseWithHealth", r_db_write, 201, "database.create"),
    R(HTTP_GET, "/api/databases/test", ROLE_OPERATOR, api_databases_test_all, "databases",
      "Connect to every database now and report each", NULL, "DatabaseTestAll", r_db_read, 0, NULL),
    R(HTTP_GET, "/api/databases/{id}", ROLE_VIEWER, api_databases_get, "databases",
      "One database with its health", NULL, "DatabaseWithHealth", r_db_read, 0, NULL),
    R(HTTP_PUT, "/api/databases/{id}", ROLE_ADMIN, api_databases_update, "databases",
      "Replace a database's configuration (omit the password to keep the stored one)",
      "DatabaseConfig", "DatabaseWithHealth", r_db_write, 0, "database.update"),
    R(HTTP_DELETE, "/api/databases/{id}", ROLE_ADMIN, api_databases_delete, "databases",
      "Remove a database (and the password secret pgfleet made for it)", NULL, NULL, r_db_read, 0,
      "database.delete"),
    R(HTTP_POST, "/api/databases/{id}/test", ROLE_OPERATOR, api_databases_test_one, "databases",
      "Connect now: server version, in_recovery, system identifier, wal_level, round trip, or "
      "the first error with a hint",
      NULL, "DatabaseTest", r_db_read, 0, "database.test"),
    R(HTTP_GET, "/api/replication/discover", ROLE_VIEWER, api_replication_discover, "replication",
      "The replication topology of every registered database's server (from the collector's "
      "last snapshot); node=host:port keeps one server's, limit and offset slice the edges "
      "and slots",
      NULL, "Topology", r_page, 0, NULL),
    R(HTTP_GET, "/api/replication/status", ROLE_VIEWER, api_replication_status, "replication",
      "Per-edge and per-slot metrics with the time they were collected; an edge whose lag is "
      "unknown now carries its last known value and that value's age; node, limit and offset "
      "as for the topology",
      NULL, NULL, r_page, 0, NULL),
    R(HTTP_GET, "/api/replication/history", ROLE_VIEWER, api_replication_history, "replication",
      "Lag and retained WAL samples at the collector's interval, oldest first (query: "
      "minutes=1..60, default 60), kept in Redis",
      NULL, NULL, r_hist, 0, NULL),
    R(HTTP_GET, "/api/replication/events", ROLE_VIEWER, api_replication_events, "replication",
      "Replication events classified from PostgreSQL logs (files and RDS), newest first; query: "
      "limit (1..1000, default 100), node, database_id, severity",
      NULL, NULL, r_hist, 0, NULL),
    R(HTTP_GET, "/metrics", ROLE_VIEWER, api_metrics, "replication",
      "Prometheus metrics: lag bytes and seconds per edge, slot retained WAL, node up, collector "
      "duration (send the API key as a bearer token)",
      NULL, NULL, r_auth, 0, NULL),
    R(HTTP_POST, "/api/replication/validate", ROLE_OPERATOR, api_streams_validate, "streams",
      "Pre-flight checks for a logical replication stream (body: source_database_id, "
      "target_database_id, tables or all_tables, publication, subscription, slot, options): one "
      "entry per check, ok / warning / error, with a message and a hint",
      "StreamRequest", "PreflightResult", r_db_write, 0, NULL),
    R(HTTP_POST, "/api/replication/create", ROLE_OPERATOR, api_streams_create, "streams",
      "Create a stream: the checks (errors refuse it; warnings need force), then the publication "
      "and slot on the source and the subscription on the target; 202, initial copy progress on "
      "topic stream:<id>. With the id of an interrupted create, finishes it",
      "StreamRequest", NULL, r_db_write, 202, "stream.create"),
    R(HTTP_GET, "/api/replication/streams", ROLE_VIEWER, api_streams_list, "streams",
      "Streams pgfleet created (with live state) and the logical streams it discovered", NULL, NULL,
      r_db_read, 0, NULL),
    R(HTTP_GET, "/api/replication/streams/{id}", ROLE_VIEWER, api_streams_get, "streams",
      "One stream", NULL, NULL, r_db_read, 0, NULL),
    R(HTTP_POST, "/api/replication/streams/{id}/pause", ROLE_OPERATOR, api_streams_pause, "streams",
      "Disable the subscription (apply stops; the slot keeps the changes)", NULL, NULL, r_db_write,
      0, "stream.pause"),
    R(HTTP_POST, "/api/replication/streams/{id}/resume", ROLE_OPERATOR, api_streams_resume,
      "streams", "Enable the subscription again", NULL, NULL, r_db_write, 0, "stream.resume"),
    R(HTTP_POST, "/api/replication/streams/{id}/refresh", ROLE_OPERATOR, api_streams_refresh,
      "streams", "ALTER SUBSCRIPTION ... REFRESH PUBLICATION (after tables were added)", NULL, NULL,
      r_db_write, 0, "stream.refresh"),
    R(HTTP_POST, "/api/replication/streams/{id}/tables", ROLE_OPERATOR, api_streams_tables,
      "streams", "Add or remove tables ({add: [...], remove: [...]}), then refresh", NULL, NULL,
      r_db_write, 0, "stream.tables"),
    R(HTTP_DELETE, "/api/replication/streams/{id}", ROLE_OPERATOR, api_streams_drop, "streams",
      "Drop the subscription, the slot on the source, and the publication if pgfleet created it "
      "(force=true in the body: go on when the target cannot be reached)",
      NULL, NULL, r_db_write, 0, "stream.drop"),
    R(HTTP_POST, "/api/migrations/execute", ROLE_OPERATOR, api_migrations_execute, "migrations",
      "Run a SQL migration on registered databases (body: name, sql, database_ids, dry_run, "
      "atomic, continue_on_error, non_transactional, parallel, lock_timeout_ms, "
      "statement_timeout_ms); answers 202 with the execution id at once, progress on WebSocket "
      "topic migration:<id>",
      "MigrationRequest", NULL, r_db_write, 202, "migration.execute"),
    R(HTTP_GET, "/api/migrations", ROLE_VIEWER, api_migrations_list, "migrations",
      "Every migration execution, newest first, with per-target status", NULL, NULL, r_db_read, 0,
      NULL),
    R(HTTP_GET, "/api/migrations/{id}", ROLE_VIEWER, api_migrations_get, "migrations",
      "One migration execution", NULL, NULL, r_db_read, 0, NULL),
    R(HTTP_POST, "/api/migrations/{id}/cancel", ROLE_OPERATOR, api_migrations_cancel, "migrations",
      "Cancel a running execution: running statements are cancelled, those "
      "targets roll back, targets not started are skipped",
      NULL, NULL, r_db_write, 202, "migration.cancel"),
    R(HTTP_GET, "/api/alerts", ROLE_VIEWER, api_alerts_active, "alerts",
      "Pending and firing alerts, each with its labels, value, threshold, since, guidance, "
      "acknowledgement and silence",
      NULL, "AlertList", r_auth, 0, NULL),
    R(HTTP_GET, "/api/alerts/history", ROLE_VIEWER, api_alerts_history, "alerts",
      "Transitions (firing, resolved), newest first (query: rule, state, severity, since, "
      "until, limit 1..1000)",
      NULL, "AlertHistory", r_hist, 0, NULL),
    R(HTTP_POST, "/api/alerts/{id}/ack", ROLE_OPERATOR, api_alerts_ack, "alerts",
      "Acknowledge an alert: it stops being notified again until it resolves", NULL, NULL,
      r_db_read, 0, "alert.ack"),
    R(HTTP_GET, "/api/alerts/deliveries", ROLE_VIEWER, api_alerts_deliveries, "alerts",
      "The last notifications sent, each attempt with its status (query: limit)", NULL,
      "DeliveryList", r_store, 0, NULL),
    R(HTTP_GET, "/api/alerts/rules", ROLE_VIEWER, api_alert_rules_list, "alerts",
      "Every rule (built-in ones included)", NULL, "AlertRuleList", r_auth, 0, NULL),
    R(HTTP_POST, "/api/alerts/rules", ROLE_ADMIN, api_alert_rules_create, "alerts",
      "Add a rule (validated; its channels must exist)", "AlertRule", "AlertRule", r_db_write, 201,
      "alert.rule.create"),
    R(HTTP_PUT, "/api/alerts/rules/{id}", ROLE_ADMIN, api_alert_rules_update, "alerts",
      "Replace a rule (a built-in one too: change its threshold, or set enabled false)",
      "AlertRule", "AlertRule", r_db_write, 0, "alert.rule.update"),
    R(HTTP_DELETE, "/api/alerts/rules/{id}", ROLE_ADMIN, api_alert_rules_delete, "alerts",
      "Remove a rule", NULL, NULL, r_db_read, 0, "alert.rule.delete"),
    R(HTTP_GET, "/api/alerts/channels", ROLE_VIEWER, api_alert_channels_list, "alerts",
      "Every channel (secrets never shown: has_secret says one is kept)", NULL, "AlertChannelList",
      r_auth, 0, NULL),
    R(HTTP_POST, "/api/alerts/channels", ROLE_ADMIN, api_alert_channels_create, "alerts",
      "Add a channel: sns (topic_arn), webhook (url, secret: HMAC key), slack (secret: the "
      "incoming webhook URL), pagerduty (secret: the routing key), alertmanager (url); the "
      "secret goes to Secrets Manager",
      "AlertChannel", "AlertChannel", r_db_write, 201, "alert.channel.create"),
    R(HTTP_PUT, "/api/alerts/channels/{id}", ROLE_ADMIN, api_alert_channels_update, "alerts",
      "Replace a channel (its secret is kept unless a new one is sent)", "AlertChannel",
      "AlertChannel", r_db_write, 0, "alert.channel.update"),
    R(HTTP_DELETE, "/api/alerts/channels/{id}", ROLE_ADMIN, api_alert_channels_delete, "alerts",
      "Remove a channel (and its secret); 409 while a rule names it", NULL, NULL, r_db_write, 0,
      "alert.channel.delete"),
    R(HTTP_POST, "/api/alerts/channels/{id}/test", ROLE_ADMIN, api_alert_channels_test, "alerts",
      "Send a test notification; answers the delivery after its first attempt", NULL, "Delivery",
      r_db_write, 0, "alert.channel.test"),
    R(HTTP_GET, "/api/alerts/silences", ROLE_VIEWER, api_alert_silences_list, "alerts",
      "Silences, with whether each is still in force", NULL, "SilenceList", r_auth, 0, NULL),
    R(HTTP_POST, "/api/alerts/silences", ROLE_OPERATOR, api_alert_silences_create, "alerts",
      "Silence the alerts whose labels (plus rule and severity) match, for a duration "
      "({\"match\": {...}, \"for\": \"2h\", \"comment\"})",
      "Silence", "Silence", r_db_write, 201, "alert.silence.create"),
    R(HTTP_DELETE, "/api/alerts/silences/{id}", ROLE_OPERATOR, api_alert_silences_delete, "alerts",
      "End a silence", NULL, NULL, r_db_read, 0, "alert.silence.delete"),
    R(HTTP_GET, "/api/aws/test", ROLE_OPERATOR, api_aws_test, "aws",
      "Live AWS check: credential source, region, endpoints, and a call to Secrets Manager, "
      "RDS and ElastiCache each",
      NULL, "AwsCheck", r_aws, 0, NULL),
    R(HTTP_POST, "/api/models/{kind}/validate", ROLE_VIEWER, api_models_validate, "models",
      "Validates a model (kind: database, stream, migration) and returns it normalized; changes "
      "nothing",
      "AnyModel", "ValidationResult", r_validate, 0, NULL),
};

const Route *api_routes(size_t *count)
{
    *count = sizeof routes / sizeof routes[0];
    return routes;
}

double api_uptime_seconds(const Services *s)
{
    return (double)(uv_hrtime() - s->started_ns) / 1e9;
}

typedef struct Pending {
    HttpRequest *req;
    unsigned status;
} Pending;

void *api_pending(HttpRequest *req, unsigned status)
{
    Pending *p = xmalloc(sizeof *p);
    p->req = req;
    p->status = status;
    http_request_hold(req);
    return p;
}

void api_respond_failure(HttpRequest *req, const Failure *f)
{
    json_t *extra = f->detail ? json_deep_copy(f->detail) : NULL;
    const char *hint = f->hint[0] ? f->hint : NULL;
    if (extra)
        http_respond_error_extra(req, f->code, extra, hint, "%s", f->message);
    else
        http_respond_error(req, f->code, hint, "%s", f->message);
}

void api_done(void *ud, json_t *result, const Failure *f)
{
    Pending *p = ud;
    if (f)
        api_respond_failure(p->req, f);
    else
        http_respond_json(p->req, p->status, result);
    http_request_release(p->req);
    free(p);
}

void api_respond_validation(HttpRequest *req, const Validation *v)
{
    Failure f = {0};
    validation_to_failure(v, &f);
    api_respond_failure(req, &f);
    failure_clear(&f);
}

bool api_int_param(HttpRequest *req, const char *name, long min, long max, long *out)
{
    const char *buf = http_query_value(req, name);
    if (!buf)
        return true;
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end || !*buf || v < min || v > max) {
        http_respond_error(req, PGF_ERR_VALIDATION, NULL,
                           "%s: '%.40s' is not a number from %ld to %ld", name, buf, min, max);
        return false;
    }
    *out = v;
    return true;
}
