/* databases: the database registry over HTTP (registry/registry.h does the work) */
#include <string.h>

#include "api/api.h"

static bool loaded(HttpRequest *req, Services *s)
{
    Failure f = {0};
    if (registry_ready(s->registry, &f))
        return true;
    api_respond_failure(req, &f);
    failure_clear(&f);
    return false;
}

void api_databases_list(HttpRequest *req, void *app)
{
    Services *s = app;
    RegistryQuery q = {.tag = http_query_value(req, "tag"),
                       .name = http_query_value(req, "name"),
                       .server = http_query_value(req, "server"),
                       .health = http_query_value(req, "health")};
    if (!api_int_param(req, "limit", 1, 10000, &q.limit) ||
        !api_int_param(req, "offset", 0, 10000000, &q.offset))
        return;
    if (q.health && strcmp(q.health, "ok") && strcmp(q.health, "degraded") &&
        strcmp(q.health, "unreachable") && strcmp(q.health, "unknown")) {
        http_respond_error(req, PGF_ERR_VALIDATION, "use ok, degraded, unreachable or unknown",
                           "health: unknown value '%.40s'", q.health);
        return;
    }
    if (!loaded(req, s))
        return;
    char *text = registry_list_text(s->registry, &q);
    http_respond_raw(req, 200, "application/json", text, strlen(text));
    free(text);
}

void api_databases_get(HttpRequest *req, void *app)
{
    Services *s = app;
    if (!loaded(req, s))
        return;
    json_t *db = registry_get_json(s->registry, http_param(req, "id"));
    if (db)
        http_respond_json(req, 200, db);
    else
        http_respond_error(req, PGF_ERR_NOT_FOUND, "GET /api/databases lists them",
                           "no database with id '%s'", http_param(req, "id"));
}

void api_databases_create(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (body)
        registry_write(s->registry, body, NULL, api_done, api_pending(req, 201));
}

void api_databases_update(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (body)
        registry_write(s->registry, body, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_databases_delete(HttpRequest *req, void *app)
{
    Services *s = app;
    registry_remove(s->registry, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_databases_test_one(HttpRequest *req, void *app)
{
    Services *s = app;
    registry_test(s->registry, http_param(req, "id"), api_done, api_pending(req, 200));
}

void api_databases_test_all(HttpRequest *req, void *app)
{
    Services *s = app;
    registry_test_all(s->registry, api_done, api_pending(req, 200));
}
