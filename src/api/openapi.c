/*
 * openapi: GET /api/openapi.json, generated from the route table so that it
 * cannot drift from what the server routes.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "common/jsonutil.h"
#include "pgfleet_version.h"

/* component schemas, as JSON Schema text (OpenAPI 3.0 dialect) */
static const char components_json[] =
    "{"
    "\"Error\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{"
    "\"type\":\"object\",\"required\":[\"code\",\"message\",\"hint\"],\"properties\":{"
    "\"code\":{\"type\":\"string\",\"example\":\"validation_failed\"},"
    "\"message\":{\"type\":\"string\"},\"hint\":{\"type\":\"string\",\"nullable\":true},"
    "\"request_id\":{\"type\":\"string\"},"
    "\"fields\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/FieldError\"}}}}}},"
    "\"FieldError\":{\"type\":\"object\",\"properties\":{\"field\":{\"type\":\"string\"},"
    "\"rule\":{\"type\":\"string\",\"description\":\"a stable word: required, type, "
    "min_length, max_length, pattern, range, enum, unknown_field, distinct, not_found, "
    "not_allowed, ...\"},\"message\":{\"type\":\"string\"}}},"
    "\"Health\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},"
    "\"version\":{\"type\":\"string\"},\"uptime_seconds\":{\"type\":\"number\"}}},"
    "\"Cluster\":{\"type\":\"object\",\"required\":[\"instance\",\"instances\"],"
    "\"properties\":{\"instance\":{\"type\":\"string\"},\"leader\":{\"type\":\"string\","
    "\"nullable\":true},\"shards\":{\"type\":\"integer\"},\"lease_ms\":{\"type\":"
    "\"integer\"},\"settled\":{\"type\":\"boolean\"},\"instances\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\",\"required\":[\"id\",\"leader\",\"shards\"],"
    "\"properties\":{\"id\":{\"type\":\"string\"},\"version\":{\"type\":\"string\"},"
    "\"started_at\":{\"type\":\"string\"},\"host\":{\"type\":\"string\"},\"listen\":{"
    "\"type\":\"string\"},\"pid\":{\"type\":\"integer\"},\"leader\":{\"type\":"
    "\"boolean\"},\"shards\":{\"type\":\"integer\"},\"databases\":{\"type\":"
    "\"integer\"},\"connections\":{\"type\":\"object\"},\"self\":{\"type\":\"boolean\"}}}}}},"
    "\"Ready\":{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},"
    "\"checks\":{\"type\":\"object\"}}},"
    "\"AuthStatus\":{\"type\":\"object\",\"properties\":{\"authenticated\":{\"type\":\"boolean\"},"
    "\"user\":{\"type\":\"string\"},"
    "\"role\":{\"type\":\"string\",\"enum\":[\"none\",\"viewer\",\"operator\",\"admin\"]},"
    "\"method\":{\"type\":\"string\",\"description\":\"none, api_key, password\"},"
    "\"session\":{\"type\":\"object\",\"nullable\":true,\"properties\":{\"id\":{\"type\":"
    "\"string\"},\"expires_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"idle_timeout_seconds\":{\"type\":\"number\"}}},"
    "\"csrf\":{\"type\":\"string\",\"nullable\":true,\"description\":\"send as X-CSRF-Token "
    "with state changes of a cookie session\"},"
    "\"methods_configured\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}},"
    "\"AuthMethods\":{\"type\":\"object\",\"properties\":{\"open\":{\"type\":\"boolean\","
    "\"description\":\"no method configured: every caller is admin (loopback only)\"},"
    "\"methods\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"id\":{"
    "\"type\":\"string\"},\"label\":{\"type\":\"string\"}}}}}},"
    "\"LoginRequest\":{\"type\":\"object\",\"required\":[\"method\"],\"properties\":{"
    "\"method\":{\"type\":\"string\",\"enum\":[\"password\",\"api_key\"]},"
    "\"username\":{\"type\":\"string\",\"maxLength\":128},"
    "\"password\":{\"type\":\"string\",\"writeOnly\":true,\"maxLength\":1024},"
    "\"key\":{\"type\":\"string\",\"writeOnly\":true,\"maxLength\":1024}}},"
    "\"AlertRule\":{\"type\":\"object\",\"required\":[\"name\",\"kind\"],\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\",\"enum\":["
    "\"replication_lag\",\"edge_down\",\"slot_retention\",\"slot_forecast\","
    "\"database_down\",\"log_events\",\"migration_failed\",\"stream_error\","
    "\"collector_stale\"]},\"severity\":{\"type\":\"string\",\"enum\":[\"info\","
    "\"warning\",\"critical\"]},\"for\":{\"type\":\"string\",\"example\":\"2m\"},"
    "\"resolve_after\":{\"type\":\"string\"},\"window\":{\"type\":\"string\"},"
    "\"inactive_for\":{\"type\":\"string\"},\"forecast_hours\":{\"type\":\"number\"},"
    "\"threshold_bytes\":{\"type\":\"integer\"},\"threshold_seconds\":{\"type\":"
    "\"integer\"},\"threshold_count\":{\"type\":\"integer\"},\"channels\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}},\"match\":{\"type\":\"object\"},"
    "\"group_by\":{\"type\":\"string\"},\"enabled\":{\"type\":\"boolean\"},"
    "\"builtin\":{\"type\":\"boolean\",\"readOnly\":true}}},"
    "\"AlertRuleList\":{\"type\":\"object\",\"properties\":{\"rules\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/AlertRule\"}}}},"
    "\"AlertChannel\":{\"type\":\"object\",\"required\":[\"name\",\"type\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"type\":{\"type\":\"string\","
    "\"enum\":[\"sns\",\"webhook\",\"slack\",\"pagerduty\",\"alertmanager\"]},"
    "\"url\":{\"type\":\"string\"},\"topic_arn\":{\"type\":\"string\"},\"secret\":{"
    "\"type\":\"string\",\"writeOnly\":true},\"has_secret\":{\"type\":\"boolean\","
    "\"readOnly\":true},\"min_severity\":{\"type\":\"string\"},\"match\":{\"type\":"
    "\"object\"}}},"
    "\"AlertChannelList\":{\"type\":\"object\",\"properties\":{\"channels\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/AlertChannel\"}}}},"
    "\"Silence\":{\"type\":\"object\",\"required\":[\"match\"],\"properties\":{"
    "\"id\":{\"type\":\"string\",\"readOnly\":true},\"match\":{\"type\":\"object\"},"
    "\"for\":{\"type\":\"string\"},\"until\":{\"type\":\"number\"},\"comment\":{"
    "\"type\":\"string\"},\"created_by\":{\"type\":\"string\",\"readOnly\":true},"
    "\"active\":{\"type\":\"boolean\",\"readOnly\":true}}},"
    "\"SilenceList\":{\"type\":\"object\",\"properties\":{\"silences\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/Silence\"}}}},"
    "\"AlertList\":{\"type\":\"object\",\"properties\":{\"count\":{\"type\":"
    "\"integer\"},\"alerts\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"properties\":{\"id\":{\"type\":\"string\"},\"rule\":{\"type\":\"string\"},"
    "\"state\":{\"type\":\"string\",\"enum\":[\"pending\",\"firing\",\"resolved\"]},"
    "\"labels\":{\"type\":\"object\"},\"since\":{\"type\":\"number\"},\"guidance\":{"
    "\"type\":\"object\"}}}}}},"
    "\"AlertHistory\":{\"type\":\"object\",\"properties\":{\"transitions\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\"}},\"scanned\":{\"type\":\"integer\"},"
    "\"complete\":{\"type\":\"boolean\"}}},"
    "\"Delivery\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"channel\":{\"type\":\"string\"},\"type\":{\"type\":\"string\"},\"status\":{"
    "\"type\":\"string\",\"enum\":[\"pending\",\"delivered\",\"failed\"]},"
    "\"attempts\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}}},"
    "\"DeliveryList\":{\"type\":\"object\",\"properties\":{\"deliveries\":{\"type\":"
    "\"array\",\"items\":{\"$ref\":\"#/components/schemas/Delivery\"}}}},"
    "\"SamlPost\":{\"type\":\"object\",\"required\":[\"SAMLResponse\"],\"properties\":{"
    "\"SAMLResponse\":{\"type\":\"string\",\"description\":\"base64 of the signed Response\"},"
    "\"RelayState\":{\"type\":\"string\"}}},"
    "\"LogoutResult\":{\"type\":\"object\",\"properties\":{\"ended\":{\"type\":\"boolean\"}}},"
    "\"Session\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"user\":{\"type\":\"string\"},\"role\":{\"type\":\"string\"},\"method\":{\"type\":"
    "\"string\"},\"address\":{\"type\":\"string\"},\"created_at\":{\"type\":\"string\"},"
    "\"last_seen\":{\"type\":\"string\"},\"expires_at\":{\"type\":\"string\"}}},"
    "\"SessionList\":{\"type\":\"object\",\"properties\":{\"sessions\":{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/Session\"}}}},"
    "\"AuditList\":{\"type\":\"object\",\"properties\":{\"complete\":{\"type\":\"boolean\"},"
    "\"scanned\":{\"type\":\"integer\"},\"entries\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"properties\":{\"ts\":{\"type\":\"string\"},"
    "\"user\":{\"type\":\"string\"},\"method\":{\"type\":\"string\"},\"role\":{\"type\":"
    "\"string\"},\"address\":{\"type\":\"string\"},\"action\":{\"type\":\"string\"},"
    "\"target\":{\"type\":\"string\",\"nullable\":true},\"result\":{\"type\":\"string\","
    "\"enum\":[\"ok\",\"denied\",\"failed\",\"locked\",\"unanswered\"]},\"status\":{\"type\":"
    "\"integer\"},\"request_id\":{\"type\":\"string\"},\"detail\":{\"type\":\"object\"}}}}}},"
    "\"CredentialRef\":{\"type\":\"object\",\"required\":[\"source\"],\"properties\":{"
    "\"source\":{\"type\":\"string\",\"enum\":[\"password\",\"secretsmanager\",\"rds_iam\",\"env\"]"
    "},"
    "\"password\":{\"type\":\"string\",\"writeOnly\":true,\"maxLength\":1024},"
    "\"password_set\":{\"type\":\"boolean\",\"readOnly\":true},"
    "\"secret_id\":{\"type\":\"string\",\"maxLength\":2048},"
    "\"env\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z_][A-Za-z0-9_]*$\"}}},"
    "\"DatabaseConfig\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"name\",\"host\",\"dbname\",\"user\",\"credentials\"],\"properties\":{"
    "\"schema_version\":{\"type\":\"integer\"},\"id\":{\"type\":\"string\",\"maxLength\":64},"
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},"
    "\"host\":{\"type\":\"string\",\"maxLength\":253},"
    "\"port\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535,\"default\":5432},"
    "\"dbname\":{\"type\":\"string\",\"maxLength\":63},\"user\":{\"type\":\"string\",\"maxLength\":"
    "63},"
    "\"sslmode\":{\"type\":\"string\",\"enum\":[\"disable\",\"allow\",\"prefer\",\"require\","
    "\"verify-ca\",\"verify-full\"],\"default\":\"prefer\"},"
    "\"credentials\":{\"$ref\":\"#/components/schemas/CredentialRef\"},"
    "\"tags\":{\"type\":\"array\",\"maxItems\":32,\"items\":{\"type\":\"string\",\"maxLength\":64}}"
    ","
    "\"aws\":{\"type\":\"object\",\"properties\":{\"region\":{\"type\":\"string\"},"
    "\"rds_instance_id\":{\"type\":\"string\"}}},"
    "\"logs\":{\"type\":\"object\",\"description\":\"Where replication errors are read "
    "from: a PostgreSQL log file the daemon can read (followed across rotation), and/or the RDS "
    "instance's logs\",\"properties\":{\"file\":{\"type\":\"string\"},\"format\":{\"type\":"
    "\"string\",\"enum\":[\"auto\",\"stderr\",\"csv\",\"json\"],\"default\":\"auto\"},"
    "\"rds\":{\"type\":\"boolean\",\"default\":false}}},"
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"}}},"
    "\"ReplicationStream\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"source_database_id\",\"target_database_id\"],\"properties\":{"
    "\"schema_version\":{\"type\":\"integer\"},\"id\":{\"type\":\"string\"},"
    "\"kind\":{\"type\":\"string\",\"enum\":[\"logical\",\"physical\"],\"default\":\"logical\"},"
    "\"source_database_id\":{\"type\":\"string\"},\"target_database_id\":{\"type\":\"string\"},"
    "\"publication\":{\"type\":\"string\",\"nullable\":true},"
    "\"subscription\":{\"type\":\"string\",\"nullable\":true},"
    "\"slot\":{\"type\":\"string\",\"nullable\":true,\"pattern\":\"^[a-z0-9_]+$\"},"
    "\"tables\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"all_tables\":{\"type\":\"boolean\"},\"options\":{\"type\":\"object\"},"
    "\"publication_created\":{\"type\":\"boolean\"},\"slot_created\":{\"type\":\"boolean\"},"
    "\"step\":{\"type\":\"string\",\"enum\":[\"none\",\"publication\",\"slot\","
    "\"subscription\",\"created\",\"disable\",\"detach_slot\",\"drop_subscription\","
    "\"drop_slot\",\"drop_publication\",\"dropped\"]},"
    "\"state\":{\"type\":\"string\",\"enum\":[\"pending\",\"creating\",\"initializing\","
    "\"streaming\",\"paused\",\"error\",\"dropping\",\"dropped\"]},"
    "\"error\":{\"type\":\"string\",\"nullable\":true},"
    "\"sync\":{\"type\":\"object\"},\"checks\":{\"type\":\"array\"},"
    "\"created_by\":{\"type\":\"string\",\"nullable\":true},"
    "\"owner\":{\"type\":\"string\",\"readOnly\":true},"
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\"}}},"
    "\"MigrationTarget\":{\"type\":\"object\",\"required\":[\"target\"],\"properties\":{"
    "\"target\":{\"type\":\"string\"},\"status\":{\"type\":\"string\",\"enum\":[\"pending\","
    "\"running\",\"committed\",\"prepared\",\"failed\",\"rolled_back\",\"skipped\","
    "\"unknown\"]},"
    "\"statements_done\":{\"type\":\"integer\"},\"statements_total\":{\"type\":\"integer\"},"
    "\"duration_ms\":{\"type\":\"number\"},"
    "\"error\":{\"type\":\"string\",\"nullable\":true},"
    "\"note\":{\"type\":\"string\",\"nullable\":true}}},"
    "\"MigrationExecution\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"name\",\"checksum\",\"targets\"],\"properties\":{"
    "\"schema_version\":{\"type\":\"integer\"},\"execution_id\":{\"type\":\"string\"},"
    "\"name\":{\"type\":\"string\",\"maxLength\":200},"
    "\"checksum\":{\"type\":\"string\",\"pattern\":\"^[0-9a-f]{64}$\"},"
    "\"dry_run\":{\"type\":\"boolean\"},\"atomic\":{\"type\":\"boolean\"},"
    "\"continue_on_error\":{\"type\":\"boolean\"},\"non_transactional\":{\"type\":"
    "\"boolean\"},\"plan\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"recovered\":{\"type\":\"array\"},"
    "\"targets\":{\"type\":\"array\",\"minItems\":1,"
    "\"items\":{\"$ref\":\"#/components/schemas/MigrationTarget\"}},"
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"running\",\"succeeded\",\"failed\","
    "\"partial\",\"cancelled\",\"interrupted\"]},\"applied_by\":{\"type\":\"string\","
    "\"nullable\":true},\"owner\":{\"type\":\"string\",\"readOnly\":true},"
    "\"started_at\":{\"type\":\"string\",\"nullable\":true},"
    "\"finished_at\":{\"type\":\"string\",\"nullable\":true},"
    "\"error\":{\"type\":\"string\",\"nullable\":true}}},"
    "\"AnyModel\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/DatabaseConfig\"},"
    "{\"$ref\":\"#/components/schemas/ReplicationStream\"},"
    "{\"$ref\":\"#/components/schemas/MigrationExecution\"}]},"
    "\"ValidationResult\":{\"type\":\"object\",\"properties\":{\"valid\":{\"type\":\"boolean\"},"
    "\"kind\":{\"type\":\"string\"},\"model\":{\"$ref\":\"#/components/schemas/AnyModel\"}}},"
    "\"AwsCheck\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
    "\"region\":{\"type\":\"string\",\"nullable\":true},\"endpoints\":{\"type\":\"object\"},"
    "\"credentials\":{\"type\":\"object\",\"properties\":{\"source\":{\"type\":\"string\","
    "\"nullable\":true},\"access_key_id\":{\"type\":\"string\",\"nullable\":true,"
    "\"description\":\"masked\"}}},"
    "\"checks\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"service\":{\"type\":\"string\"},\"ok\":{\"type\":\"boolean\"},"
    "\"latency_ms\":{\"type\":\"number\"},\"attempts\":{\"type\":\"integer\"},"
    "\"summary\":{\"type\":\"string\"},\"error\":{\"type\":\"object\"}}}}}},"
    "\"DatabaseTest\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
    "\"database_id\":{\"type\":\"string\"},\"state\":{\"type\":\"string\",\"enum\":[\"ok\","
    "\"degraded\",\"unreachable\"]},\"latency_ms\":{\"type\":\"number\"},"
    "\"checked_at\":{\"type\":\"string\"},\"server\":{\"type\":\"object\",\"nullable\":true,"
    "\"properties\":{\"version\":{\"type\":\"string\"},\"in_recovery\":{\"type\":\"boolean\"},"
    "\"system_identifier\":{\"type\":\"string\"},\"wal_level\":{\"type\":\"string\"}}},"
    "\"error\":{\"type\":\"object\",\"nullable\":true,\"properties\":{\"kind\":{\"type\":"
    "\"string\"},\"message\":{\"type\":\"string\"},\"hint\":{\"type\":\"string\"}}}}},"
    "\"DatabaseTestAll\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
    "\"count\":{\"type\":\"integer\"},\"results\":{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/DatabaseTest\"}}}},"
    "\"DatabaseWithHealth\":{\"allOf\":[{\"$ref\":\"#/components/schemas/DatabaseConfig\"},"
    "{\"type\":\"object\",\"properties\":{\"health\":{\"type\":\"object\"}}}]},"
    "\"DatabaseList\":{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"},"
    "\"total\":{\"type\":\"integer\"},\"offset\":{\"type\":\"integer\"},\"next_offset\":{"
    "\"type\":\"integer\",\"nullable\":true},\"connections\":{\"type\":\"object\"},"
    "\"databases\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/"
    "DatabaseWithHealth\"}}}},"
    "\"Topology\":{\"type\":\"object\",\"properties\":{\"nodes\":{\"type\":\"array\","
    "\"items\":{\"type\":\"object\"}},\"edges\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\"}},\"slots\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"collected_at\":{\"type\":\"string\"},\"age_seconds\":{\"type\":\"number\"}}},"
    "\"ModelTest\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
    "\"store\":{\"type\":\"object\"},\"duration_ms\":{\"type\":\"number\"},"
    "\"models\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
    "\"validation_example\":{\"type\":\"object\"}}},"
    "\"StreamRequest\":{\"type\":\"object\",\"required\":[\"source_database_id\","
    "\"target_database_id\"],\"properties\":{\"id\":{\"type\":\"string\",\"description\":"
    "\"create only: the id of an interrupted create to finish\"},"
    "\"source_database_id\":{\"type\":\"string\"},\"target_database_id\":{\"type\":\"string\"},"
    "\"tables\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":"
    "\"schema.table (public when no schema)\"},\"all_tables\":{\"type\":\"boolean\"},"
    "\"publication\":{\"type\":\"string\"},\"subscription\":{\"type\":\"string\"},"
    "\"slot\":{\"type\":\"string\"},\"force\":{\"type\":\"boolean\",\"description\":"
    "\"create despite warnings\"},\"options\":{\"type\":\"object\",\"additionalProperties\":"
    "false,\"properties\":{\"copy_data\":{\"type\":\"boolean\",\"default\":true},"
    "\"create_slot\":{\"type\":\"boolean\",\"default\":true},\"streaming\":{\"type\":"
    "\"boolean\",\"default\":false},\"binary\":{\"type\":\"boolean\",\"default\":false}}}}},"
    "\"PreflightResult\":{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},"
    "\"errors\":{\"type\":\"integer\"},\"warnings\":{\"type\":\"integer\"},\"checks\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"check\":{\"type\":"
    "\"string\"},\"status\":{\"type\":\"string\",\"enum\":[\"ok\",\"warning\",\"error\"]},"
    "\"message\":{\"type\":\"string\"},\"hint\":{\"type\":[\"string\",\"null\"]}}}}}},"
    "\"MigrationRequest\":{\"type\":\"object\",\"required\":[\"name\",\"sql\","
    "\"database_ids\"],\"properties\":{\"name\":{\"type\":\"string\"},\"sql\":{\"type\":"
    "\"string\"},\"database_ids\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
    "\"maxItems\":256},\"dry_run\":{\"type\":\"boolean\"},\"atomic\":{\"type\":\"boolean\"},"
    "\"continue_on_error\":{\"type\":\"boolean\"},\"non_transactional\":{\"type\":"
    "\"boolean\"},\"parallel\":{\"type\":\"integer\",\"minimum\":1},\"lock_timeout_ms\":{"
    "\"type\":\"integer\",\"default\":5000},\"statement_timeout_ms\":{\"type\":\"integer\","
    "\"default\":300000}}}"
    "}";

