/* PostgreSQL log records -> replication events, in the three log formats */
#include <string.h>

#include "common/jsonutil.h"
#include "logs/logparse.h"
#include "test_util.h"

static json_t *event(const char *line, LogFormatKind fmt)
{
    LogRecord r;
    if (!logparse_record(line, strlen(line), fmt, &r))
        return NULL;
    return logparse_classify(&r);
}

static void expect_kind(const char *line, LogFormatKind fmt, const char *kind, const char *object)
{
    json_t *e = event(line, fmt);
    if (!e)
        fail_msg("no event for: %s", line);
    assert_string_equal(jsonutil_str(e, "kind"), kind);
    if (object)
        assert_string_equal(jsonutil_str(e, "object"), object);
    assert_non_null(jsonutil_str(e, "hint"));
    json_decref(e);
}

static void test_stderr_debian_prefix(void **state)
{
    (void)state;
    const char *line = "2026-11-26 14:47:06.423 UTC [6330] FATAL:  could not start WAL streaming: "
                       "ERROR:  replication slot \"standby1_slot\" does not exist";
    LogRecord r;
    assert_true(logparse_record(line, strlen(line), LOGF_STDERR, &r));
    assert_string_equal(r.severity, "FATAL");
    assert_int_equal(r.pid, 6330);
    assert_string_equal(r.time, "2026-11-26 14:47:06.423 UTC");
    expect_kind(line, LOGF_STDERR, "slot_missing", "standby1_slot");
}

static void test_stderr_user_db_and_rds_prefixes(void **state)
{
    (void)state;
    const char *deb = "2026-11-26 15:00:01.001 UTC [77] app@orders ERROR:  publication \"p1\" does "
                      "not exist";
    LogRecord r;
    assert_true(logparse_record(deb, strlen(deb), LOGF_STDERR, &r));
    assert_string_equal(r.user, "app");
    assert_string_equal(r.database, "orders");
    expect_kind(deb, LOGF_STDERR, "publication_missing", "p1");
    const char *rds = "2026-11-26 15:00:02 UTC:10.0.1.5(51234):repl@postgres:[4321]:ERROR:  "
                      "requested WAL segment 000000010000000000000003 has already been removed";
    assert_true(logparse_record(rds, strlen(rds), LOGF_STDERR, &r));
    assert_int_equal(r.pid, 4321);
    assert_string_equal(r.severity, "ERROR");
    expect_kind(rds, LOGF_STDERR, "wal_removed", NULL);
    const char *kv = "2026-11-26 15:00:03 UTC [88]: [3-1] user=rep,db=shop,app=walreceiver "
                     "FATAL:  could not connect to the primary server: connection refused";
    assert_true(logparse_record(kv, strlen(kv), LOGF_STDERR, &r));
    assert_string_equal(r.database, "shop");
    expect_kind(kv, LOGF_STDERR, "upstream_unreachable", NULL);
}

static void test_csvlog_with_quotes_and_newlines(void **state)
{
    (void)state;
    const char *csv =
        "2026-11-26 15:01:00.000 UTC,\"postgres\",\"reporting\",1234,\"127.0.0.1:5000\","
        "6561ab.4d2,1,\"idle\",2026-11-26 15:00:00 UTC,3/7,0,ERROR,23505,\"duplicate key value "
        "violates unique constraint \"\"orders_pkey\"\"\",\"Key (id)=(1) already exists.\n"
        "second line\",,,,\"processing remote data\",,,,\"\",\"logical replication worker\",,0";
    LogRecord r;
    assert_true(logparse_record(csv, strlen(csv), LOGF_CSV, &r));
    assert_string_equal(r.severity, "ERROR");
    assert_string_equal(r.sqlstate, "23505");
    assert_string_equal(r.database, "reporting");
    assert_int_equal(r.pid, 1234);
    assert_non_null(strstr(r.detail, "already exists"));
    expect_kind(csv, LOGF_CSV, "apply_conflict", "orders_pkey");
    /* the same violation in a normal session is not a replication event */
    const char *app = "2026-11-26 15:01:00.000 UTC,\"app\",\"shop\",99,,x,1,,,,0,ERROR,23505,"
                      "\"duplicate key value violates unique constraint \"\"k\"\"\",,,,,,,,,"
                      "\"psql\",\"client backend\",,0";
    assert_null(event(app, LOGF_CSV));
}

static void test_jsonlog(void **state)
{
    (void)state;
    const char *j = "{\"timestamp\":\"2026-11-26 15:02:00.000 UTC\",\"user\":\"postgres\","
                    "\"dbname\":\"reporting\",\"pid\":555,\"error_severity\":\"ERROR\","
                    "\"state_code\":\"55000\",\"message\":\"logical replication subscription "
                    "\\\"orders_sub\\\" has been disabled because of an error\","
                    "\"backend_type\":\"logical replication worker\"}";
    LogRecord r;
    assert_true(logparse_record(j, strlen(j), LOGF_AUTO, &r));
    assert_int_equal(r.pid, 555);
    expect_kind(j, LOGF_JSON, "subscription_disabled", "orders_sub");
}

