/* validation helpers: each rule, field paths, collecting every error */
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "model/validate.h"
#include "test_util.h"

static json_t *parse(const char *s)
{
    char err[128];
    json_t *v = jsonutil_parse(s, strlen(s), err, sizeof err);
    assert_non_null(v);
    return v;
}

static void test_string_rules(void **state)
{
    (void)state;
    assert_true(validate_string_rule("db-1.prod_x", STR_IDENT));
    assert_false(validate_string_rule("-db", STR_IDENT));
    assert_false(validate_string_rule("db 1", STR_IDENT));
    assert_true(validate_string_rule("db.example.com", STR_HOST));
    assert_true(validate_string_rule("::1", STR_HOST));
    assert_false(validate_string_rule("bad host", STR_HOST));
    assert_false(validate_string_rule("host;rm -rf", STR_HOST));
    assert_true(validate_string_rule("my_slot_1", STR_SLOT));
    assert_false(validate_string_rule("MySlot", STR_SLOT));
    assert_true(validate_string_rule("PG_PASSWORD", STR_ENV_NAME));
    assert_false(validate_string_rule("1PG", STR_ENV_NAME));
    assert_true(validate_string_rule("2026-11-26T14:55:01Z", STR_TIMESTAMP));
    assert_true(validate_string_rule("2026-11-26T14:55:01.123Z", STR_TIMESTAMP));
    assert_false(validate_string_rule("2026-11-26 14:55:01", STR_TIMESTAMP));
    assert_false(validate_string_rule("tab\there", STR_ANY));
    assert_true(validate_string_rule("weird \"quoted\" name; DROP TABLE x", STR_PG_NAME));
}

static void test_required_type_and_range_errors_name_the_field(void **state)
{
    (void)state;
    json_t *o = parse("{\"port\":\"5432\",\"n\":70000,\"flag\":1}");
    Validation v;
    validation_init(&v);
    char *s = NULL;
    long long n = 0;
    bool b = false;
    assert_false(v_string(&v, o, NULL, "name", true, STR_ANY, 1, 10, &s));
    assert_false(v_int(&v, o, NULL, "port", true, 1, 65535, &n));
    assert_false(v_int(&v, o, "aws", "n", true, 1, 65535, &n));
    assert_false(v_bool(&v, o, NULL, "flag", true, &b));
    assert_int_equal(v.count, 4);
    assert_string_equal(v.errors[0].field, "name");
    assert_string_equal(v.errors[0].rule, "required");
    assert_string_equal(v.errors[1].field, "port");
    assert_string_equal(v.errors[1].rule, "type");
    assert_string_equal(v.errors[2].field, "aws.n");
    assert_string_equal(v.errors[2].rule, "range");
    assert_string_equal(v.errors[3].rule, "type");
    char buf[256];
    assert_string_equal(validation_first_message(&v, buf, sizeof buf),
                        "name: is required (and 3 more)");
    json_decref(o);
}

static void test_unknown_fields_and_enum(void **state)
{
    (void)state;
    json_t *o = parse("{\"a\":1,\"colour\":\"blue\",\"mode\":\"fast\"}");
    static const char *const allowed[] = {"a", "mode", NULL};
    static const char *const modes[] = {"slow", "medium", NULL};
    Validation v;
    validation_init(&v);
    v_no_unknown(&v, o, NULL, allowed);
    int m = -1;
    assert_false(v_enum(&v, o, NULL, "mode", true, modes, &m));
    assert_int_equal(v.count, 2);
    assert_string_equal(v.errors[0].field, "colour");
    assert_string_equal(v.errors[0].rule, "unknown_field");
    assert_string_equal(v.errors[1].rule, "enum");
    assert_non_null(strstr(v.errors[1].message, "slow, medium"));
    json_decref(o);
}

static void test_string_array_items_are_checked(void **state)
{
    (void)state;
    json_t *o = parse("{\"tags\":[\"ok\",\"\",3]}");
    Validation v;
    validation_init(&v);
    char **items = NULL;
    size_t n = 0;
    assert_false(v_string_array(&v, o, NULL, "tags", true, STR_ANY, 10, 5, &items, &n));
    assert_int_equal(v.count, 2);
    assert_string_equal(v.errors[0].field, "tags[1]");
    assert_string_equal(v.errors[1].field, "tags[2]");
    assert_null(items);
    json_decref(o);
}

static void test_nul_in_string_is_rejected(void **state)
{
    (void)state;
    /* the parser already refuses \u0000; a NUL can still come from code */
    char err[128];
    const char *doc = "{\"name\":\"a\\u0000b\"}";
    assert_null(jsonutil_parse(doc, strlen(doc), err, sizeof err));
    json_t *o = json_pack("{s:s%}", "name", "a\0b", (size_t)3);
    Validation v;
    validation_init(&v);
    char *s = NULL;
    assert_false(v_string(&v, o, NULL, "name", true, STR_ANY, 1, 10, &s));
    assert_string_equal(v.errors[0].rule, "pattern");
    json_decref(o);
}

static void test_too_many_errors_are_counted_not_lost(void **state)
{
    (void)state;
    Validation v;
    validation_init(&v);
    for (int i = 0; i < VALIDATION_MAX + 5; i++)
        validation_add(&v, NULL, "f", "required", "is required");
    assert_int_equal(v.count, VALIDATION_MAX);
    assert_int_equal(v.dropped, 5);
    assert_false(validation_ok(&v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_rules),
        cmocka_unit_test(test_required_type_and_range_errors_name_the_field),
        cmocka_unit_test(test_unknown_fields_and_enum),
        cmocka_unit_test(test_string_array_items_are_checked),
        cmocka_unit_test(test_nul_in_string_is_rejected),
        cmocka_unit_test(test_too_many_errors_are_counted_not_lost),
    };
    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
