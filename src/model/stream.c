#include "model/stream.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/xalloc.h"

const char *const stream_kind_names[] = {"logical", "physical", NULL};
const char *const stream_state_names[] = {"pending",   "creating", "initializing",
                                          "streaming", "paused",   "error",
                                          "dropping",  "dropped",  NULL};

static const char *const stream_fields[] = {"schema_version",
                                            "id",
                                            "kind",
                                            "source_database_id",
                                            "target_database_id",
                                            "publication",
                                            "subscription",
                                            "slot",
                                            "tables",
                                            "state",
                                            "error",
                                            "created_at",
                                            "updated_at",
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

bool stream_from_json(ReplicationStream *s, const json_t *obj, Validation *v)
{
    memset(s, 0, sizeof *s);
    if (!v_model_header(v, obj, STREAM_SCHEMA_VERSION, stream_fields, "stream", &s->id))
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

    int state = STREAM_PENDING;
    v_enum(v, obj, NULL, "state", false, stream_state_names, &state);
    s->state = (StreamState)state;
    v_string(v, obj, NULL, "error", false, STR_ANY, 0, 4096, &s->error);
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
    json_object_set_new(o, "state", json_string(stream_state_names[s->state]));
    json_object_set_new(o, "error", jsonutil_string_or_null(s->error));
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
    free(s->created_at);
    free(s->updated_at);
    memset(s, 0, sizeof *s);
}
