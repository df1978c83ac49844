#include "model/migration.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

const char *const migration_status_names[] = {"pending", "running",   "succeeded",   "failed",
                                              "partial", "cancelled", "interrupted", NULL};
const char *const target_status_names[] = {"pending",  "running", "committed",
                                           "prepared", "failed",  "rolled_back",
                                           "skipped",  "unknown", NULL};

static const char *const migration_fields[] = {"schema_version",
                                               "execution_id",
                                               "name",
                                               "checksum",
                                               "targets",
                                               "status",
                                               "dry_run",
                                               "atomic",
                                               "continue_on_error",
                                               "non_transactional",
                                               "plan",
                                               "recovered",
                                               "applied_by",
                                               "sql",
                                               "started_at",
                                               "finished_at",
                                               "error",
                                               "owner",
                                               NULL};
static const char *const target_fields[] = {
    "target", "status", "statements_done", "statements_total", "duration_ms", "error",
    "note",   NULL};

#define MIGRATION_MAX_TARGETS 10000
#define MIGRATION_MAX_SQL     (16 * 1024 * 1024)

static void target_from_json(MigrationTarget *t, const json_t *obj, const char *prefix,
                             Validation *v)
{
    if (!json_is_object(obj)) {
        validation_add(v, NULL, prefix, "type", "must be an object");
        return;
    }
    v_no_unknown(v, obj, prefix, target_fields);
    v_string(v, obj, prefix, "target", true, STR_ANY, 1, 300, &t->target);
    int st = TGT_PENDING;
    v_enum(v, obj, prefix, "status", false, target_status_names, &st);
    t->status = (TargetStatus)st;
    v_int(v, obj, prefix, "statements_done", false, 0, 1000000000, &t->statements_done);
    v_int(v, obj, prefix, "statements_total", false, 0, 1000000000, &t->statements_total);
    if (t->statements_done > t->statements_total && t->statements_total > 0)
        validation_add(v, prefix, "statements_done", "range", "must not exceed statements_total");
    const json_t *d = json_object_get(obj, "duration_ms");
    if (d && !json_is_null(d) && (!json_is_number(d) || json_number_value(d) < 0))
        validation_add(v, prefix, "duration_ms", "type", "must be a number of milliseconds");
    t->duration_ms = json_is_number(d) ? json_number_value(d) : 0;
    v_string(v, obj, prefix, "error", false, STR_TEXT, 0, 4096, &t->error);
    v_string(v, obj, prefix, "note", false, STR_TEXT, 0, 4096, &t->note);
}

static void targets_from_json(MigrationExecution *m, const json_t *targets, Validation *v)
{
    if (!targets || json_is_null(targets)) {
        validation_add(v, NULL, "targets", "required", "is required");
        return;
    }
    if (!json_is_array(targets)) {
        validation_add(v, NULL, "targets", "type", "must be an array of target objects");
        return;
    }
    if (json_array_size(targets) == 0) {
        validation_add(v, NULL, "targets", "min_items", "must name at least one target");
        return;
    }
    if (json_array_size(targets) > MIGRATION_MAX_TARGETS) {
        validation_add(v, NULL, "targets", "max_items", "must have at most %d items",
                       MIGRATION_MAX_TARGETS);
        return;
    }
    m->ntargets = json_array_size(targets);
    m->targets = xcalloc(m->ntargets, sizeof *m->targets);
    for (size_t i = 0; i < m->ntargets; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "targets[%zu]", i);
        target_from_json(&m->targets[i], json_array_get(targets, i), prefix, v);
        for (size_t j = 0; j < i; j++) {
            if (m->targets[i].target && m->targets[j].target &&
                strcmp(m->targets[i].target, m->targets[j].target) == 0) {
                validation_add(v, prefix, "target", "distinct", "names target %s twice",
                               m->targets[i].target);
                break;
            }
        }
    }
}

