#include "model/database.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

const char *const cred_source_names[] = {"password", "secretsmanager", "rds_iam", "env", NULL};
const char *const sslmode_names[] = {"disable",   "allow",       "prefer", "require",
                                     "verify-ca", "verify-full", NULL};

static const char *const database_fields[] = {
    "schema_version", "id",   "name", "host", "port",       "dbname",     "user", "sslmode",
    "credentials",    "tags", "aws",  "logs", "created_at", "updated_at", NULL};
static const char *const cred_fields[] = {"source",    "password", "password_set",
                                          "secret_id", "env",      NULL};
static const char *const aws_fields[] = {"region", "rds_instance_id", NULL};
static const char *const logs_fields[] = {"file", "format", "rds", NULL};
const char *const log_format_names[] = {"auto", "stderr", "csv", "json", NULL};

static void credentials_from_json(CredentialRef *c, const json_t *obj, Validation *v)
{
    const char *p = "credentials";
    int src = 0;
    if (!v_enum(v, obj, p, "source", true, cred_source_names, &src))
        return;
    c->source = (CredSource)src;
    v_no_unknown(v, obj, p, cred_fields);

    bool want_password = c->source == CRED_PASSWORD;
    bool want_secret = c->source == CRED_SECRETSMANAGER;
    bool want_env = c->source == CRED_ENV;
    if (json_object_get(obj, "password") && !want_password)
        validation_add(v, p, "password", "unknown_field",
                       "is only allowed with source \"password\"");
    if (json_object_get(obj, "secret_id") && !want_secret && !want_password)
        validation_add(v, p, "secret_id", "unknown_field",
                       "is only allowed with source \"secretsmanager\"");
    if (json_object_get(obj, "env") && !want_env)
        validation_add(v, p, "env", "unknown_field", "is only allowed with source \"env\"");

    if (want_password) {
        /* a stored record carries password_set instead of the password */
        bool set = false;
        v_bool(v, obj, p, "password_set", false, &set);
        bool have = v_string(v, obj, p, "password", !set, STR_ANY, 1, 1024, &c->password);
        c->password_set = set || have;
        /* where pgfleet keeps the password (set by pgfleet, not by users) */
        v_string(v, obj, p, "secret_id", false, STR_ANY, 1, 2048, &c->secret_id);
    }
    if (want_secret)
        v_string(v, obj, p, "secret_id", true, STR_ANY, 1, 2048, &c->secret_id);
    if (want_env)
        v_string(v, obj, p, "env", true, STR_ENV_NAME, 1, 255, &c->env);
}

bool database_from_json(DatabaseConfig *db, const json_t *obj, Validation *v)
{
    memset(db, 0, sizeof *db);
    db->port = 5432;
    db->sslmode = SSL_PREFER;
    if (!v_model_header(v, obj, DATABASE_SCHEMA_VERSION, database_fields, "id", "db", &db->id))
        return false;
    v_string(v, obj, NULL, "name", true, STR_ANY, 1, 100, &db->name);
    v_string(v, obj, NULL, "host", true, STR_HOST, 1, 253, &db->host);
    v_int(v, obj, NULL, "port", false, 1, 65535, &db->port);
    v_string(v, obj, NULL, "dbname", true, STR_PG_NAME, 1, 63, &db->dbname);
    v_string(v, obj, NULL, "user", true, STR_PG_NAME, 1, 63, &db->user);
    int mode = (int)db->sslmode;
    if (v_enum(v, obj, NULL, "sslmode", false, sslmode_names, &mode))
        db->sslmode = (SslMode)mode;

    const json_t *cred = v_object(v, obj, NULL, "credentials", true);
    if (cred)
        credentials_from_json(&db->credentials, cred, v);
    if (cred && db->credentials.source == CRED_RDS_IAM && db->sslmode < SSL_REQUIRE)
        validation_add(v, NULL, "sslmode", "requires_tls",
                       "must be require, verify-ca or verify-full with source \"rds_iam\" "
                       "(RDS refuses IAM tokens without TLS)");

    v_string_array(v, obj, NULL, "tags", false, STR_ANY, 64, 32, &db->tags, &db->ntags);

    const json_t *aws = v_object(v, obj, NULL, "aws", false);
    if (aws) {
        v_no_unknown(v, aws, "aws", aws_fields);
        v_string(v, aws, "aws", "region", false, STR_IDENT, 1, 32, &db->aws_region);
        v_string(v, aws, "aws", "rds_instance_id", false, STR_IDENT, 1, 63,
                 &db->aws_rds_instance_id);
    }

    const json_t *logs = v_object(v, obj, NULL, "logs", false);
    if (logs) {
        v_no_unknown(v, logs, "logs", logs_fields);
        if (v_string(v, logs, "logs", "file", false, STR_ANY, 1, 4096, &db->log_file) &&
            db->log_file[0] != '/')
            validation_add(v, "logs", "file", "absolute_path",
                           "must be an absolute path (the daemon's working directory is not "
                           "yours)");
        int f = 0;
        if (v_enum(v, logs, "logs", "format", false, log_format_names, &f))
            db->log_format = f;
        v_bool(v, logs, "logs", "rds", false, &db->log_rds);
        if (db->log_rds && !db->aws_rds_instance_id)
            validation_add(v, "logs", "rds", "requires_rds_instance",
                           "needs aws.rds_instance_id: the RDS instance whose logs to read");
    }

    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    if (!v_string(v, obj, NULL, "created_at", false, STR_TIMESTAMP, 1, 40, &db->created_at))
        db->created_at = db->created_at ? db->created_at : xstrdup(now);
    if (!v_string(v, obj, NULL, "updated_at", false, STR_TIMESTAMP, 1, 40, &db->updated_at))
        db->updated_at = db->updated_at ? db->updated_at : xstrdup(now);
    return validation_ok(v);
}

