/* metricsdiff: a WebSocket metrics event carries only what changed, and applying it gives
   the next document back */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replication/metricsdiff.h"

static json_t *doc(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void test_diff_carries_only_changes_and_applies_back(void **state)
{
    (void)state;
    json_t *a = doc("{\"collected_at\": \"t1\", \"cycles\": 1,"
                    " \"nodes\": [{\"key\": \"p\", \"up\": true}, {\"key\": \"s\", \"up\": true}],"
                    " \"edges\": [{\"key\": \"physical|p|s|\", \"lag_bytes\": 10},"
                    "             {\"key\": \"logical|p|r|sub\", \"lag_bytes\": 0}],"
                    " \"slots\": [{\"key\": \"p/a\", \"retained_wal_bytes\": 5}]}");
    json_t *b = doc("{\"collected_at\": \"t2\", \"cycles\": 2,"
                    " \"nodes\": [{\"key\": \"p\", \"up\": true}, {\"key\": \"s\", \"up\": false}],"
                    " \"edges\": [{\"key\": \"physical|p|s|\", \"lag_bytes\": 10}],"
                    " \"slots\": [{\"key\": \"p/a\", \"retained_wal_bytes\": 5},"
                    "             {\"key\": \"p/b\", \"retained_wal_bytes\": 1}]}");
    json_t *d = metrics_diff(a, b);
    assert_true(json_is_false(json_object_get(d, "full")));
    assert_string_equal(json_string_value(json_object_get(d, "collected_at")), "t2");
    /* only s changed among the nodes, no edge changed, one slot is new */
    assert_int_equal(json_array_size(json_object_get(d, "nodes")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(d, "nodes"), 0), "key")),
        "s");
    assert_int_equal(json_array_size(json_object_get(d, "edges")), 0);
    assert_int_equal(json_array_size(json_object_get(d, "slots")), 1);
    const json_t *removed = json_object_get(json_object_get(d, "removed"), "edges");
    assert_int_equal(json_array_size(removed), 1);
    assert_string_equal(json_string_value(json_array_get(removed, 0)), "logical|p|r|sub");

    json_t *back = metrics_apply(a, d);
    assert_true(json_equal(back, b));
    /* nothing changed: nothing but the scalars */
    json_t *same = metrics_diff(b, b);
    assert_int_equal(json_array_size(json_object_get(same, "nodes")) +
                         json_array_size(json_object_get(same, "edges")) +
                         json_array_size(json_object_get(same, "slots")),
                     0);
    /* from nothing: everything is new */
    json_t *first = metrics_diff(NULL, b);
    assert_int_equal(json_array_size(json_object_get(first, "nodes")), 2);
    json_decref(first);
    json_decref(same);
    json_decref(back);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_carries_only_changes_and_applies_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
