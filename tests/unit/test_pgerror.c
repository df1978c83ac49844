/* pg_error_classify: libpq's connection errors become a kind and a hint a user can act on */
#include <string.h>

#include "pg/pgconn.h"
#include "test_util.h"

typedef struct Case {
    const char *message;
    PgErrKind kind;
    const char *sqlstate;
    const char *hint_part;
} Case;

static void test_connection_errors_get_a_kind_and_a_hint(void **state)
{
    (void)state;
    PgConnParams p = {.host = "db.internal", .port = 5433, .user = "app", .dbname = "orders"};
    const Case cases[] = {
        {"connection to server at \"10.0.0.5\", port 5433 failed: FATAL:  password "
         "authentication failed for user \"app\"\n",
         PGE_AUTH, "28P01", "role \"app\""},
        {"FATAL:  no pg_hba.conf entry for host \"10.0.0.9\", user \"app\", database \"orders\", "
         "no encryption",
         PGE_HBA, "28000", "sslmode=require"},
        {"FATAL:  role \"ghost\" does not exist", PGE_AUTH, "28000", "create the role"},
        {"FATAL:  database \"orders\" does not exist", PGE_DATABASE, "3D000", "check dbname"},
        {"FATAL:  sorry, too many clients already: too many connections", PGE_LIMIT, "53300",
         "max_connections"},
        {"server does not support SSL, but SSL was required", PGE_TLS, "", "no TLS"},
        {"SSL error: certificate verify failed", PGE_TLS, "", "PGFLEET_PG_CA_FILE"},
        {"connection to server at \"10.0.0.5\", port 5433 failed: Connection refused\n\tIs the "
         "server running on that host and accepting TCP/IP connections?",
         PGE_CONNECT, "", "db.internal:5433"},
        {"connection to server failed: timeout expired", PGE_TIMEOUT, "", "firewall"},
        {"could not connect: No route to host", PGE_CONNECT, "", "cannot be reached"},
        {"server closed the connection unexpectedly", PGE_CLOSED, "", "restarting"},
        {"something nobody expected", PGE_OTHER, "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PgError e;
        memset(&e, 0, sizeof e);
        pg_error_classify(&e, cases[i].message, &p);
        if (e.kind != cases[i].kind)
            fail_msg("case %zu: kind %s, want %s", i, pg_err_kind_name(e.kind),
                     pg_err_kind_name(cases[i].kind));
        assert_string_equal(e.sqlstate, cases[i].sqlstate);
        if (!strstr(e.hint, cases[i].hint_part))
            fail_msg("case %zu: hint '%s' lacks '%s'", i, e.hint, cases[i].hint_part);
        /* the message keeps what libpq said, without a trailing newline */
        assert_true(strlen(e.message) > 0 && e.message[strlen(e.message) - 1] != '\n');
    }
}

static void test_missing_message_and_params_are_safe(void **state)
{
    (void)state;
    PgError e;
    memset(&e, 0, sizeof e);
    pg_error_classify(&e, NULL, NULL);
    assert_int_equal(e.kind, PGE_OTHER);
    assert_string_equal(e.message, "unknown error");
    pg_error_classify(&e, "FATAL:  password authentication failed for user", NULL);
    assert_int_equal(e.kind, PGE_AUTH);
    assert_non_null(strstr(e.hint, "\"?\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_errors_get_a_kind_and_a_hint),
        cmocka_unit_test(test_missing_message_and_params_are_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