json_t *database_to_json(const DatabaseConfig *db)
{
    json_t *cred = json_pack("{s:s}", "source", cred_source_names[db->credentials.source]);
    switch (db->credentials.source) {
    case CRED_PASSWORD:
        json_object_set_new(cred, "password_set", json_boolean(db->credentials.password_set));
        if (db->credentials.secret_id)
            json_object_set_new(cred, "secret_id", json_string(db->credentials.secret_id));
        break;
    case CRED_SECRETSMANAGER:
        json_object_set_new(cred, "secret_id", json_string(db->credentials.secret_id));
        break;
    case CRED_ENV:
        json_object_set_new(cred, "env", json_string(db->credentials.env));
        break;
    case CRED_RDS_IAM:
        break;
    }
    json_t *tags = json_array();
    for (size_t i = 0; i < db->ntags; i++)
        json_array_append_new(tags, json_string(db->tags[i]));

    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o}", "schema_version",
                          DATABASE_SCHEMA_VERSION, "id", db->id, "name", db->name, "host", db->host,
                          "port", (json_int_t)db->port, "dbname", db->dbname, "user", db->user,
                          "sslmode", sslmode_names[db->sslmode], "credentials", cred, "tags", tags);
    if (db->aws_region || db->aws_rds_instance_id) {
        json_t *aws = json_object();
        if (db->aws_region)
            json_object_set_new(aws, "region", json_string(db->aws_region));
        if (db->aws_rds_instance_id)
            json_object_set_new(aws, "rds_instance_id", json_string(db->aws_rds_instance_id));
        json_object_set_new(o, "aws", aws);
    }
    if (db->log_file || db->log_rds) {
        json_t *logs =
            json_pack("{s:s, s:b}", "format", log_format_names[db->log_format], "rds", db->log_rds);
        if (db->log_file)
            json_object_set_new(logs, "file", json_string(db->log_file));
        json_object_set_new(o, "logs", logs);
    }
    json_object_set_new(o, "created_at", json_string(db->created_at));
    json_object_set_new(o, "updated_at", json_string(db->updated_at));
    return o;
}

void database_free(DatabaseConfig *db)
{
    free(db->id);
    free(db->name);
    free(db->host);
    free(db->dbname);
    free(db->user);
    if (db->credentials.password) {
        sodium_memzero(db->credentials.password, strlen(db->credentials.password));
        free(db->credentials.password);
    }
    free(db->credentials.secret_id);
    free(db->credentials.env);
    string_array_free(db->tags, db->ntags);
    free(db->aws_region);
    free(db->aws_rds_instance_id);
    free(db->log_file);
    free(db->created_at);
    free(db->updated_at);
    memset(db, 0, sizeof *db);
}