static void test_other_replication_problems(void **state)
{
    (void)state;
    const char *p = "2026-11-26 15:03:00 UTC [1] ";
    char line[512];
    struct {
        const char *text, *kind;
    } cases[] = {
        {"LOG:  terminating walsender process due to replication timeout", "replication_timeout"},
        {"FATAL:  number of requested standby connections exceeds max_wal_senders (currently 2)",
         "wal_senders_exhausted"},
        {"ERROR:  all replication slots are in use", "slots_exhausted"},
        {"WARNING:  out of logical replication worker slots", "workers_exhausted"},
        {"ERROR:  logical replication target relation \"public.items\" is missing replicated "
         "columns",
         "apply_missing_table"},
        {"ERROR:  can no longer get changes from replication slot \"s1\"", "slot_invalidated"},
        {"FATAL:  could not receive data from WAL stream: server closed the connection",
         "stream_broken"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(line, sizeof line, "%s%s", p, cases[i].text);
        expect_kind(line, LOGF_STDERR, cases[i].kind, NULL);
    }
}

static void test_below_error_is_at_most_a_warning(void **state)
{
    (void)state;
    json_t *e = event("2026-11-26 15:06:00 UTC [9] WARNING:  publication \"p1\" does not exist on "
                      "the publisher",
                      LOGF_STDERR);
    assert_non_null(e);
    assert_string_equal(jsonutil_str(e, "kind"), "publication_missing");
    assert_string_equal(jsonutil_str(e, "severity"), "warning");
    assert_string_equal(jsonutil_str(e, "log_severity"), "WARNING");
    json_decref(e);
}

static void test_noise_is_not_an_event(void **state)
{
    (void)state;
    const char *lines[] = {
        "2026-11-26 15:04:00 UTC [2] LOG:  checkpoint starting: time",
        "2026-11-26 15:04:00 UTC [2] STATEMENT:  SELECT 1",
        "\tcontinuation line of a previous record",
        "",
        "{not json",
        "ERROR without the two spaces",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        json_t *e = event(lines[i], LOGF_AUTO);
        if (e)
            fail_msg("unexpected event for '%s'", lines[i]);
    }
    LogRecord r;
    assert_false(logparse_record("garbage,\"x", 10, LOGF_CSV, &r));
}

static void test_hostile_input_is_bounded(void **state)
{
    (void)state;
    static char big[200000];
    memset(big, 'A', sizeof big - 1);
    memcpy(big, "2026-11-26 15:05:00 UTC [3] ERROR:  ", 36);
    LogRecord r;
    assert_true(logparse_record(big, strlen(big), LOGF_STDERR, &r));
    assert_true(strlen(r.message) < sizeof r.message);
    char ctl[] =
        "2026-11-26 15:05:00 UTC [3] ERROR:  replication slot \"a\x1b[31mb\" does not exist";
    assert_true(logparse_record(ctl, strlen(ctl), LOGF_STDERR, &r));
    assert_null(strchr(r.message, '\x1b'));
}

/* random bytes and mutated real lines, in every format: no crash, bounded output */
static void test_random_input_is_safe(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "2026-11-26 14:47:06.423 UTC [6330] FATAL:  replication slot \"s\" does not exist",
        "2026-11-26 15:01:00 UTC,\"u\",\"d\",1,,x,1,,,,0,ERROR,23505,\"m "
        "\"\"q\"\"\",,,,,,,,,\"a\",\"b\",,0",
        "{\"error_severity\":\"ERROR\",\"message\":\"publication \\\"p\\\" does not exist\"}",
    };
    unsigned seed = 12345;
    char buf[600];
    for (int i = 0; i < 200000; i++) {
        const char *s = seeds[i % 3];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        for (int k = 0; k < 1 + i % 8; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % n;
            buf[pos] = (char)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 4) % (n + 1);
        LogRecord r;
        LogFormatKind f = (LogFormatKind)(i % 4);
        if (logparse_record(buf, len, f, &r)) {
            assert_true(strlen(r.message) < sizeof r.message);
            json_decref(logparse_classify(&r));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr_debian_prefix),
        cmocka_unit_test(test_stderr_user_db_and_rds_prefixes),
        cmocka_unit_test(test_csvlog_with_quotes_and_newlines),
        cmocka_unit_test(test_jsonlog),
        cmocka_unit_test(test_other_replication_problems),
        cmocka_unit_test(test_below_error_is_at_most_a_warning),
        cmocka_unit_test(test_noise_is_not_an_event),
        cmocka_unit_test(test_hostile_input_is_bounded),
        cmocka_unit_test(test_random_input_is_safe),
    };
    return cmocka_run_group_tests_name("logparse", tests, NULL, NULL);
}
