/* streamsql and pgquote: the statements streams send, with hostile names quoted */
#include <string.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "pg/pgquote.h"
#include "streams/streamsql.h"
#include "test_util.h"

static char *quoted(void (*q)(StrBuf *, const char *), const char *v)
{
    StrBuf sb = STRBUF_INIT;
    q(&sb, v);
    return strbuf_detach(&sb);
}

static void expect(char *got, const char *want)
{
    assert_string_equal(got, want);
    free(got);
}

static void test_literals_identifiers_and_conninfo_values(void **state)
{
    (void)state;
    expect(quoted(pgquote_literal, "it's"), "'it''s'");
    /* a backslash: an E'' string reads the same whatever standard_conforming_strings says */
    expect(quoted(pgquote_literal, "a\\b'c"), "E'a\\\\b''c'");
    expect(quoted(pgquote_ident, "we\"ird"), "\"we\"\"ird\"");
    expect(quoted(pgquote_qualified, "s.t\"x"), "\"s\".\"t\"\"x\"");
    expect(quoted(pgquote_qualified, "plain"), "\"plain\"");
    StrBuf sb = STRBUF_INIT;
    pgquote_conninfo_kv(&sb, "host", "h");
    pgquote_conninfo_kv(&sb, "password", "p'w\\x y");
    expect(strbuf_detach(&sb), "host='h' password='p\\'w\\\\x y'");
    json_t *names = json_pack("[s, s]", "public.a\"b", "s.c\\d");
    expect(pgquote_text_array(names), "{\"public.a\\\"b\",\"s.c\\\\d\"}");
    json_decref(names);
}

static ReplicationStream stream(void)
{
    ReplicationStream s;
    memset(&s, 0, sizeof s);
    s.publication = xstrdup("pub$pgfleet$; DROP TABLE x; --");
    s.subscription = xstrdup("sub\"1");
    s.slot = xstrdup("slot_1");
    s.ntables = 2;
    s.tables = xcalloc(2, sizeof *s.tables);
    s.tables[0] = xstrdup("public.orders");
    s.tables[1] = xstrdup("sales.line \"items\"");
    s.options = (StreamOptions){.copy_data = true, .create_slot = true, .binary = true};
    return s;
}

static void test_create_statements_quote_every_name(void **state)
{
    (void)state;
    ReplicationStream s = stream();
    expect(streamsql_create_publication(&s),
           "CREATE PUBLICATION \"pub$pgfleet$; DROP TABLE x; --\" FOR TABLE \"public\".\"orders\", "
           "\"sales\".\"line \"\"items\"\"\"");
    s.all_tables = true;
    expect(streamsql_create_publication(&s),
           "CREATE PUBLICATION \"pub$pgfleet$; DROP TABLE x; --\" FOR ALL TABLES");
    expect(streamsql_create_subscription(&s, "host='h' password='p''w'"),
           "CREATE SUBSCRIPTION \"sub\"\"1\" CONNECTION 'host=''h'' password=''p''''w''' "
           "PUBLICATION \"pub$pgfleet$; DROP TABLE x; --\" WITH (create_slot = false, slot_name "
           "= 'slot_1', copy_data = true, streaming = off, binary = true)");
    expect(streamsql_probe_subscription("pgfleet_preflight_1", "c", "p"),
           "CREATE SUBSCRIPTION \"pgfleet_preflight_1\" CONNECTION 'c' PUBLICATION \"p\" WITH "
           "(create_slot = false, enabled = false, slot_name = NONE)");
    stream_free(&s);
}

static void test_lifecycle_and_drop_statements(void **state)
{
    (void)state;
    expect(streamsql_alter_subscription("s\"x", "DISABLE"),
           "ALTER SUBSCRIPTION \"s\"\"x\" DISABLE");
    expect(streamsql_drop_subscription("s"), "DROP SUBSCRIPTION IF EXISTS \"s\"");
    expect(streamsql_drop_publication("p"), "DROP PUBLICATION IF EXISTS \"p\"");
    expect(streamsql_publication_table("p", "public.t", true),
           "ALTER PUBLICATION \"p\" ADD TABLE \"public\".\"t\"");
    expect(streamsql_publication_table("p", "public.t", false),
           "ALTER PUBLICATION \"p\" DROP TABLE \"public\".\"t\"");
    /* the guards and catalog reads take parameters, never names in the text */
    assert_non_null(strstr(streamsql_publication_exists, "$1"));
    assert_non_null(strstr(streamsql_subscription_exists, "current_database()"));
    assert_non_null(strstr(streamsql_publication_has_table, "$3"));
}

static void test_the_subscription_conninfo(void **state)
{
    (void)state;
    DatabaseConfig db;
    memset(&db, 0, sizeof db);
    db.host = "db.example.com";
    db.port = 5433;
    db.dbname = "shop floor";
    db.user = "o'brien";
    db.sslmode = SSL_VERIFY_FULL;
    char *ci = streamsql_conninfo(&db, "pa'ss\\", "shop_sub");
    assert_string_equal(ci, "host='db.example.com' port='5433' dbname='shop floor' "
                            "user='o\\'brien' password='pa\\'ss\\\\' sslmode='verify-full' "
                            "application_name='shop_sub'");
    xfree_secret(ci);
    ci = streamsql_conninfo(&db, NULL, "x");
    assert_null(strstr(ci, "password"));
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_identifiers_and_conninfo_values),
        cmocka_unit_test(test_create_statements_quote_every_name),
        cmocka_unit_test(test_lifecycle_and_drop_statements),
        cmocka_unit_test(test_the_subscription_conninfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
