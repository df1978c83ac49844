/* request: error documents, JSON body parsing, request ids, holds */
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "http/request.h"
#include "test_util.h"

static int ready_calls;
static int free_calls;
static void on_ready(HttpRequest *req)
{
    (void)req;
    ready_calls++;
}
static void on_free(HttpRequest *req)
{
    (void)req;
    free_calls++;
}

static HttpRequest *new_req(const char *body, const char *ctype)
{
    HttpRequest *req = http_request_new(NULL, (void *)1, on_ready, on_free);
    req->method = HTTP_POST;
    req->path = strdup("/x");
    if (body)
        strbuf_puts(&req->body, body);
    if (ctype)
        req->content_type = strdup(ctype);
    http_request_set_id(req, "test-id");
    return req;
}

static json_t *resp_json(HttpRequest *req)
{
    char err[128];
    json_t *v = jsonutil_parse(req->resp_body.data, req->resp_body.len, err, sizeof err);
    assert_non_null(v);
    return v;
}

static void test_error_document_shape(void **state)
{
    (void)state;
    HttpRequest *req = new_req(NULL, NULL);
    http_respond_error(req, PGF_ERR_NOT_FOUND, "try this", "no such thing: %s", "x");
    assert_int_equal(req->status, 404);
    json_t *doc = resp_json(req);
    json_t *e = json_object_get(doc, "error");
    assert_string_equal(jsonutil_str(e, "code"), "not_found");
    assert_string_equal(jsonutil_str(e, "message"), "no such thing: x");
    assert_string_equal(jsonutil_str(e, "hint"), "try this");
    assert_string_equal(jsonutil_str(e, "request_id"), "test-id");
    /* a second response is ignored */
    http_respond_json(req, 200, json_object());
    assert_int_equal(req->status, 404);
    json_decref(doc);
    http_request_free(req);
}

static void test_json_body_errors(void **state)
{
    (void)state;
    struct {
        const char *body, *ctype;
        unsigned status;
        const char *code;
    } cases[] = {
        {"{\"a\":", "application/json", 400, "bad_json"},
        {"", "application/json", 400, "bad_json"},
        {"[1]", "application/json", 400, "bad_json"},
        {"{\"a\":1,\"a\":2}", "application/json", 400, "bad_json"},
        {"a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        HttpRequest *req = new_req(cases[i].body, cases[i].ctype);
        assert_null(http_request_json_body(req));
        assert_int_equal(req->status, cases[i].status);
        json_t *doc = resp_json(req);
        assert_string_equal(jsonutil_str(json_object_get(doc, "error"), "code"), cases[i].code);
        json_decref(doc);
        http_request_free(req);
    }
    HttpRequest *req = new_req("{\"a\":1}", "application/json; charset=utf-8");
    json_t *v = http_request_json_body(req);
    assert_non_null(v);
    assert_false(req->responded);
    json_decref(v);
    http_request_free(req);
}

static void test_request_ids(void **state)
{
    (void)state;
    HttpRequest *req = new_req(NULL, NULL);
    http_request_set_id(req, "abc-123_X.y:z");
    assert_string_equal(req->request_id, "abc-123_X.y:z");
    http_request_set_id(req, "has space");
    assert_int_equal(strlen(req->request_id), 32);
    http_request_set_id(req, "{\"inject\":1}");
    assert_int_equal(strlen(req->request_id), 32);
    char longid[100];
    memset(longid, 'a', 99);
    longid[99] = '\0';
    http_request_set_id(req, longid);
    assert_int_equal(strlen(req->request_id), 32);
    http_request_free(req);
}

static void test_detached_request_is_freed_by_last_release(void **state)
{
    (void)state;
    ready_calls = free_calls = 0;
    HttpRequest *req = new_req(NULL, NULL);
    http_request_hold(req);
    assert_false(http_request_detach(req));     /* client gone while the store works */
    http_respond_json(req, 200, json_object()); /* dropped, no notification */
    assert_int_equal(ready_calls, 0);
    assert_true(http_request_release(req));
    assert_int_equal(free_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_document_shape),
        cmocka_unit_test(test_json_body_errors),
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_detached_request_is_freed_by_last_release),
    };
    return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
