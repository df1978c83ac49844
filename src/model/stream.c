#include "model/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

const char *const stream_kind_names[] = {"logical", "physical", NULL};
const char *const stream_state_names[] = {"pending",   "creating", "initializing",
                                          "streaming", "paused",   "error",
                                          "dropping",  "dropped",  NULL};
const char *const stream_step_names[] = {
    "none",        "publication",       "slot",      "subscription",     "created", "disable",
    "detach_slot", "drop_subscription", "drop_slot", "drop_publication", "dropped", NULL};

static const char *const stream_fields[] = {"schema_version",
                                            "id",
                                            "kind",
                                            "source_database_id",
                                            "target_database_id",
                                            "publication",
                                            "subscription",
                                            "slot",
                                            "tables",
                                            "all_tables",
                                            "options",
                                            "publication_created",
                                            "slot_created",
                                            "step",
                                            "state",
                                            "error",
                                            "sync",
                                            "checks",
                                            "created_by",
                                            "owner",
                                            "created_at",
                                            "updated_at",
                                            NULL};
static const char *const option_fields[] = {"copy_data", "create_slot", "streaming", "binary",
                                            NULL};

/* sets *out to now when the member is absent */
static void timestamp_or_now(Validation *v, const json_t *obj, const char *key, char **out)
{
    if (!json_object_get(obj, key)) {
        char now[32];
        jsonutil_now_rfc3339(now, sizeof now);
        *out = xstrdup(now);
        return;
    }
    v_string(v, obj, NULL, key, true, STR_TIMESTAMP, 1, 40, out);
}

static void options_from_json(StreamOptions *o, Validation *v, const json_t *obj)
{
    *o = (StreamOptions){.copy_data = true, .create_slot = true};
    const json_t *opts = v_object(v, obj, NULL, "options", false);
    if (!opts)
        return;
    v_no_unknown(v, opts, "options", option_fields);
    v_bool(v, opts, "options", "copy_data", false, &o->copy_data);
    v_bool(v, opts, "options", "create_slot", false, &o->create_slot);
    v_bool(v, opts, "options", "streaming", false, &o->streaming);
    v_bool(v, opts, "options", "binary", false, &o->binary);
}

/* every table is "schema.table": two non-empty names of at most 63 bytes */
static void check_tables(const ReplicationStream *s, Validation *v)
{
    for (size_t i = 0; i < s->ntables; i++) {
        const char *t = s->tables[i], *dot = strchr(t, '.');
        char field[32];
        snprintf(field, sizeof field, "tables[%zu]", i);
        if (!dot || dot == t || !dot[1] || dot - t > 63 || strlen(dot + 1) > 63)
            validation_add(v, NULL, field, "pattern",
                           "must be schema.table (each name at most 63 bytes)");
    }
}

/* an optional member that must be of the given JSON type; kept as is */
static json_t *opaque(Validation *v, const json_t *obj, const char *key, json_type type)
{
    const json_t *m = json_object_get(obj, key);
    if (!m || json_is_null(m))
        return NULL;
    if (json_typeof(m) != type) {
        validation_add(v, NULL, key, "type", "must be an %s",
                       type == JSON_ARRAY ? "array" : "object");
        return NULL;
    }
    return json_deep_copy(m);
}

bool stream_from_json(ReplicationStream *s, const json_t *obj, Validation *v)
{
    memset(s, 0, sizeof *s);
    s->options = (StreamOptions){.copy_data = true, .create_slot = true};
    if (!v_model_header(v, obj, STREAM_SCHEMA_VERSION, stream_fields, "id", "stream", &s->id))
        return false;
    int kind = STREAM_LOGICAL;
    v_enum(v, obj, NULL, "kind", false, stream_kind_names, &kind);
    s->kind = (StreamKind)kind;
    v_string(v, obj, NULL, "source_database_id", true, STR_IDENT, 1, 64, &s->source_database_id);
    v_string(v, obj, NULL, "target_database_id", true, STR_IDENT, 1, 64, &s->target_database_id);
    if (s->source_database_id && s->target_database_id &&
        strcmp(s->source_database_id, s->target_database_id) == 0)
        validation_add(v, NULL, "target_database_id", "distinct",
                       "must differ from source_database_id");

    bool logical = s->kind == STREAM_LOGICAL;
    v_string(v, obj, NULL, "publication", logical, STR_PG_NAME, 1, 63, &s->publication);
    v_string(v, obj, NULL, "subscription", logical, STR_PG_NAME, 1, 63, &s->subscription);
    v_string(v, obj, NULL, "slot", false, STR_SLOT, 1, 63, &s->slot);
    if (!logical && (s->publication || s->subscription || json_object_get(obj, "tables")))
        validation_add(v, NULL, "kind", "enum",
                       "physical streams have no publication, subscription or tables");
    v_string_array(v, obj, NULL, "tables", false, STR_PG_NAME, 127, 10000, &s->tables, &s->ntables);
    check_tables(s, v);
    v_bool(v, obj, NULL, "all_tables", false, &s->all_tables);
    if (s->all_tables && s->ntables)
        validation_add(v, NULL, "tables", "exclusive", "give tables or all_tables, not both");
    options_from_json(&s->options, v, obj);
    v_bool(v, obj, NULL, "publication_created", false, &s->publication_created);
    v_bool(v, obj, NULL, "slot_created", false, &s->slot_created);
    int step = STEP_NONE;
    v_enum(v, obj, NULL, "step", false, stream_step_names, &step);
    s->step = (StreamStep)step;

    int state = STREAM_PENDING;
    v_enum(v, obj, NULL, "state", false, stream_state_names, &state);
    s->state = (StreamState)state;
    v_string(v, obj, NULL, "error", false, STR_TEXT, 0, 4096, &s->error);
    s->sync = opaque(v, obj, "sync", JSON_OBJECT);
    s->checks = opaque(v, obj, "checks", JSON_ARRAY);
    v_string(v, obj, NULL, "created_by", false, STR_ANY, 1, 200, &s->created_by);
    v_string(v, obj, NULL, "owner", false, STR_ANY, 1, 100, &s->owner);
    timestamp_or_now(v, obj, "created_at", &s->created_at);
    timestamp_or_now(v, obj, "updated_at", &s->updated_at);
    return validation_ok(v);
}

