#include "model/migration.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

const char *const migration_status_names[] = {"pending", "running",   "succeeded", "failed",
                                              "partial", "cancelled", NULL};
const char *const target_status_names[] = {"pending",     "running", "committed", "failed",
                                           "rolled_back", "skipped", NULL};

static const char *const migration_fields[] = {
    "schema_version", "id",         "name",        "checksum", "targets", "status",
    "applied_by",     "started_at", "finished_at", "error",    NULL};
static const char *const target_fields[] = {
    "database_id", "status",      "statements_done", "statements_total",
    "started_at",  "finished_at", "error",           NULL};

#define MIGRATION_MAX_TARGETS 10000

static void target_from_json(MigrationTarget *t, const json_t *obj, const char *prefix,
                             Validation *v)
{
    if (!json_is_object(obj)) {
        validation_add(v, NULL, prefix, "type", "must be an object");
        return;
    }
    v_no_unknown(v, obj, prefix, target_fields);
    v_string(v, obj, prefix, "database_id", true, STR_IDENT, 1, 64, &t->database_id);
    int st = TGT_PENDING;
    v_enum(v, obj, prefix, "status", false, target_status_names, &st);
    t->status = (TargetStatus)st;
    v_int(v, obj, prefix, "statements_done", false, 0, 1000000000, &t->statements_done);
    v_int(v, obj, prefix, "statements_total", false, 0, 1000000000, &t->statements_total);
    if (t->statements_done > t->statements_total && t->statements_total > 0)
        validation_add(v, prefix, "statements_done", "range", "must not exceed statements_total");
    v_string(v, obj, prefix, "started_at", false, STR_TIMESTAMP, 1, 40, &t->started_at);
    v_string(v, obj, prefix, "finished_at", false, STR_TIMESTAMP, 1, 40, &t->finished_at);
    v_string(v, obj, prefix, "error", false, STR_ANY, 0, 4096, &t->error);
}

bool migration_from_json(MigrationExecution *m, const json_t *obj, Validation *v)
{
    memset(m, 0, sizeof *m);
    if (!v_model_header(v, obj, MIGRATION_SCHEMA_VERSION, migration_fields, "mig", &m->id))
        return false;
    v_string(v, obj, NULL, "name", true, STR_ANY, 1, 200, &m->name);
    v_string(v, obj, NULL, "checksum", true, STR_HEX64, 64, 64, &m->checksum);

    const json_t *targets = json_object_get(obj, "targets");
    if (!targets || json_is_null(targets)) {
        validation_add(v, NULL, "targets", "required", "is required");
    } else if (!json_is_array(targets)) {
        validation_add(v, NULL, "targets", "type", "must be an array of target objects");
    } else if (json_array_size(targets) == 0) {
        validation_add(v, NULL, "targets", "min_items", "must name at least one target");
    } else if (json_array_size(targets) > MIGRATION_MAX_TARGETS) {
        validation_add(v, NULL, "targets", "max_items", "must have at most %d items",
                       MIGRATION_MAX_TARGETS);
    } else {
        m->ntargets = json_array_size(targets);
        m->targets = xcalloc(m->ntargets, sizeof *m->targets);
        for (size_t i = 0; i < m->ntargets; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "targets[%zu]", i);
            target_from_json(&m->targets[i], json_array_get(targets, i), prefix, v);
        }
        for (size_t i = 0; i < m->ntargets; i++) {
            for (size_t j = 0; j < i; j++) {
                if (m->targets[i].database_id && m->targets[j].database_id &&
                    strcmp(m->targets[i].database_id, m->targets[j].database_id) == 0) {
                    char prefix[32];
                    snprintf(prefix, sizeof prefix, "targets[%zu]", i);
                    validation_add(v, prefix, "database_id", "distinct", "names database %s twice",
                                   m->targets[i].database_id);
                    break;
                }
            }
        }
    }
    int st = MIG_PENDING;
    v_enum(v, obj, NULL, "status", false, migration_status_names, &st);
    m->status = (MigrationStatus)st;
    v_string(v, obj, NULL, "applied_by", false, STR_ANY, 1, 200, &m->applied_by);
    v_string(v, obj, NULL, "started_at", false, STR_TIMESTAMP, 1, 40, &m->started_at);
    v_string(v, obj, NULL, "finished_at", false, STR_TIMESTAMP, 1, 40, &m->finished_at);
    v_string(v, obj, NULL, "error", false, STR_ANY, 0, 4096, &m->error);
    return validation_ok(v);
}

json_t *migration_to_json(const MigrationExecution *m)
{
    json_t *targets = json_array();
    for (size_t i = 0; i < m->ntargets; i++) {
        const MigrationTarget *t = &m->targets[i];
        json_t *o = json_object();
        json_object_set_new(o, "database_id", json_string(t->database_id));
        json_object_set_new(o, "status", json_string(target_status_names[t->status]));
        json_object_set_new(o, "statements_done", json_integer(t->statements_done));
        json_object_set_new(o, "statements_total", json_integer(t->statements_total));
        json_object_set_new(o, "started_at", jsonutil_string_or_null(t->started_at));
        json_object_set_new(o, "finished_at", jsonutil_string_or_null(t->finished_at));
        json_object_set_new(o, "error", jsonutil_string_or_null(t->error));
        json_array_append_new(targets, o);
    }
    json_t *o = json_object();
    json_object_set_new(o, "schema_version", json_integer(MIGRATION_SCHEMA_VERSION));
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "checksum", json_string(m->checksum));
    json_object_set_new(o, "targets", targets);
    json_object_set_new(o, "status", json_string(migration_status_names[m->status]));
    json_object_set_new(o, "applied_by", jsonutil_string_or_null(m->applied_by));
    json_object_set_new(o, "started_at", jsonutil_string_or_null(m->started_at));
    json_object_set_new(o, "finished_at", jsonutil_string_or_null(m->finished_at));
    json_object_set_new(o, "error", jsonutil_string_or_null(m->error));
    return o;
}

void migration_free(MigrationExecution *m)
{
    for (size_t i = 0; i < m->ntargets; i++) {
        free(m->targets[i].database_id);
        free(m->targets[i].started_at);
        free(m->targets[i].finished_at);
        free(m->targets[i].error);
    }
    free(m->targets);
    free(m->id);
    free(m->name);
    free(m->checksum);
    free(m->applied_by);
    free(m->started_at);
    free(m->finished_at);
    free(m->error);
    memset(m, 0, sizeof *m);
}

void migration_checksum(const char *data, size_t len, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)data, len);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}
