/* origin: the Host and Origin headers a drive-by page or a DNS rebinding would send are refused */
#include "http/origin.h"
#include "test_util.h"

static void test_hosts(void **state)
{
    (void)state;
    OriginPolicy *p = origin_policy_new("https://PgFleet.Example.com", "http://ops.internal:8080");
    assert_true(origin_host_allowed(p, NULL));
    assert_true(origin_host_allowed(p, "127.0.0.1:8000"));
    assert_true(origin_host_allowed(p, "[::1]:8000"));
    assert_true(origin_host_allowed(p, "10.1.2.3"));
    assert_true(origin_host_allowed(p, "localhost:8000"));
    assert_true(origin_host_allowed(p, "pgfleet.example.com"));
    assert_true(origin_host_allowed(p, "ops.internal:8080"));
    assert_false(origin_host_allowed(p, "evil.test:8000"));
    assert_false(origin_host_allowed(p, "localhost.evil.test"));
    assert_false(origin_host_allowed(p, "127.0.0.1.nip.io"));
    assert_false(origin_host_allowed(p, "x:99999"));
    assert_false(origin_host_allowed(p, ""));
    assert_false(origin_host_allowed(p, "[::1"));
    origin_policy_free(p);
}

static void test_origins(void **state)
{
    (void)state;
    OriginPolicy *p = origin_policy_new("https://pgfleet.example.com", "http://ops.internal:8080, "
                                                                       "https://grafana.example");
    assert_true(origin_allowed(p, NULL, "127.0.0.1:8000"));
    /* same origin, default ports made explicit */
    assert_true(origin_allowed(p, "http://127.0.0.1:8000", "127.0.0.1:8000"));
    assert_true(origin_allowed(p, "http://localhost", "localhost:80"));
    assert_false(origin_allowed(p, "http://127.0.0.1:9000", "127.0.0.1:8000"));
    /* configured ones */
    assert_true(origin_allowed(p, "https://pgfleet.example.com", "10.0.0.7:8000"));
    assert_true(origin_allowed(p, "https://PGFLEET.example.com:443", "10.0.0.7:8000"));
    assert_true(origin_allowed(p, "http://ops.internal:8080", "127.0.0.1:8000"));
    assert_true(origin_allowed(p, "https://grafana.example", "127.0.0.1:8000"));
    /* foreign, opaque and malformed */
    assert_false(origin_allowed(p, "http://evil.test", "127.0.0.1:8000"));
    assert_false(origin_allowed(p, "null", "127.0.0.1:8000"));
    assert_false(origin_allowed(p, "file://", "127.0.0.1:8000"));
    assert_false(origin_allowed(p, "http://u@127.0.0.1:8000", "127.0.0.1:8000"));
    assert_false(origin_allowed(p, "http://evil.test", NULL));
    origin_policy_free(p);
    p = origin_policy_new(NULL, NULL);
    assert_false(origin_allowed(p, "https://pgfleet.example.com", "evil.test"));
    origin_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
