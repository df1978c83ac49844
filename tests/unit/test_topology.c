/* topology_build: the graph from recorded-shape snapshots (physical cascade, logical edges,
 * unknown lag, unreachable and unmanaged nodes) */
#include <string.h>

#include "common/jsonutil.h"
#include "replication/topology.h"
#include "test_util.h"

static json_t *snap(const char *host, int port, bool standby, const char *current,
                    const char *replay)
{
    char id[64];
    snprintf(id, sizeof id, "%s:%d", host, port);
    return json_pack("{s:s, s:s, s:i, s:b, s:n, s:{s:s, s:b, s:s, s:i, s:s, s:s?, s:s, s:s?},"
                     " s:[], s:n, s:[], s:[], s:[], s:[], s:[s]}",
                     "id", id, "host", host, "port", port, "reached", 1, "error", "instance",
                     "system_identifier", "7300000000000000001", "in_recovery", standby,
                     "server_version", "15.8", "timeline", 1, "current_lsn", current, "replay_lsn",
                     replay, "wal_level", "logical", "cluster_name", standby ? "standby_a" : NULL,
                     "replication", "wal_receiver", "slots", "subscriptions",
                     "subscription_workers", "subscription_stats", "databases", "postgres");
}

static const json_t *edge(const json_t *topo, const char *kind, const char *to)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(topo, "edges"), i,
                       e) if (!strcmp(jsonutil_str(e, "kind"), kind) &&
                              !strcmp(jsonutil_str(e, "to"), to)) return e;
    return NULL;
}

static const json_t *node(const json_t *topo, const char *id)
{
    size_t i;
    const json_t *n;
    json_array_foreach(json_object_get(topo, "nodes"), i,
                       n) if (!strcmp(jsonutil_str(n, "id"), id)) return n;
    return NULL;
}

static void test_cascade_edges_carry_lag_in_bytes_and_seconds(void **state)
{
    (void)state;
    json_t *p = snap("127.0.0.1", 5001, false, "0/3000100", NULL);
    json_t *s = snap("127.0.0.1", 5002, true, "0/3000000", "0/3000000");
    json_t *c = snap("127.0.0.1", 5003, true, "0/2FFFF00", "0/2FFFF00");
    json_array_append_new(json_object_get(p, "replication"),
                          json_pack("{s:s, s:s, s:f, s:s}", "slot_name", "standby_a",
                                    "application_name", "standby_a", "replay_lag_seconds", 0.5,
                                    "sync_state", "async"));
    json_object_set_new(s, "wal_receiver",
                        json_pack("{s:s, s:s, s:i, s:s}", "status", "streaming", "sender_host",
                                  "127.0.0.1", "sender_port", 5001, "slot_name", "standby_a"));
    json_object_set_new(c, "wal_receiver",
                        json_pack("{s:s, s:s, s:i, s:s}", "status", "streaming", "sender_host",
                                  "localhost", "sender_port", 5002, "slot_name", "cascade_b"));
    json_t *snaps = json_pack("[o, o, o]", p, s, c);
    json_t *t = topology_build(snaps);
    const json_t *ps = edge(t, "physical", "127.0.0.1:5002");
    assert_non_null(ps);
    assert_string_equal(jsonutil_str(ps, "from"), "127.0.0.1:5001");
    assert_int_equal(json_integer_value(json_object_get(ps, "lag_bytes")), 0x100);
    assert_true(json_real_value(json_object_get(ps, "replay_lag_seconds")) == 0.5);
    assert_true(json_is_true(json_object_get(ps, "confirmed")));
    /* the cascade's upstream reached as localhost is the same node as 127.0.0.1 */
    const json_t *sc = edge(t, "physical", "127.0.0.1:5003");
    assert_non_null(sc);
    assert_string_equal(jsonutil_str(sc, "from"), "127.0.0.1:5002");
    assert_int_equal(json_integer_value(json_object_get(sc, "lag_bytes")), 0x100);
    /* no pg_stat_replication row seen for it upstream: lag in seconds is unknown, not 0 */
    assert_true(json_is_null(json_object_get(sc, "replay_lag_seconds")));
    assert_string_equal(jsonutil_str(node(t, "127.0.0.1:5002"), "role"), "standby");
    assert_int_equal(json_array_size(json_object_get(t, "nodes")), 3);
    json_decref(t);
    json_decref(snaps);
}

