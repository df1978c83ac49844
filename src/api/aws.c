/* aws: GET /api/aws/test, the live AWS check */
#include "api/api.h"
#include "aws/awscheck.h"

static void checked(void *ud, const json_t *report)
{
    HttpRequest *req = ud;
    http_respond_json(req, 200, json_deep_copy(report));
    http_request_release(req);
}

void api_aws_test(HttpRequest *req, void *app)
{
    Services *s = app;
    http_request_hold(req);
    awscheck_run(s->aws, checked, req);
}