json_t *stream_to_json(const ReplicationStream *s)
{
    json_t *tables = json_array();
    for (size_t i = 0; i < s->ntables; i++)
        json_array_append_new(tables, json_string(s->tables[i]));
    json_t *o = json_object();
    json_object_set_new(o, "schema_version", json_integer(STREAM_SCHEMA_VERSION));
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "kind", json_string(stream_kind_names[s->kind]));
    json_object_set_new(o, "source_database_id", json_string(s->source_database_id));
    json_object_set_new(o, "target_database_id", json_string(s->target_database_id));
    json_object_set_new(o, "publication", jsonutil_string_or_null(s->publication));
    json_object_set_new(o, "subscription", jsonutil_string_or_null(s->subscription));
    json_object_set_new(o, "slot", jsonutil_string_or_null(s->slot));
    json_object_set_new(o, "tables", tables);
    json_object_set_new(o, "all_tables", json_boolean(s->all_tables));
    json_object_set_new(o, "options",
                        json_pack("{s:b, s:b, s:b, s:b}", "copy_data", s->options.copy_data,
                                  "create_slot", s->options.create_slot, "streaming",
                                  s->options.streaming, "binary", s->options.binary));
    json_object_set_new(o, "publication_created", json_boolean(s->publication_created));
    json_object_set_new(o, "slot_created", json_boolean(s->slot_created));
    json_object_set_new(o, "step", json_string(stream_step_names[s->step]));
    json_object_set_new(o, "state", json_string(stream_state_names[s->state]));
    json_object_set_new(o, "error", jsonutil_string_or_null(s->error));
    if (s->sync)
        json_object_set_new(o, "sync", json_deep_copy(s->sync));
    if (s->checks)
        json_object_set_new(o, "checks", json_deep_copy(s->checks));
    json_object_set_new(o, "created_by", jsonutil_string_or_null(s->created_by));
    if (s->owner)
        json_object_set_new(o, "owner", json_string(s->owner));
    json_object_set_new(o, "created_at", json_string(s->created_at));
    json_object_set_new(o, "updated_at", json_string(s->updated_at));
    return o;
}

void stream_free(ReplicationStream *s)
{
    free(s->id);
    free(s->source_database_id);
    free(s->target_database_id);
    free(s->publication);
    free(s->subscription);
    free(s->slot);
    string_array_free(s->tables, s->ntables);
    free(s->error);
    json_decref(s->sync);
    json_decref(s->checks);
    free(s->created_by);
    free(s->owner);
    free(s->created_at);
    free(s->updated_at);
    memset(s, 0, sizeof *s);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void stream_copy(ReplicationStream *dst, const ReplicationStream *src)
{
    *dst = *src;
    dst->id = dup_or_null(src->id);
    dst->source_database_id = dup_or_null(src->source_database_id);
    dst->target_database_id = dup_or_null(src->target_database_id);
    dst->publication = dup_or_null(src->publication);
    dst->subscription = dup_or_null(src->subscription);
    dst->slot = dup_or_null(src->slot);
    dst->tables = string_array_dup(src->tables, src->ntables);
    dst->error = dup_or_null(src->error);
    dst->sync = src->sync ? json_deep_copy(src->sync) : NULL;
    dst->checks = src->checks ? json_deep_copy(src->checks) : NULL;
    dst->created_by = dup_or_null(src->created_by);
    dst->owner = dup_or_null(src->owner);
    dst->created_at = dup_or_null(src->created_at);
    dst->updated_at = dup_or_null(src->updated_at);
}

void stream_set_state(ReplicationStream *s, StreamState state, const char *error)
{
    s->state = state;
    free(s->error);
    s->error = dup_or_null(error);
    char now[32];
    jsonutil_now_rfc3339(now, sizeof now);
    free(s->updated_at);
    s->updated_at = xstrdup(now);
}

bool stream_state_in_progress(StreamState state)
{
    return state == STREAM_CREATING || state == STREAM_DROPPING;
}