static void test_unreachable_upstream_is_an_unmanaged_node_and_lag_is_unknown(void **state)
{
    (void)state;
    json_t *s = snap("127.0.0.1", 5002, true, "0/3000000", "0/3000000");
    /* no WAL receiver: the upstream comes from primary_conninfo, its password never shown */
    json_object_set_new(json_object_get(s, "instance"), "primary_conninfo",
                        json_string("host=10.0.0.9 port=5432 user=rep password=s3cret"));
    json_t *down =
        json_pack("{s:s, s:s, s:i, s:b, s:{s:s}}", "id", "127.0.0.1:5009", "host", "127.0.0.1",
                  "port", 5009, "reached", 0, "error", "message", "connection refused");
    json_t *snaps = json_pack("[o, o]", s, down);
    json_t *t = topology_build(snaps);
    const json_t *e = edge(t, "physical", "127.0.0.1:5002");
    assert_non_null(e);
    assert_string_equal(jsonutil_str(e, "from"), "10.0.0.9:5432");
    assert_string_equal(jsonutil_str(e, "state"), "disconnected");
    assert_true(json_is_null(json_object_get(e, "lag_bytes")));
    const json_t *up = node(t, "10.0.0.9:5432");
    assert_non_null(up);
    assert_true(json_is_false(json_object_get(up, "managed")));
    assert_true(json_is_false(json_object_get(node(t, "127.0.0.1:5009"), "reachable")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "unreachable"), 0)),
                        "127.0.0.1:5009");
    char *text = jsonutil_dumps(t);
    assert_null(strstr(text, "s3cret"));
    free(text);
    json_decref(t);
    json_decref(snaps);
}

static json_t *subscription(json_int_t oid, const char *name, bool enabled, const char *conninfo)
{
    return json_pack("{s:I, s:s, s:s, s:b, s:s, s:[s], s:s}", "oid", oid, "database", "reporting",
                     "name", name, "enabled", enabled, "slot", name, "publications", "orders_pub",
                     "conninfo", conninfo);
}

static void test_logical_edges_from_subscriptions_and_publisher_slots(void **state)
{
    (void)state;
    json_t *pub = snap("127.0.0.1", 5001, false, "0/5000000", NULL);
    json_t *sub = snap("127.0.0.1", 5004, false, "0/1000000", NULL);
    json_array_append_new(json_object_get(pub, "slots"),
                          json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s}", "slot_name", "live_sub",
                                    "slot_type", "logical", "database", "shop", "active", 1,
                                    "retained_wal_bytes", (json_int_t)4096, "confirmed_lag_bytes",
                                    (json_int_t)42, "wal_status", "reserved"));
    const char *ci = "host=127.0.0.1 port=5001 dbname=shop user=app password=pw";
    json_array_append_new(json_object_get(sub, "subscriptions"),
                          subscription(1, "live_sub", 1, ci));
    json_array_append_new(json_object_get(sub, "subscriptions"), subscription(2, "off_sub", 0, ci));
    json_array_append_new(json_object_get(sub, "subscription_workers"),
                          json_pack("{s:I, s:i, s:n}", "oid", (json_int_t)1, "pid", 777, "relid"));
    json_t *snaps = json_pack("[o, o]", pub, sub);
    json_t *t = topology_build(snaps);
    size_t i;
    const json_t *e, *live = NULL, *off = NULL;
    json_array_foreach(json_object_get(t, "edges"), i, e)
    {
        const char *name = jsonutil_str(e, "subscription");
        if (name && !strcmp(name, "live_sub"))
            live = e;
        if (name && !strcmp(name, "off_sub"))
            off = e;
    }
    assert_non_null(live);
    assert_non_null(off);
    assert_string_equal(jsonutil_str(live, "from"), "127.0.0.1:5001");
    assert_string_equal(jsonutil_str(live, "source_database"), "shop");
    assert_string_equal(jsonutil_str(live, "state"), "streaming");
    assert_int_equal(json_integer_value(json_object_get(live, "lag_bytes")), 42);
    assert_string_equal(jsonutil_str(off, "state"), "disabled");
    /* a disabled subscription's lag is unknown; its slot was not seen either */
    assert_true(json_is_null(json_object_get(off, "lag_bytes")));
    assert_true(json_is_false(json_object_get(off, "confirmed")));
    const json_t *slot = json_array_get(json_object_get(t, "slots"), 0);
    /* members a snapshot lacks (safe_wal_size, confirmed_flush_lsn here) are null, not fatal */
    assert_non_null(slot);
    assert_int_equal(json_integer_value(json_object_get(slot, "retained_wal_bytes")), 4096);
    assert_string_equal(jsonutil_str(slot, "node"), "127.0.0.1:5001");
    json_decref(t);
    json_decref(snaps);
}

