/* decorrelated jitter stays within bounds and grows */
#include <sodium.h>

#include "common/backoff.h"
#include "test_util.h"

static void test_backoff_stays_within_base_and_cap(void **state)
{
    (void)state;
    Backoff b;
    backoff_init(&b, 100, 5000);
    uint64_t max_seen = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t d = backoff_next(&b);
        assert_true(d >= 100 && d <= 5000);
        if (d > max_seen)
            max_seen = d;
    }
    assert_true(max_seen > 1000); /* it does grow */
    backoff_reset(&b);
    assert_int_equal(b.attempts, 0);
    assert_true(backoff_next(&b) <= 300);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_stays_within_base_and_cap),
    };
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
