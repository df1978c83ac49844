/* the users secret, password hashes, session tokens and cookies: parsing hostile text */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/sessions.h"
#include "auth/userdoc.h"
#include "http/request.h"
#include "test_util.h"

static const char hash[] = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
                           "d2VsbCB0aGlzIGlzIG5vdCBhIHJlYWwgaGFzaCBhdCBhbGw";

static void test_parse_strict_and_lenient(void **state)
{
    (void)state;
    char text[2048];
    snprintf(
        text, sizeof text,
        "{\"users\": [{\"username\": \"ana\", \"password_hash\": \"%s\", \"role\": \"admin\"},"
        "{\"username\": \"Vic.R@example.com\", \"password_hash\": \"%s\", \"role\": \"viewer\","
        " \"disabled\": true},"
        "{\"username\": \"x y\", \"password_hash\": \"plain\", \"role\": \"god\", \"extra\": 1},"
        "{\"username\": \"ANA\", \"password_hash\": \"%s\", \"role\": \"viewer\"}, 7]}",
        hash, hash, hash);
    UserDoc d;
    Validation v;
    validation_init(&v);
    assert_false(userdoc_parse(&d, text, false, &v));
    assert_int_equal(d.n, 0);
    validation_init(&v);
    assert_true(userdoc_parse(&d, text, true, &v));
    assert_int_equal(d.n, 2); /* the bad entry, the duplicate and the number are left out */
    bool saw_dup = false, saw_role = false, saw_hash = false, saw_type = false;
    for (size_t i = 0; i < v.count; i++) {
        saw_dup |= !strcmp(v.errors[i].rule, "distinct");
        saw_role |= !strcmp(v.errors[i].field, "users[2].role");
        saw_hash |= !strcmp(v.errors[i].field, "users[2].password_hash");
        saw_type |= !strcmp(v.errors[i].field, "users[4]");
    }
    assert_true(saw_dup && saw_role && saw_hash && saw_type);
    const User *u = userdoc_find(&d, "vic.r@EXAMPLE.com");
    assert_non_null(u);
    assert_true(u->disabled);
    assert_int_equal(u->role, ROLE_VIEWER);
    assert_null(userdoc_find(&d, "nobody"));
    /* a round trip keeps what it read */
    char *out = userdoc_dump(&d);
    UserDoc again;
    validation_init(&v);
    assert_true(userdoc_parse(&again, out, false, &v));
    assert_int_equal(again.n, 2);
    assert_true(userdoc_find(&again, "ana")->role == ROLE_ADMIN);
    free(out);
    userdoc_free(&again);
    /* edits */
    assert_false(userdoc_add(&d, "Ana", hash, ROLE_VIEWER));
    assert_true(userdoc_add(&d, "zed", hash, ROLE_OPERATOR));
    assert_true(userdoc_remove(&d, "ANA"));
    assert_false(userdoc_remove(&d, "ana"));
    assert_int_equal(d.n, 2);
    userdoc_free(&d);
}

static void test_not_a_users_document(void **state)
{
    (void)state;
    const char *bad[] = {"", "[]", "{\"users\": {}}", "{\"people\": []}", "{\"users\": [", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        UserDoc d;
        Validation v;
        validation_init(&v);
        assert_false(userdoc_parse(&d, bad[i], true, &v));
        assert_int_equal(d.n, 0);
        assert_true(v.count > 0);
    }
}

static void test_names_and_hashes(void **state)
{
    (void)state;
    assert_true(username_valid("ana"));
    assert_true(username_valid("first.last+ops@example.com"));
    assert_false(username_valid(""));
    assert_false(username_valid(".hidden"));
    assert_false(username_valid("a b"));
    assert_false(username_valid("a\nb"));
    char long_name[200];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_false(username_valid(long_name));

    assert_true(password_hash_valid(hash));
    assert_false(password_hash_valid("$argon2i$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"));
    assert_false(password_hash_valid("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdA$aGFzaA")); /* 4 GiB */
    assert_false(password_hash_valid("$argon2id$v=19$m=65536,t=100,p=1$c2FsdA$aGFzaA"));
    assert_false(password_hash_valid("$argon2id$v=19$m=65536,t=2,p=1"));
    assert_false(password_hash_valid("plain"));
    assert_false(password_hash_valid(NULL));

    char made[PASSWORD_HASH_MAX];
    assert_true(password_hash("correct horse battery", 21, made));
    assert_true(password_hash_valid(made));
    assert_int_equal(strncmp(made, "$argon2id$v=19$m=65536,t=2,p=1$", 31), 0);
    assert_int_equal(crypto_pwhash_str_verify(made, "correct horse battery", 21), 0);
}

static void test_tokens_and_csrf(void **state)
{
    (void)state;
    assert_true(sessions_token_valid("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"));
    assert_false(sessions_token_valid("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd")); /* 42 */
    assert_false(sessions_token_valid("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd="));
    assert_false(sessions_token_valid("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abc;d"));
    assert_false(sessions_token_valid(NULL));
    char a[SESSION_CSRF_LEN + 1], b[SESSION_CSRF_LEN + 1], c[SESSION_CSRF_LEN + 1];
    sessions_csrf("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", a);
    sessions_csrf("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", b);
    sessions_csrf("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdf", c);
    assert_int_equal(strlen(a), SESSION_CSRF_LEN);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_null(strstr(a, "AbCd"));
}

static void test_cookies(void **state)
{
    (void)state;
    struct {
        const char *header, *want;
    } cases[] = {
        {"pgfleet_session=abc", "abc"},
        {"a=1; pgfleet_session=abc; b=2", "abc"},
        {"a=1;pgfleet_session=\"q\"", "q"},
        {"xpgfleet_session=no; pgfleet_session=yes", "yes"},
        {"pgfleet_session=first; pgfleet_session=second", "first"},
        {"pgfleet_session_other=no", NULL},
        {"pgfleet_session", NULL},
        {"", NULL},
        {"pgfleet_session=", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *v = http_cookie_value(cases[i].header, "pgfleet_session");
        if (!cases[i].want)
            assert_null(v);
        else
            assert_string_equal(v, cases[i].want);
        free(v);
    }
    assert_null(http_cookie_value(NULL, "pgfleet_session"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_strict_and_lenient),
        cmocka_unit_test(test_not_a_users_document),
        cmocka_unit_test(test_names_and_hashes),
        cmocka_unit_test(test_tokens_and_csrf),
        cmocka_unit_test(test_cookies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