static const char *status_text(const char *code)
{
    static const struct {
        const char *code, *text;
    } texts[] = {
        {"400", "Malformed request (bad JSON, unsupported body)"},
        {"401", "Authentication required or invalid"},
        {"403", "The caller's role does not allow this"},
        {"404", "No such resource"},
        {"413", "Request body too large"},
        {"415", "Request body is not JSON"},
        {"422", "Validation failed; error.fields names each field and rule"},
        {"429", "Too many failed sign-ins: wait Retry-After seconds"},
        {"503", "The state store (Redis) is unavailable, or pgfleet is shutting down"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(texts[i].code, code) == 0)
            return texts[i].text;
    return "Error";
}

static json_t *ref(const char *schema)
{
    char buf[128];
    snprintf(buf, sizeof buf, "#/components/schemas/%s", schema);
    return json_pack("{s:s}", "$ref", buf);
}

/* how a route's errors look: JSON, and for a browser's pages also an HTML page */
static json_t *error_content(const Route *r)
{
    json_t *c = json_pack("{s:{s:o}}", "application/json", "schema", ref("Error"));
    if (r->flags & ROUTE_PAGE)
        json_object_set_new(c, "text/html", json_pack("{s:{s:s}}", "schema", "type", "string"));
    return c;
}

static json_t *operation(const Route *r)
{
    json_t *op = json_pack("{s:s, s:[s]}", "summary", r->summary, "tags", r->tag);
    char opid[160];
    snprintf(opid, sizeof opid, "%s %s", http_method_name(r->method), r->pattern);
    json_object_set_new(op, "operationId", json_string(opid));
    json_object_set_new(op, "x-pgfleet-role", json_string(role_name(r->role)));
    if (r->action)
        json_object_set_new(op, "x-pgfleet-action", json_string(r->action));

    /* path parameters from "{name}" segments */
    json_t *params = json_array();
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        if (!close)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (size_t)(close - p - 1), "in", "path", "required",
                                                1, "schema", "type", "string"));
    }
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);

    if (r->request_schema)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                      (r->flags & ROUTE_CROSS_SITE_FORM)
                                          ? "application/x-www-form-urlencoded"
                                          : "application/json",
                                      "schema", ref(r->request_schema)));
    json_t *responses = json_object();
    json_t *ok = json_pack("{s:s}", "description",
                           (r->flags & ROUTE_PAGE) ? "A redirect (Location)" : "Success");
    if (r->response_schema)
        json_object_set_new(
            ok, "content",
            json_pack("{s:{s:o}}", "application/json", "schema", ref(r->response_schema)));
    else if (r->flags & ROUTE_XML)
        json_object_set_new(
            ok, "content",
            json_pack("{s:{s:{s:s}}}", "application/samlmetadata+xml", "schema", "type", "string"));
    char success[16];
    snprintf(success, sizeof success, "%u", r->success ? r->success : 200);
    json_object_set_new(responses, success, ok);
    for (const char *const *s = r->responses; s && *s; s++)
        json_object_set_new(
            responses, *s,
            json_pack("{s:s, s:o}", "description", status_text(*s), "content", error_content(r)));
    /* every other failure has the same shape: 405, 413, 415, 421, 503 while shutting down ... */
    json_object_set_new(responses, "default",
                        json_pack("{s:s, s:o}", "description",
                                  "Any other error, always {\"error\":{\"code\",\"message\","
                                  "\"hint\"}}",
                                  "content", error_content(r)));
    json_object_set_new(op, "responses", responses);
    if (r->role != ROLE_NONE)
        json_object_set_new(
            op, "security",
            json_pack("[{s:[]}, {s:[]}, {s:[]}]", "bearerAuth", "apiKeyHeader", "sessionCookie"));
    else
        json_object_set_new(op, "security", json_array());
    return op;
}

