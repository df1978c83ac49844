/* configuration: defaults, env values, validation messages, masking */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "test_util.h"

typedef struct Env {
    const char *pairs[16][2];
} Env;

static const char *fake_getenv(const char *name, void *ud)
{
    const Env *e = ud;
    for (int i = 0; i < 16 && e->pairs[i][0]; i++)
        if (strcmp(e->pairs[i][0], name) == 0)
            return e->pairs[i][1];
    return NULL;
}

static void test_config_defaults_when_env_is_empty(void **state)
{
    (void)state;
    Env env = {{{NULL, NULL}}};
    Config cfg;
    char err[256];
    assert_true(config_load(&cfg, fake_getenv, &env, err, sizeof err));
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8000);
    assert_string_equal(config_get(&cfg, CFG_REDIS_PREFIX), "pgfleet:");
    assert_null(config_get(&cfg, CFG_AUTH_KEY));
    assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
    assert_false(cfg.from_env[CFG_LISTEN]);
    config_free(&cfg);
}

static void test_config_reads_env_values(void **state)
{
    (void)state;
    Env env = {{{"PGFLEET_LISTEN", "[::1]:9000"},
                {"PGFLEET_LOG_LEVEL", "debug"},
                {"PGFLEET_LOG_FORMAT", "text"},
                {"AUTH_KEY", "k"},
                {NULL, NULL}}};
    Config cfg;
    char err[256];
    assert_true(config_load(&cfg, fake_getenv, &env, err, sizeof err));
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 9000);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
    assert_true(cfg.from_env[CFG_AUTH_KEY]);
    config_free(&cfg);
}

static void expect_error(const char *var, const char *value, const char *needle)
{
    Env env = {{{var, value}, {NULL, NULL}}};
    Config cfg;
    char err[256] = "";
    assert_false(config_load(&cfg, fake_getenv, &env, err, sizeof err));
    if (!strstr(err, needle) || !strstr(err, var))
        fail_msg("error '%s' should name %s and say '%s'", err, var, needle);
    config_free(&cfg);
}

static void test_config_bad_values_name_the_variable_and_rule(void **state)
{
    (void)state;
    expect_error("PGFLEET_LISTEN", "8000", "host:port");
    expect_error("PGFLEET_LISTEN", "127.0.0.1:99999", "port 1-65535");
    expect_error("PGFLEET_LISTEN", "::1:8000", "host:port");
    expect_error("PGFLEET_LOG_LEVEL", "loud", "not one of: debug, info, warn, error");
    expect_error("PGFLEET_LOG_FORMAT", "xml", "json, text");
    expect_error("PGFLEET_MAX_BODY_BYTES", "12abc", "not a whole number");
    expect_error("PGFLEET_MAX_BODY_BYTES", "10", "out of range");
    expect_error("PGFLEET_REDIS_URL", "localhost", "not a URL");
    expect_error("PGFLEET_SESSION_IDLE_MINUTES", "half", "not a number");
    expect_error("PGFLEET_SESSION_IDLE_MINUTES", "0", "out of range");
    expect_error("PGFLEET_SESSION_IDLE_MINUTES", "nan", "not a number");
    expect_error("PGFLEET_SESSION_LIFETIME_HOURS", "1000", "out of range");
    expect_error("PGFLEET_TRUST_PROXY", "maybe", "not true or false");
}

static void test_config_masks_secrets(void **state)
{
    (void)state;
    Env env = {{{"AUTH_KEY", "supersecret"},
                {"PGFLEET_REDIS_URL", "rediss://app:hunter2@cache.example.com:6380/1"},
                {NULL, NULL}}};
    Config cfg;
    char err[256], buf[256];
    assert_true(config_load(&cfg, fake_getenv, &env, err, sizeof err));
    assert_string_equal(config_display(&cfg, CFG_AUTH_KEY, buf, sizeof buf), "********");
    assert_string_equal(config_display(&cfg, CFG_REDIS_URL, buf, sizeof buf),
                        "rediss://app:****@cache.example.com:6380/1");
    assert_string_equal(config_display(&cfg, CFG_AWS_REGION, buf, sizeof buf), "(unset)");
    config_free(&cfg);
}

static void test_config_sessions_and_switches(void **state)
{
    (void)state;
    Env env = {{{"PGFLEET_SESSION_IDLE_MINUTES", "0.05"},
                {"PGFLEET_SESSION_LIFETIME_HOURS", "0.5"},
                {"PGFLEET_TRUST_PROXY", "Yes"},
                {"PGFLEET_LOGIN_LOCK_MINUTES", "2"},
                {NULL, NULL}}};
    Config cfg;
    char err[256];
    assert_true(config_load(&cfg, fake_getenv, &env, err, sizeof err));
    assert_true(cfg.session_idle_seconds > 2.99 && cfg.session_idle_seconds < 3.01);
    assert_true(cfg.session_lifetime_seconds > 1799.9 && cfg.session_lifetime_seconds < 1800.1);
    assert_true(cfg.trust_proxy);
    assert_true(cfg.login_lock_seconds > 119.9 && cfg.login_lock_seconds < 120.1);
    assert_int_equal(cfg.audit_max, 100000);
    assert_string_equal(config_get(&cfg, CFG_USERS_SECRET), "pgfleet/users");
    config_free(&cfg);
    Env off = {{{"PGFLEET_TRUST_PROXY", "off"}, {NULL, NULL}}};
    assert_true(config_load(&cfg, fake_getenv, &off, err, sizeof err));
    assert_false(cfg.trust_proxy);
    config_free(&cfg);
}

static void test_config_loopback_detection(void **state)
{
    (void)state;
    assert_true(config_host_is_loopback("127.0.0.1"));
    assert_true(config_host_is_loopback("127.1.2.3"));
    assert_true(config_host_is_loopback("::1"));
    assert_true(config_host_is_loopback("localhost"));
    assert_false(config_host_is_loopback("0.0.0.0"));
    assert_false(config_host_is_loopback("10.0.0.5"));
    assert_false(config_host_is_loopback("::"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_when_env_is_empty),
        cmocka_unit_test(test_config_reads_env_values),
        cmocka_unit_test(test_config_bad_values_name_the_variable_and_rule),
        cmocka_unit_test(test_config_masks_secrets),
        cmocka_unit_test(test_config_sessions_and_switches),
        cmocka_unit_test(test_config_loopback_detection),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
