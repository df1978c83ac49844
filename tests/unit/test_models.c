/* the three models: validation, JSON round trip, secrets never written out */
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "model/database.h"
#include "model/migration.h"
#include "model/stream.h"
#include "test_util.h"

static json_t *parse(const char *s)
{
    char err[128];
    json_t *v = jsonutil_parse(s, strlen(s), err, sizeof err);
    if (!v)
        fail_msg("bad test JSON: %s", err);
    return v;
}

static bool has_error(const Validation *v, const char *field, const char *rule)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->errors[i].field, field) == 0 && strcmp(v->errors[i].rule, rule) == 0)
            return true;
    return false;
}

#define DB_OK                                                                                      \
    "{\"name\":\"orders\",\"host\":\"db.internal\",\"port\":5433,\"dbname\":\"orders\","           \
    "\"user\":\"app\",\"credentials\":{\"source\":\"password\",\"password\":\"p@ss'w\\\"d\"},"     \
    "\"tags\":[\"prod\"]}"

static void test_database_round_trip_without_password(void **state)
{
    (void)state;
    json_t *in = parse(DB_OK);
    Validation v;
    validation_init(&v);
    DatabaseConfig db;
    assert_true(database_from_json(&db, in, &v));
    assert_string_equal(db.credentials.password, "p@ss'w\"d");
    assert_int_equal(db.sslmode, SSL_PREFER);
    assert_non_null(db.id);
    json_t *out = database_to_json(&db);
    char *s = jsonutil_dumps(out);
    assert_null(strstr(s, "p@ss"));
    assert_non_null(strstr(s, "\"password_set\":true"));
    assert_non_null(strstr(s, "\"schema_version\":1"));

    /* the stored form reads back to the same model */
    DatabaseConfig again;
    Validation v2;
    validation_init(&v2);
    assert_true(database_from_json(&again, out, &v2));
    json_t *out2 = database_to_json(&again);
    assert_true(json_equal(out, out2));
    assert_null(again.credentials.password);
    assert_true(again.credentials.password_set);

    free(s);
    json_decref(in);
    json_decref(out);
    json_decref(out2);
    database_free(&db);
    database_free(&again);
}

static void test_database_rejects_bad_fields(void **state)
{
    (void)state;
    json_t *in = parse("{\"name\":\"\",\"host\":\"bad host\",\"port\":70000,\"user\":\"u\","
                       "\"sslmode\":\"disable\",\"credentials\":{\"source\":\"rds_iam\"},"
                       "\"colour\":\"blue\"}");
    Validation v;
    validation_init(&v);
    DatabaseConfig db;
    assert_false(database_from_json(&db, in, &v));
    assert_true(has_error(&v, "name", "min_length"));
    assert_true(has_error(&v, "host", "pattern"));
    assert_true(has_error(&v, "port", "range"));
    assert_true(has_error(&v, "dbname", "required"));
    assert_true(has_error(&v, "sslmode", "requires_tls"));
    assert_true(has_error(&v, "colour", "unknown_field"));
    json_decref(in);
    database_free(&db);
}

static void test_database_credential_sources(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"{\"source\":\"secretsmanager\"}", "credentials.secret_id", "required"},
        {"{\"source\":\"env\",\"env\":\"1BAD\"}", "credentials.env", "pattern"},
        {"{\"source\":\"env\",\"env\":\"PGPASS\",\"password\":\"x\"}", "credentials.password",
         "unknown_field"},
        {"{\"source\":\"ldap\"}", "credentials.source", "enum"},
        {"{\"source\":\"password\"}", "credentials.password", "required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"name\":\"n\",\"host\":\"h\",\"dbname\":\"d\",\"user\":\"u\","
                 "\"credentials\":%s}",
                 cases[i][0]);
        json_t *in = parse(doc);
        Validation v;
        validation_init(&v);
        DatabaseConfig db;
        assert_false(database_from_json(&db, in, &v));
        if (!has_error(&v, cases[i][1], cases[i][2]))
            fail_msg("case %zu: expected %s/%s, got %s/%s", i, cases[i][1], cases[i][2],
                     v.errors[0].field, v.errors[0].rule);
        json_decref(in);
        database_free(&db);
    }
}

static void test_database_newer_schema_version_is_refused(void **state)
{
    (void)state;
    json_t *in = parse("{\"schema_version\":7,\"name\":\"n\",\"host\":\"h\",\"dbname\":\"d\","
                       "\"user\":\"u\",\"credentials\":{\"source\":\"rds_iam\"},"
                       "\"sslmode\":\"require\"}");
    Validation v;
    validation_init(&v);
    DatabaseConfig db;
    assert_false(database_from_json(&db, in, &v));
    assert_true(has_error(&v, "schema_version", "schema_version"));
    json_decref(in);
    database_free(&db);
}

