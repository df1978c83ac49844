/* mask_secrets: every form a password takes in URLs and connection strings is hidden */
#include <string.h>

#include "common/mask.h"
#include "test_util.h"

static void expect(const char *in, const char *want)
{
    char out[512];
    mask_secrets(in, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("mask(%s) = %s, want %s", in, out, want);
}

static void test_urls(void **state)
{
    (void)state;
    expect("redis://u:pw@h:6379/0", "redis://u:****@h:6379/0");
    expect("redis://pw@h", "redis://****@h");
    expect("rediss://:pw@h/1", "rediss://:****@h/1");
    expect("redis://h:6379/0", "redis://h:6379/0");
    expect("postgresql://app@db/x", "postgresql://app@db/x");
    expect("postgres://app:s3cr%40t@db:5432/x?sslmode=require",
           "postgres://app:****@db:5432/x?sslmode=require");
    expect("could not connect to redis://a:b@h (and http://x:y@z) now",
           "could not connect to redis://a:****@h (and http://x:****@z) now");
    expect("https://example.com/path@x", "https://example.com/path@x");
}

static void test_conninfo_and_query(void **state)
{
    (void)state;
    expect("host=x password=secret port=1", "host=x password=**** port=1");
    expect("host=x password = 'a b\\' c' user=u", "host=x password=**** user=u");
    expect("PASSWORD=\"q\"", "PASSWORD=****");
    expect("postgresql://h/db?user=u&password=pw&sslmode=x",
           "postgresql://h/db?user=u&password=****&sslmode=x");
    expect("sslpassword=k token=t secret=s", "sslpassword=**** token=**** secret=****");
    /* not keys: longer words, other separators, plain text */
    expect("secret_id=pgfleet/db/x password_set=true", "secret_id=pgfleet/db/x password_set=true");
    expect("could not read secret: AccessDenied", "could not read secret: AccessDenied");
    expect("no-password=1 mypassword=2", "no-password=1 mypassword=2");
    expect("", "");
}

static void test_truncation_and_detection(void **state)
{
    (void)state;
    char out[8];
    mask_secrets("password=abcdef", out, sizeof out);
    assert_string_equal(out, "passwor");
    assert_true(mask_has_secret("x password=1"));
    assert_false(mask_has_secret("nothing to hide"));
    mask_secrets(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_conninfo_and_query),
        cmocka_unit_test(test_truncation_and_detection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
