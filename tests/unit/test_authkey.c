/* API key: accepted forms and refusals */
#include <sodium.h>
#include <string.h>

#include "auth/authkey.h"
#include "auth/rbac.h"
#include "test_util.h"

static void test_authkey_accepts_only_the_key(void **state)
{
    (void)state;
    AuthKey *ak = authkey_new("s3cret-key");
    assert_non_null(ak);
    assert_true(authkey_check(ak, "s3cret-key", 10));
    assert_false(authkey_check(ak, "s3cret-ke", 9));
    assert_false(authkey_check(ak, "s3cret-key ", 11));
    assert_false(authkey_check(ak, "", 0));
    assert_false(authkey_check(ak, NULL, 0));
    authkey_free(ak);
    assert_null(authkey_new(""));
    assert_null(authkey_new(NULL));
}

static void test_authkey_presented_forms(void **state)
{
    (void)state;
    size_t n = 0;
    const char *k = authkey_presented("Bearer abc", NULL, &n);
    assert_non_null(k);
    assert_int_equal(n, 3);
    assert_memory_equal(k, "abc", 3);
    k = authkey_presented("bearer   abc  ", NULL, &n);
    assert_int_equal(n, 3);
    k = authkey_presented(NULL, "xyz", &n);
    assert_memory_equal(k, "xyz", 3);
    assert_null(authkey_presented("Basic dXNlcjpwdw==", NULL, &n));
    assert_null(authkey_presented("Bearer ", NULL, &n));
    assert_null(authkey_presented(NULL, NULL, &n));
}

static void test_roles_are_ordered(void **state)
{
    (void)state;
    assert_true(role_allows(ROLE_ADMIN, ROLE_OPERATOR));
    assert_true(role_allows(ROLE_OPERATOR, ROLE_VIEWER));
    assert_false(role_allows(ROLE_VIEWER, ROLE_OPERATOR));
    assert_false(role_allows(ROLE_NONE, ROLE_VIEWER));
    assert_true(role_allows(ROLE_NONE, ROLE_NONE));
    Role r;
    assert_true(role_parse("operator", &r));
    assert_int_equal(r, ROLE_OPERATOR);
    assert_false(role_parse("root", &r));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authkey_accepts_only_the_key),
        cmocka_unit_test(test_authkey_presented_forms),
        cmocka_unit_test(test_roles_are_ordered),
    };
    return cmocka_run_group_tests_name("authkey", tests, NULL, NULL);
}
