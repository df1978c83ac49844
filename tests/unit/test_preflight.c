/* stream pre-flight evaluation: the branches local servers cannot show (RDS, resume) */
#include <string.h>

#include "common/jsonutil.h"
#include "streams/preflight.h"
#include "test_util.h"

static json_t *src_ok(void)
{
    return json_pack(
        "{s:{s:s, s:n, s:i, s:i, s:i, s:i, s:s, s:b, s:b, s:b, s:b, s:[], s:b, s:b, s:s, s:i},"
        " s:[{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:n}]}",
        "settings", "wal_level", "logical", "rds_logical", "max_slots", 10, "used_slots", 1,
        "max_senders", 10, "used_senders", 1, "role", "app", "superuser", 0, "replication", 1,
        "rds_replication", 0, "pub_exists", 0, "pub_tables", "slot_exists", 0, "slot_active", 0,
        "database", "shop", "version_num", 150000, "tables", "schema", "public", "name", "orders",
        "qualified", "public.orders", "replident", "d", "has_pk", 1, "owned", 1, "can_select", 1,
        "columns", "[{\"name\":\"id\",\"type\":\"integer\"}]", "sequences");
}

static json_t *tgt_ok(const char *type)
{
    char cols[128];
    snprintf(cols, sizeof cols, "[{\"name\":\"id\",\"type\":\"%s\"}]", type);
    return json_pack("{s:{s:i, s:i, s:i, s:i, s:s, s:b, s:b, s:b, s:s, s:i},"
                     " s:[{s:s, s:s, s:s, s:s}], s:{s:b, s:b}}",
                     "settings", "max_workers", 4, "used_workers", 1, "max_origins", 10,
                     "used_origins", 1, "role", "admin", "superuser", 1, "create_subscription_role",
                     0, "sub_exists", 0, "database", "copy", "version_num", 150000, "tables",
                     "schema", "public", "name", "orders", "qualified", "public.orders", "columns",
                     cols, "reach", "verified", 1, "ok", 1);
}

static json_t *req(void)
{
    return json_pack("{s:[s], s:s, s:s, s:s, s:{}}", "tables", "public.orders", "publication", "p",
                     "subscription", "s", "slot", "s", "options");
}

static const json_t *check(const json_t *checks, const char *name)
{
    size_t i;
    const json_t *c;
    json_array_foreach(checks, i, c) if (!strcmp(jsonutil_str(c, "check"), name)) return c;
    fail_msg("no check %s", name);
    return NULL;
}

static void test_everything_ok(void **state)
{
    (void)state;
    json_t *r = req(), *s = src_ok(), *t = tgt_ok("integer");
    json_t *c = preflight_evaluate(r, s, t);
    assert_int_equal(preflight_count(c, "error"), 0);
    assert_int_equal(preflight_count(c, "warning"), 0);
    json_decref(c);
    json_decref(r);
    json_decref(s);
    json_decref(t);
}

static void test_rds_logical_replication_off(void **state)
{
    (void)state;
    json_t *r = req(), *s = src_ok(), *t = tgt_ok("integer");
    json_t *set = json_object_get(s, "settings");
    json_object_set_new(set, "wal_level", json_string("replica"));
    json_object_set_new(set, "rds_logical", json_string("off"));
    json_object_set_new(set, "replication", json_false());
    json_object_set_new(set, "rds_replication", json_true());
    json_t *c = preflight_evaluate(r, s, t);
    const json_t *w = check(c, "wal_level");
    assert_string_equal(jsonutil_str(w, "status"), "error");
    assert_non_null(strstr(jsonutil_str(w, "message"), "rds.logical_replication is off"));
    assert_non_null(strstr(jsonutil_str(w, "hint"), "parameter group"));
    assert_string_equal(jsonutil_str(check(c, "source_privileges"), "status"), "ok");
    json_decref(c);
    json_decref(r);
    json_decref(s);
    json_decref(t);
}

static void test_binary_needs_identical_types_and_unverified_reach(void **state)
{
    (void)state;
    json_t *r = req(), *s = src_ok(), *t = tgt_ok("bigint");
    json_t *c = preflight_evaluate(r, s, t);
    assert_string_equal(jsonutil_str(check(c, "target_tables"), "status"), "warning");
    json_decref(c);
    json_object_set_new(json_object_get(r, "options"), "binary", json_true());
    json_object_set_new(t, "reach", json_pack("{s:b, s:s}", "verified", 0, "why", "no right"));
    c = preflight_evaluate(r, s, t);
    assert_string_equal(jsonutil_str(check(c, "target_tables"), "status"), "error");
    const json_t *reach = check(c, "target_reaches_source");
    assert_string_equal(jsonutil_str(reach, "status"), "warning");
    assert_non_null(strstr(jsonutil_str(reach, "message"), "not verified from the target"));
    json_decref(c);
    json_decref(r);
    json_decref(s);
    json_decref(t);
}

static void test_resume_accepts_what_pgfleet_made(void **state)
{
    (void)state;
    json_t *r = req(), *s = src_ok(), *t = tgt_ok("integer");
    json_t *set = json_object_get(s, "settings");
    json_object_set_new(set, "pub_exists", json_true());
    json_object_set_new(set, "slot_exists", json_true());
    json_t *c = preflight_evaluate(r, s, t);
    assert_string_equal(jsonutil_str(check(c, "name_conflicts"), "status"), "error");
    json_decref(c);
    json_object_set_new(r, "resume",
                        json_pack("{s:b, s:b}", "publication_created", 1, "slot_created", 1));
    c = preflight_evaluate(r, s, t);
    assert_string_equal(jsonutil_str(check(c, "name_conflicts"), "status"), "ok");
    json_decref(c);
    json_decref(r);
    json_decref(s);
    json_decref(t);
}

static void test_all_tables_needs_a_superuser(void **state)
{
    (void)state;
    json_t *r = json_pack("{s:b, s:s, s:s, s:s, s:{}}", "all_tables", 1, "publication", "p",
                          "subscription", "s", "slot", "s", "options");
    json_t *s = src_ok(), *t = tgt_ok("integer");
    json_t *c = preflight_evaluate(r, s, t);
    const json_t *o = check(c, "table_ownership");
    assert_string_equal(jsonutil_str(o, "status"), "error");
    assert_non_null(strstr(jsonutil_str(o, "message"), "superuser"));
    json_decref(c);
    json_decref(r);
    json_decref(s);
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everything_ok),
        cmocka_unit_test(test_rds_logical_replication_off),
        cmocka_unit_test(test_binary_needs_identical_types_and_unverified_reach),
        cmocka_unit_test(test_resume_accepts_what_pgfleet_made),
        cmocka_unit_test(test_all_tables_needs_a_superuser),
    };
    return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