static void test_stream_round_trip_and_rules(void **state)
{
    (void)state;
    json_t *in = parse("{\"source_database_id\":\"a\",\"target_database_id\":\"b\","
                       "\"publication\":\"pub\",\"subscription\":\"sub\",\"slot\":\"sub_slot\","
                       "\"tables\":[\"public.t\"]}");
    Validation v;
    validation_init(&v);
    ReplicationStream s;
    assert_true(stream_from_json(&s, in, &v));
    assert_int_equal(s.state, STREAM_PENDING);
    json_t *out = stream_to_json(&s);
    ReplicationStream s2;
    assert_true(stream_from_json(&s2, out, &v));
    json_t *out2 = stream_to_json(&s2);
    assert_true(json_equal(out, out2));
    json_decref(in);
    json_decref(out);
    json_decref(out2);
    stream_free(&s);
    stream_free(&s2);

    in = parse("{\"source_database_id\":\"a\",\"target_database_id\":\"a\",\"slot\":\"Bad\"}");
    validation_init(&v);
    assert_false(stream_from_json(&s, in, &v));
    assert_true(has_error(&v, "target_database_id", "distinct"));
    assert_true(has_error(&v, "publication", "required"));
    assert_true(has_error(&v, "slot", "pattern"));
    json_decref(in);
    stream_free(&s);
}

static void test_migration_round_trip_and_rules(void **state)
{
    (void)state;
    char sum[65];
    migration_checksum("SELECT 1;", 9, sum);
    assert_int_equal(strlen(sum), 64);
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"name\":\"0001\",\"checksum\":\"%s\",\"targets\":[{\"target\":\"a\"},"
             "{\"target\":\"b\",\"status\":\"failed\",\"error\":\"boom\"}],"
             "\"status\":\"interrupted\"}",
             sum);
    json_t *in = parse(doc);
    Validation v;
    validation_init(&v);
    MigrationExecution m;
    assert_true(migration_from_json(&m, in, &v));
    assert_int_equal(m.ntargets, 2);
    assert_int_equal(m.targets[1].status, TGT_FAILED);
    assert_int_equal(m.status, MIG_INTERRUPTED);
    assert_true(strncmp(m.id, "mig_", 4) == 0);
    json_t *out = migration_to_json(&m);
    MigrationExecution m2;
    assert_true(migration_from_json(&m2, out, &v));
    json_t *out2 = migration_to_json(&m2);
    assert_true(json_equal(out, out2));
    json_decref(in);
    json_decref(out);
    json_decref(out2);
    migration_free(&m);
    migration_free(&m2);

    in = parse("{\"name\":\"x\",\"checksum\":\"abc\",\"targets\":[{\"target\":\"a\"},"
               "{\"target\":\"a\"},{\"status\":\"done\"}]}");
    validation_init(&v);
    assert_false(migration_from_json(&m, in, &v));
    assert_true(has_error(&v, "checksum", "min_length"));
    assert_true(has_error(&v, "targets[1].target", "distinct"));
    assert_true(has_error(&v, "targets[2].target", "required"));
    assert_true(has_error(&v, "targets[2].status", "enum"));
    json_decref(in);
    migration_free(&m);

    in = parse("{\"name\":\"x\",\"checksum\":\"abc\",\"targets\":[]}");
    validation_init(&v);
    assert_false(migration_from_json(&m, in, &v));
    assert_true(has_error(&v, "targets", "min_items"));
    json_decref(in);
    migration_free(&m);
}

static void test_non_object_input_is_rejected(void **state)
{
    (void)state;
    json_t *in = parse("[1,2]");
    Validation v;
    validation_init(&v);
    DatabaseConfig db;
    assert_false(database_from_json(&db, in, &v));
    assert_string_equal(v.errors[0].rule, "type");
    json_decref(in);
    database_free(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_round_trip_without_password),
        cmocka_unit_test(test_database_rejects_bad_fields),
        cmocka_unit_test(test_database_credential_sources),
        cmocka_unit_test(test_database_newer_schema_version_is_refused),
        cmocka_unit_test(test_stream_round_trip_and_rules),
        cmocka_unit_test(test_migration_round_trip_and_rules),
        cmocka_unit_test(test_non_object_input_is_rejected),
    };
    return cmocka_run_group_tests_name("models", tests, NULL, NULL);
}