/* a standby of a subscriber carries the subscription in its copied catalog; it never runs */
static void test_a_standbys_copy_of_a_subscription_is_no_edge(void **state)
{
    (void)state;
    json_t *pub = snap("127.0.0.1", 5001, false, "0/5000000", NULL);
    json_t *sub = snap("127.0.0.1", 5004, false, "0/1000000", NULL);
    json_t *copy = snap("127.0.0.1", 5005, true, "0/1000000", "0/1000000");
    const char *ci = "host=127.0.0.1 port=5001 dbname=shop user=app";
    json_array_append_new(json_object_get(sub, "subscriptions"),
                          subscription(1, "live_sub", 1, ci));
    json_array_append_new(json_object_get(copy, "subscriptions"),
                          subscription(1, "live_sub", 1, ci));
    json_t *snaps = json_pack("[o, o, o]", pub, sub, copy);
    json_t *t = topology_build(snaps);
    assert_non_null(edge(t, "logical", "127.0.0.1:5004"));
    assert_null(edge(t, "logical", "127.0.0.1:5005"));
    json_decref(t);
    json_decref(snaps);
}

static void test_lsn_text_to_bytes(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(topology_parse_lsn("16/B374D848", &v));
    assert_true(v == ((uint64_t)0x16 << 32 | 0xB374D848));
    assert_true(topology_parse_lsn("0/0", &v) && v == 0);
    assert_false(topology_parse_lsn("16B374D848", &v));
    assert_false(topology_parse_lsn("x/1", &v));
    assert_false(topology_parse_lsn("", &v));
}

/* one server's share of a large answer, sliced */
static void test_page_filters_a_node_and_slices(void **state)
{
    (void)state;
    json_t *doc = json_loads(
        "{\"nodes\": [{\"id\": \"a:1\"}, {\"id\": \"b:1\"}],"
        " \"edges\": [{\"from\": \"a:1\", \"to\": \"b:1\"}, {\"from\": \"b:1\", \"to\": \"c:1\"},"
        "            {\"from\": \"c:1\", \"to\": \"d:1\"}],"
        " \"slots\": [{\"node\": \"a:1\", \"name\": \"x\"}, {\"node\": \"b:1\", \"name\": \"y\"},"
        "            {\"node\": \"b:1\", \"name\": \"z\"}]}",
        0, NULL);
    assert_non_null(doc);
    json_t *b = json_deep_copy(doc);
    topology_page(b, "b:1", 0, 0);
    assert_int_equal(json_array_size(json_object_get(b, "nodes")), 1);
    assert_int_equal(json_array_size(json_object_get(b, "edges")), 2); /* from or to b */
    assert_int_equal(json_integer_value(json_object_get(b, "slots_total")), 2);
    assert_true(json_is_null(json_object_get(b, "next_offset")));
    json_t *p = json_deep_copy(doc);
    topology_page(p, NULL, 1, 1);
    assert_int_equal(json_array_size(json_object_get(p, "nodes")), 2); /* never sliced */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(p, "edges"), 0), "from")),
        "b:1");
    assert_int_equal(json_integer_value(json_object_get(p, "edges_total")), 3);
    assert_int_equal(json_integer_value(json_object_get(p, "next_offset")), 2);
    json_decref(b);
    json_decref(p);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cascade_edges_carry_lag_in_bytes_and_seconds),
        cmocka_unit_test(test_unreachable_upstream_is_an_unmanaged_node_and_lag_is_unknown),
        cmocka_unit_test(test_logical_edges_from_subscriptions_and_publisher_slots),
        cmocka_unit_test(test_a_standbys_copy_of_a_subscription_is_no_edge),
        cmocka_unit_test(test_lsn_text_to_bytes),
        cmocka_unit_test(test_page_filters_a_node_and_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
