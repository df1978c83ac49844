/* router: patterns, parameters, 404 vs 405 */
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "test_util.h"

static void h(HttpRequest *req, void *app)
{
    (void)req;
    (void)app;
}

static const Route routes[] = {
    {HTTP_GET, "/healthz", ROLE_NONE, h, "t", "s", NULL, NULL, NULL, 0, NULL, 0},
    {HTTP_GET, "/api/databases", ROLE_VIEWER, h, "t", "s", NULL, NULL, NULL, 0, NULL, 0},
    {HTTP_POST, "/api/databases", ROLE_OPERATOR, h, "t", "s", NULL, NULL, NULL, 0, NULL, 0},
    {HTTP_GET, "/api/databases/{id}", ROLE_VIEWER, h, "t", "s", NULL, NULL, NULL, 0, NULL, 0},
    {HTTP_DELETE, "/api/databases/{id}", ROLE_ADMIN, h, "t", "s", NULL, NULL, NULL, 0, NULL, 0},
    {HTTP_POST, "/api/databases/{id}/test", ROLE_OPERATOR, h, "t", "s", NULL, NULL, NULL, 0, NULL,
     0},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static HttpRequest *req_for(HttpMethod m, const char *path)
{
    HttpRequest *req = http_request_new(NULL, NULL, NULL, NULL);
    req->method = m;
    req->path = strdup(path);
    return req;
}

static void test_router_matches_static_and_param_routes(void **state)
{
    (void)state;
    const Route *r = NULL;
    char allow[64];
    HttpRequest *req = req_for(HTTP_GET, "/api/databases/db_1");
    assert_int_equal(router_match(routes, NROUTES, req, &r, allow, sizeof allow), ROUTE_FOUND);
    assert_ptr_equal(r, &routes[3]);
    assert_string_equal(http_param(req, "id"), "db_1");
    assert_null(http_param(req, "nope"));
    http_request_free(req);

    req = req_for(HTTP_POST, "/api/databases/x%20y/test");
    assert_int_equal(router_match(routes, NROUTES, req, &r, allow, sizeof allow), ROUTE_FOUND);
    assert_ptr_equal(r, &routes[5]);
    assert_string_equal(http_param(req, "id"), "x%20y");
    http_request_free(req);

    req = req_for(HTTP_HEAD, "/healthz");
    assert_int_equal(router_match(routes, NROUTES, req, &r, allow, sizeof allow), ROUTE_FOUND);
    http_request_free(req);
}

static void test_router_wrong_method_lists_allowed(void **state)
{
    (void)state;
    const Route *r = NULL;
    char allow[64];
    HttpRequest *req = req_for(HTTP_PUT, "/api/databases");
    assert_int_equal(router_match(routes, NROUTES, req, &r, allow, sizeof allow),
                     ROUTE_WRONG_METHOD);
    assert_string_equal(allow, "GET, POST");
    http_request_free(req);
}

static void test_router_not_found(void **state)
{
    (void)state;
    const Route *r = NULL;
    char allow[64];
    const char *paths[] = {"/api/databases/", "/api/databases/a/b",  "/api", "/",
                           "/healthzz",       "/api/databases//test"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        HttpRequest *req = req_for(HTTP_GET, paths[i]);
        if (router_match(routes, NROUTES, req, &r, allow, sizeof allow) != ROUTE_NOT_FOUND)
            fail_msg("%s should not match", paths[i]);
        http_request_free(req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_matches_static_and_param_routes),
        cmocka_unit_test(test_router_wrong_method_lists_allowed),
        cmocka_unit_test(test_router_not_found),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
