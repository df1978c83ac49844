/* WebSocket topics clients may subscribe to */
#include "http/wshub.h"
#include "test_util.h"

static void test_topic_names(void **state)
{
    (void)state;
    assert_true(wshub_topic_valid("heartbeat"));
    assert_true(wshub_topic_valid("health"));
    assert_true(wshub_topic_valid("stream:stream_1a2b"));
    assert_true(wshub_topic_valid("migration:mig_1"));
    assert_false(wshub_topic_valid("stream:"));
    assert_false(wshub_topic_valid("stream:a b"));
    assert_false(wshub_topic_valid("nope"));
    assert_false(wshub_topic_valid("nope:1"));
    assert_false(wshub_topic_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),
    };
    return cmocka_run_group_tests_name("wshub", tests, NULL, NULL);
}
