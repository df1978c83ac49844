/* the migration statement splitter: quoting, comments, dollar quotes, classification */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/sqlsplit.h"
#include "test_util.h"

static char *stmt(const char *sql, const SqlScript *s, size_t i)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)s->stmts[i].len, sql + s->stmts[i].offset);
    return buf;
}

static void test_semicolons_inside_quotes_and_comments(void **state)
{
    (void)state;
    const char *sql =
        "-- a comment; not a statement\n"
        "CREATE TABLE \"we;ird\" (id int, v text DEFAULT 'a;b''c;');\n"
        "/* block; /* nested; */ still comment; */ INSERT INTO t VALUES (E'x\\';y');\n"
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; SELECT 2; $body$ "
        "LANGUAGE sql;\n"
        "DO $$ BEGIN PERFORM 1; END $$;\n"
        "SELECT $1::int;;  ;\n"
        "SELECT 'tail without semicolon'";
    SqlScript s;
    sqlsplit(sql, strlen(sql), &s);
    assert_false(s.unterminated);
    assert_int_equal(s.n, 6);
    assert_string_equal(stmt(sql, &s, 0),
                        "CREATE TABLE \"we;ird\" (id int, v text DEFAULT 'a;b''c;')");
    assert_int_equal(s.stmts[0].line, 2);
    assert_string_equal(stmt(sql, &s, 1), "INSERT INTO t VALUES (E'x\\';y')");
    assert_int_equal(s.stmts[1].line, 3);
    assert_non_null(strstr(stmt(sql, &s, 2), "SELECT 2; $body$ LANGUAGE sql"));
    assert_string_equal(stmt(sql, &s, 3), "DO $$ BEGIN PERFORM 1; END $$");
    assert_false(s.stmts[3].tx_control); /* BEGIN inside a DO body is not transaction control */
    assert_string_equal(stmt(sql, &s, 4), "SELECT $1::int");
    assert_string_equal(stmt(sql, &s, 5), "SELECT 'tail without semicolon'");
    assert_int_equal(s.stmts[5].line, 7);
    sqlsplit_free(&s);
}

static void test_statements_that_cannot_run_in_a_transaction(void **state)
{
    (void)state;
    struct {
        const char *sql;
        bool non_tx, tx;
    } cases[] = {
        {"CREATE INDEX CONCURRENTLY i ON t (a)", true, false},
        {"create unique index concurrently if not exists i on t (a)", true, false},
        {"DROP INDEX CONCURRENTLY i", true, false},
        {"REINDEX INDEX CONCURRENTLY i", true, false},
        {"VACUUM (ANALYZE) t", true, false},
        {"ALTER SYSTEM SET work_mem = '8MB'", true, false},
        {"CREATE DATABASE x", true, false},
        {"/* lead */ -- more\n DROP DATABASE x", true, false},
        {"CREATE INDEX i ON t (a)", false, false},
        {"CREATE TABLE concurrently (a int)", false, false}, /* a table named so */
        {"BEGIN", false, true},
        {"commit", false, true},
        {"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", false, true},
        {"SAVEPOINT a", false, true},
        {"SELECT 'VACUUM'", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SqlScript s;
        sqlsplit(cases[i].sql, strlen(cases[i].sql), &s);
        assert_int_equal(s.n, 1);
        if (s.stmts[0].non_tx != cases[i].non_tx || s.stmts[0].tx_control != cases[i].tx)
            fail_msg("wrong class for: %s", cases[i].sql);
        sqlsplit_free(&s);
    }
}

static void test_unterminated_and_empty(void **state)
{
    (void)state;
    const char *bad[] = {"SELECT 'open", "SELECT \"open", "SELECT 1; /* open", "DO $x$ open $y$",
                         "SELECT E'esc\\'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SqlScript s;
        sqlsplit(bad[i], strlen(bad[i]), &s);
        if (!s.unterminated)
            fail_msg("not flagged: %s", bad[i]);
        sqlsplit_free(&s);
    }
    SqlScript s;
    sqlsplit(" -- only a comment\n ;; /* x */", 29, &s);
    assert_int_equal(s.n, 0);
    sqlsplit_free(&s);
}

static void test_random_input_is_safe(void **state)
{
    (void)state;
    const char alphabet[] = "ab$'\"E;-/*\n\\ ()x";
    char buf[256];
    srand(7);
    for (int round = 0; round < 100000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[rand() % (int)(sizeof alphabet - 1)];
        SqlScript s;
        sqlsplit(buf, n, &s);
        size_t end = 0;
        for (size_t i = 0; i < s.n; i++) {
            assert_true(s.stmts[i].offset >= end && s.stmts[i].offset + s.stmts[i].len <= n);
            end = s.stmts[i].offset + s.stmts[i].len;
        }
        sqlsplit_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semicolons_inside_quotes_and_comments),
        cmocka_unit_test(test_statements_that_cannot_run_in_a_transaction),
        cmocka_unit_test(test_unterminated_and_empty),
        cmocka_unit_test(test_random_input_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
