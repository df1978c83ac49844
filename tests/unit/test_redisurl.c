/* redis URLs: TLS, ACL users, percent-decoding, errors */
#include <string.h>

#include "store/redisurl.h"
#include "test_util.h"

static void test_redisurl_full(void **state)
{
    (void)state;
    RedisUrl u;
    char err[128];
    assert_true(
        redisurl_parse("rediss://app:p%40ss%3Aw@cache.example.com:6380/3", &u, err, sizeof err));
    assert_true(u.tls);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "p@ss:w");
    assert_string_equal(u.host, "cache.example.com");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    redisurl_free(&u);
}

static void test_redisurl_defaults_and_forms(void **state)
{
    (void)state;
    RedisUrl u;
    char err[128];
    assert_true(redisurl_parse("redis://localhost", &u, err, sizeof err));
    assert_false(u.tls);
    assert_null(u.user);
    assert_null(u.password);
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    redisurl_free(&u);

    assert_true(redisurl_parse("redis://:only-pw@[::1]:7000/", &u, err, sizeof err));
    assert_null(u.user);
    assert_string_equal(u.password, "only-pw");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    redisurl_free(&u);

    assert_true(redisurl_parse("redis://legacy-pw@h", &u, err, sizeof err));
    assert_null(u.user);
    assert_string_equal(u.password, "legacy-pw");
    redisurl_free(&u);
}

static void test_redisurl_errors(void **state)
{
    (void)state;
    const char *bad[] = {"http://h",        "redis://",      "redis://h:0",
                         "redis://h:99999", "redis://h:abc", "redis://h/x",
                         "redis://u:%zz@h", "redis://[::1",  "redis://u:%00@h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RedisUrl u;
        char err[128] = "";
        if (redisurl_parse(bad[i], &u, err, sizeof err))
            fail_msg("%s should be refused", bad[i]);
        assert_true(strlen(err) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redisurl_full),
        cmocka_unit_test(test_redisurl_defaults_and_forms),
        cmocka_unit_test(test_redisurl_errors),
    };
    return cmocka_run_group_tests_name("redisurl", tests, NULL, NULL);
}
