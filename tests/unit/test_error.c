/* the error table: codes, exit statuses and HTTP statuses users rely on */
#include <string.h>

#include "common/error.h"
#include "test_util.h"

static void test_error_codes_are_stable(void **state)
{
    (void)state;
    assert_string_equal(pgf_error_code(PGF_ERR_VALIDATION), "validation_failed");
    assert_int_equal(pgf_error_http(PGF_ERR_VALIDATION), 422);
    assert_string_equal(pgf_error_code(PGF_ERR_BAD_JSON), "bad_json");
    assert_int_equal(pgf_error_http(PGF_ERR_BAD_JSON), 400);
    assert_int_equal(pgf_error_http(PGF_ERR_NOT_FOUND), 404);
    assert_int_equal(pgf_error_http(PGF_ERR_UNAUTHORIZED), 401);
    assert_int_equal(pgf_error_http(PGF_ERR_STORE_DOWN), 503);
    assert_int_equal(pgf_error_exit(PGF_OK), 0);
    assert_int_equal(pgf_error_exit(PGF_ERR_USAGE), 2);
    assert_int_equal(pgf_error_exit(PGF_ERR_CONFIG), 3);
}

static void test_error_codes_are_unique(void **state)
{
    (void)state;
    for (int i = 0; i < PGF_ERROR_COUNT; i++) {
        for (int j = i + 1; j < PGF_ERROR_COUNT; j++) {
            assert_string_not_equal(pgf_error_code((PgfError)i), pgf_error_code((PgfError)j));
            assert_int_not_equal(pgf_error_exit((PgfError)i), pgf_error_exit((PgfError)j));
        }
    }
}

static void test_error_out_of_range_is_internal(void **state)
{
    (void)state;
    assert_string_equal(pgf_error_code((PgfError)999), "internal");
    assert_int_equal(pgf_error_http((PgfError)-1), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_codes_are_stable),
        cmocka_unit_test(test_error_codes_are_unique),
        cmocka_unit_test(test_error_out_of_range_is_internal),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
