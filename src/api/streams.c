/* streams: logical replication streams over HTTP (streams/streams.h does the work) */
#include <stdio.h>

#include "api/api.h"

void api_streams_validate(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    streams_validate(s->streams, body, api_done, api_pending(req, 200));
    json_decref(body);
}

void api_streams_create(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = http_request_json_body(req);
    if (!body)
        return;
    streams_create(s->streams, body, api_actor(req), api_done, api_pending(req, 202));
    json_decref(body);
}

void api_streams_list(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *topo = replication_topology(s->replication);
    streams_list(s->streams, topo, api_done, api_pending(req, 200));
    json_decref(topo);
}

void api_streams_get(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *topo = replication_topology(s->replication);
    streams_get(s->streams, http_param(req, "id"), topo, api_done, api_pending(req, 200));
    json_decref(topo);
}

/* an optional JSON body: NULL when answered (bad body), else a new reference */
static json_t *optional_body(HttpRequest *req)
{
    return req->body.len ? http_request_json_body(req) : json_object();
}

static void action(HttpRequest *req, Services *s, StreamAction a)
{
    json_t *body = optional_body(req);
    if (!body)
        return;
    streams_action(s->streams, http_param(req, "id"), a, body, api_done, api_pending(req, 200));
    json_decref(body);
}

void api_streams_pause(HttpRequest *req, void *app)
{
    action(req, app, ACTION_PAUSE);
}

void api_streams_resume(HttpRequest *req, void *app)
{
    action(req, app, ACTION_RESUME);
}

void api_streams_refresh(HttpRequest *req, void *app)
{
    action(req, app, ACTION_REFRESH);
}

void api_streams_tables(HttpRequest *req, void *app)
{
    action(req, app, ACTION_TABLES);
}

void api_streams_drop(HttpRequest *req, void *app)
{
    Services *s = app;
    json_t *body = optional_body(req);
    if (!body)
        return;
    bool force = json_is_true(json_object_get(body, "force"));
    json_decref(body);
    streams_drop(s->streams, http_param(req, "id"), force, api_done, api_pending(req, 200));
}
