/* order_targets: subscribers before their publishers (after them when the script drops) */
#include <string.h>

#include "common/jsonutil.h"
#include "migrate/order.h"
#include "test_util.h"

/* a publisher p (5432/app), its subscriber s (5433/reporting), and an unrelated u */
static json_t *subs_of_s(void)
{
    return json_pack("[{s:s, s:s, s:s}]", "conninfo",
                     "host=localhost port=5432 dbname=app user=rep password=x", "name",
                     "orders_sub", "slot", "orders_sub");
}

static void nodes3(OrderNode *n, json_t *subs, json_t *none)
{
    n[0] = (OrderNode){"p", "127.0.0.1", 5432, "app", none, NULL};
    n[1] = (OrderNode){"u", "127.0.0.1", 5434, "other", none, NULL};
    n[2] = (OrderNode){"s", "127.0.0.1", 5433, "reporting", subs, NULL};
}

static void test_subscriber_runs_before_its_publisher(void **state)
{
    (void)state;
    json_t *subs = subs_of_s(), *none = json_array(), *plan = json_array();
    OrderNode n[3];
    nodes3(n, subs, none);
    int order[3];
    order_targets(n, 3, false, order, plan);
    /* s moves to just before p; u keeps its place relative to the others */
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);
    assert_int_equal(json_array_size(plan), 1);
    const char *note = json_string_value(json_array_get(plan, 0));
    assert_non_null(strstr(note, "s subscribes to p (subscription orders_sub)"));
    assert_non_null(strstr(note, "does not carry DDL"));
    json_decref(subs);
    json_decref(none);
    json_decref(plan);
}

static void test_a_dropping_script_runs_the_publisher_first(void **state)
{
    (void)state;
    json_t *subs = subs_of_s(), *none = json_array(), *plan = json_array();
    OrderNode n[3];
    nodes3(n, subs, none);
    /* the subscriber given first: a drop moves the publisher ahead of it */
    OrderNode swapped[3] = {n[2], n[1], n[0]};
    int order[3];
    order_targets(swapped, 3, true, order, plan);
    assert_int_equal(order[0], 2); /* p */
    assert_int_equal(order[1], 0); /* s */
    assert_int_equal(order[2], 1); /* u */
    assert_non_null(strstr(json_string_value(json_array_get(plan, 0)), "after its publisher"));
    json_decref(subs);
    json_decref(none);
    json_decref(plan);
}

static void test_relations_outside_the_run_and_cycles(void **state)
{
    (void)state;
    json_t *none = json_array(), *plan = json_array();
    /* a subscription to a server that is not a target: no move, no note */
    json_t *elsewhere =
        json_pack("[{s:s, s:s}]", "conninfo", "host=10.9.9.9 dbname=app", "name", "far_sub");
    /* two targets subscribing to each other: the order settles without looping forever */
    json_t *to_b =
        json_pack("[{s:s, s:s}]", "conninfo", "host=127.0.0.1 port=2 dbname=b", "name", "ab");
    json_t *to_a =
        json_pack("[{s:s, s:s}]", "conninfo", "host=127.0.0.1 port=1 dbname=a", "name", "ba");
    OrderNode n[3] = {{"a", "127.0.0.1", 1, "a", to_b, NULL},
                      {"b", "127.0.0.1", 2, "b", to_a, NULL},
                      {"c", "127.0.0.1", 3, "c", elsewhere, NULL}};
    int order[3];
    order_targets(n, 3, false, order, plan);
    int seen = 0;
    for (int i = 0; i < 3; i++)
        seen |= 1 << order[i];
    assert_int_equal(seen, 7); /* a permutation */
    assert_int_equal(json_array_size(plan), 2);
    assert_int_equal(order_publisher_of(n, 3, "host=10.9.9.9 dbname=app"), -1);
    assert_int_equal(order_publisher_of(n, 3, "port=2 dbname=b host=localhost"), 1);
    assert_int_equal(order_publisher_of(n, 3, "not a conninfo ="), -1);
    json_decref(none);
    json_decref(plan);
    json_decref(elsewhere);
    json_decref(to_a);
    json_decref(to_b);
}

/* a role that may not read subconninfo in the subscriber's database: the slot names the
 * publisher, when exactly one target's database holds a slot of that name */
static void test_unreadable_conninfo_is_matched_by_the_slot(void **state)
{
    (void)state;
    json_t *subs = json_pack("[{s:s, s:s}]", "name", "orders_sub", "slot", "orders_sub");
    json_t *slots = json_pack("[s]", "orders_sub"), *other = json_pack("[s]", "x_sub");
    json_t *none = json_array(), *plan = json_array();
    OrderNode n[3] = {{"p", "127.0.0.1", 5432, "app", none, slots},
                      {"u", "127.0.0.1", 5434, "other", none, other},
                      {"s", "127.0.0.1", 5433, "reporting", subs, NULL}};
    int order[3];
    order_targets(n, 3, false, order, plan);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    const char *note = json_string_value(json_array_get(plan, 0));
    assert_non_null(strstr(note, "s subscribes to p (subscription orders_sub, known by its slot"));
    bool by_slot = false;
    assert_int_equal(order_publisher(n, 3, json_array_get(subs, 0), &by_slot), 0);
    assert_true(by_slot);
    /* the same slot name in two targets' databases: no guess */
    n[1].slots = slots;
    assert_int_equal(order_publisher(n, 3, json_array_get(subs, 0), &by_slot), -1);
    json_decref(subs);
    json_decref(slots);
    json_decref(other);
    json_decref(none);
    json_decref(plan);
}

static void test_which_scripts_drop_or_rename(void **state)
{
    (void)state;
    const char *drops[] = {"CREATE TABLE t (id int)", "drop table old"};
    const char *alter_drop[] = {"ALTER TABLE t DROP COLUMN note"};
    const char *rename[] = {"alter table t rename to u"};
    const char *adds[] = {"ALTER TABLE t ADD COLUMN dropped_at timestamptz",
                          "CREATE INDEX drop_idx ON t (id)"};
    assert_true(order_script_drops(drops, 2));
    assert_true(order_script_drops(alter_drop, 1));
    assert_true(order_script_drops(rename, 1));
    assert_false(order_script_drops(adds, 2));
    assert_false(order_script_drops(adds, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscriber_runs_before_its_publisher),
        cmocka_unit_test(test_a_dropping_script_runs_the_publisher_first),
        cmocka_unit_test(test_relations_outside_the_run_and_cycles),
        cmocka_unit_test(test_unreadable_conninfo_is_matched_by_the_slot),
        cmocka_unit_test(test_which_scripts_drop_or_rename),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