bool migration_from_json(MigrationExecution *m, const json_t *obj, Validation *v)
{
    memset(m, 0, sizeof *m);
    if (!v_model_header(v, obj, MIGRATION_SCHEMA_VERSION, migration_fields, "execution_id", "mig",
                        &m->id))
        return false;
    v_string(v, obj, NULL, "name", true, STR_ANY, 1, 200, &m->name);
    v_string(v, obj, NULL, "checksum", true, STR_HEX64, 64, 64, &m->checksum);
    targets_from_json(m, json_object_get(obj, "targets"), v);
    int st = MIG_PENDING;
    v_enum(v, obj, NULL, "status", false, migration_status_names, &st);
    m->status = (MigrationStatus)st;
    v_bool(v, obj, NULL, "dry_run", false, &m->dry_run);
    v_bool(v, obj, NULL, "atomic", false, &m->atomic);
    v_bool(v, obj, NULL, "continue_on_error", false, &m->continue_on_error);
    v_bool(v, obj, NULL, "non_transactional", false, &m->non_transactional);
    const json_t *plan = json_object_get(obj, "plan");
    if (plan && !json_is_null(plan)) {
        size_t i;
        const json_t *x;
        bool ok = json_is_array(plan);
        json_array_foreach(plan, i, x) ok = ok && json_is_string(x);
        if (ok)
            m->plan = json_deep_copy(plan);
        else
            validation_add(v, NULL, "plan", "type", "must be an array of strings");
    }
    const json_t *rec = json_object_get(obj, "recovered");
    if (rec && !json_is_null(rec) && !json_is_array(rec))
        validation_add(v, NULL, "recovered", "type", "must be an array");
    else if (json_array_size(rec))
        m->recovered = json_deep_copy(rec);
    v_string(v, obj, NULL, "applied_by", false, STR_ANY, 1, 200, &m->applied_by);
    v_string(v, obj, NULL, "owner", false, STR_ANY, 1, 100, &m->owner);
    v_string(v, obj, NULL, "sql", false, STR_TEXT, 0, MIGRATION_MAX_SQL, &m->sql);
    v_string(v, obj, NULL, "started_at", false, STR_TIMESTAMP, 1, 40, &m->started_at);
    v_string(v, obj, NULL, "finished_at", false, STR_TIMESTAMP, 1, 40, &m->finished_at);
    v_string(v, obj, NULL, "error", false, STR_TEXT, 0, 4096, &m->error);
    return validation_ok(v);
}

json_t *migration_to_json(const MigrationExecution *m)
{
    json_t *targets = json_array();
    for (size_t i = 0; i < m->ntargets; i++) {
        const MigrationTarget *t = &m->targets[i];
        json_t *o = json_object();
        json_object_set_new(o, "target", json_string(t->target));
        json_object_set_new(o, "status", json_string(target_status_names[t->status]));
        json_object_set_new(o, "statements_done", json_integer(t->statements_done));
        json_object_set_new(o, "statements_total", json_integer(t->statements_total));
        json_object_set_new(o, "duration_ms", json_real(t->duration_ms));
        json_object_set_new(o, "error", jsonutil_string_or_null(t->error));
        json_object_set_new(o, "note", jsonutil_string_or_null(t->note));
        json_array_append_new(targets, o);
    }
    json_t *o = json_object();
    json_object_set_new(o, "schema_version", json_integer(MIGRATION_SCHEMA_VERSION));
    json_object_set_new(o, "execution_id", json_string(m->id));
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "checksum", json_string(m->checksum));
    json_object_set_new(o, "status", json_string(migration_status_names[m->status]));
    json_object_set_new(o, "dry_run", json_boolean(m->dry_run));
    json_object_set_new(o, "atomic", json_boolean(m->atomic));
    json_object_set_new(o, "continue_on_error", json_boolean(m->continue_on_error));
    json_object_set_new(o, "non_transactional", json_boolean(m->non_transactional));
    json_object_set_new(o, "plan", m->plan ? json_deep_copy(m->plan) : json_array());
    if (m->recovered)
        json_object_set_new(o, "recovered", json_deep_copy(m->recovered));
    json_object_set_new(o, "targets", targets);
    json_object_set_new(o, "applied_by", jsonutil_string_or_null(m->applied_by));
    if (m->owner)
        json_object_set_new(o, "owner", json_string(m->owner));
    if (m->sql)
        json_object_set_new(o, "sql", json_string(m->sql));
    json_object_set_new(o, "started_at", jsonutil_string_or_null(m->started_at));
    json_object_set_new(o, "finished_at", jsonutil_string_or_null(m->finished_at));
    json_object_set_new(o, "error", jsonutil_string_or_null(m->error));
    return o;
}

void migration_free(MigrationExecution *m)
{
    for (size_t i = 0; i < m->ntargets; i++) {
        free(m->targets[i].target);
        free(m->targets[i].error);
        free(m->targets[i].note);
    }
    free(m->targets);
    free(m->id);
    free(m->name);
    free(m->checksum);
    json_decref(m->plan);
    json_decref(m->recovered);
    free(m->applied_by);
    free(m->owner);
    free(m->sql);
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

int migration_target_status_parse(const char *name)
{
    for (int i = 0; name && target_status_names[i]; i++)
        if (!strcmp(name, target_status_names[i]))
            return i;
    return -1;
}