json_t *openapi_document(const Route *routes, size_t count)
{
    char err[160];
    json_t *schemas = jsonutil_parse(components_json, strlen(components_json), err, sizeof err);
    if (!schemas)
        schemas = json_pack("{s:s}", "x-error", err);
    json_t *paths = json_object();
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_object_get(paths, routes[i].pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, routes[i].pattern, item);
        }
        char method[16];
        snprintf(method, sizeof method, "%s", http_method_name(routes[i].method));
        for (char *c = method; *c; c++)
            *c = (char)(*c - 'A' + 'a');
        json_object_set_new(item, method, operation(&routes[i]));
    }
    return json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:o, s:{s:{s:s, s:s}, s:{s:s, s:s, s:s}, "
        "s:{s:s, s:s, s:s}}}}",
        "openapi", "3.0.3", "info", "title", "pgfleet", "version", PGFLEET_VERSION, "description",
        "Control plane for PostgreSQL replication. Errors are always "
        "{\"error\":{\"code\",\"message\",\"hint\"}}.",
        "paths", paths, "components", "schemas", schemas, "securitySchemes", "bearerAuth", "type",
        "http", "scheme", "bearer", "apiKeyHeader", "type", "apiKey", "in", "header", "name",
        "X-API-Key", "sessionCookie", "type", "apiKey", "in", "cookie", "name", "pgfleet_session");
}

void api_openapi(HttpRequest *req, void *app)
{
    (void)app;
    size_t n;
    const Route *routes = api_routes(&n);
    http_respond_json(req, 200, openapi_document(routes, n));
}
