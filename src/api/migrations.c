/* migrations: runs of SQL migrations over HTTP (migrate/runs.h does the work) */
#include <stdio.h>

#include "api/api.h"

void api_migrations_execute(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    runs_execute(s->runs, body, api_actor(req), api_done, api_pending(req, 202));
    json_decref(body);
}

void api_migrations_list(HttpRequest *req, void *app)
{
    Services *s = app;
    runs_list(s->runs, api_done, api_pending(req, 200));
}

void api_migrations_get(HttpRequest *req, void *app)
{
    Services *s = app;
    runs_get(s->runs, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_migrations_cancel(HttpRequest *req, void *app)
{
    Services *s = app;
    runs_cancel(s->runs, http_param(req, "id"), api_done, api_pending(req, 202));
}
