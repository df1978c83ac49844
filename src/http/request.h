/*
 * request: one HTTP request and its response, independent of libwebsockets.
 *
 * The server (server.c) fills the request side, calls the route handler, and
 * writes the response once the handler (or a callback it started) calls one
 * of the http_respond_* functions. A handler that answers later takes a hold
 * (http_request_hold) and releases it after responding: if the client went
 * away meanwhile, the responds are no-ops and the last release frees the
 * request. Nothing here may be freed by a handler.
 */
#ifndef PGFLEET_REQUEST_H
#define PGFLEET_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/principal.h"
#include "auth/rbac.h"
#include "common/error.h"
#include "common/strbuf.h"

typedef enum HttpMethod {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_OTHER,
} HttpMethod;

#define HTTP_MAX_PARAMS     4
#define HTTP_MAX_COOKIES    2
#define HTTP_REQUEST_ID_MAX 64

typedef struct HttpRequest HttpRequest;
struct Route;

/* how the server learns a response is ready, and that a request is gone */
typedef void (*HttpNotifyFn)(HttpRequest *req);

struct HttpRequest {
    /* request */
    HttpMethod method;
    char *path;
    char **query_args; /* "name=value" each, already percent-decoded once (by the server) */
    size_t nquery;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char *content_type;
    StrBuf body;
    bool body_too_large;
    char *param_names[HTTP_MAX_PARAMS];
    char *param_values[HTTP_MAX_PARAMS];
    size_t nparams;
    Principal who;             /* who the caller authenticated as (who.role ROLE_NONE: nobody) */
    char peer[64];             /* the client address (X-Forwarded-For's last with trust_proxy) */
    bool secure;               /* reached over https (TLS, or a trusted X-Forwarded-Proto) */
    char *session_token;       /* the pgfleet_session cookie as sent (a secret), or NULL */
    char *sso_state;           /* /auth/oidc/...: the pgfleet_sso cookie as sent, or NULL */
    const struct Route *route; /* the matched route, NULL when none */
    uint64_t started_ns;

    /* response */
    unsigned status;
    const char *resp_content_type;
    const char *resp_encoding;            /* e.g. "gzip", or NULL */
    const char *resp_cache;               /* Cache-Control, or NULL */
    const char *resp_www_auth;            /* WWW-Authenticate, or NULL */
    char *resp_cookies[HTTP_MAX_COOKIES]; /* Set-Cookie values (owned) */
    char *resp_location;                  /* Location, or NULL (owned) */
    long resp_retry_after;                /* Retry-After seconds, or 0 */
    char resp_allow[128];                 /* Allow (405), or "" */
    StrBuf resp_body;
    bool responded;
    bool close_after; /* Connection: close (body left unread) */

    /* lifecycle, owned by the server */
    void *conn; /* the connection; NULL once the client is gone */
    int holds;
    HttpNotifyFn on_ready; /* response ready and the client still there */
    HttpNotifyFn on_free;  /* about to be freed */
    void *server;
};

const char *http_method_name(HttpMethod m);
HttpMethod http_method_parse(const char *name);

HttpRequest *http_request_new(void *server, void *conn, HttpNotifyFn on_ready,
                              HttpNotifyFn on_free);
/* calls on_free and frees everything; the server calls it when done and unheld */
void http_request_free(HttpRequest *req);

void http_request_hold(HttpRequest *req);
/* returns true when this release freed the request */
bool http_request_release(HttpRequest *req);
/* the client is gone: responses are dropped; true when the request was freed */
bool http_request_detach(HttpRequest *req);

/*
 * The query parameter's value (decoded once, any length), or NULL when absent.
 * A '%26' in a value stays part of that value: it never starts another parameter.
 */
const char *http_query_value(const HttpRequest *req, const char *name);
/* adds one "name=value" argument as the server received it (decoded) */
void http_request_add_query_arg(HttpRequest *req, const char *arg, size_t len);

/*
 * The value of cookie name in a Cookie header (new string), or NULL. The
 * first occurrence counts; values may be quoted.
 */
char *http_cookie_value(const char *header, const char *name);
/*
 * Adds a Set-Cookie to the response (value a secret: wiped when the request
 * goes); path NULL is "/". A second one of the same name replaces the first.
 */
void http_set_cookie(HttpRequest *req, const char *name, const char *value, long max_age,
                     bool secure);
void http_set_cookie_path(HttpRequest *req, const char *name, const char *value, long max_age,
                          bool secure, const char *path);

/* the value of a field of an application/x-www-form-urlencoded body (new string), or NULL */
char *http_form_value(const HttpRequest *req, const char *name);
/* true for "application/x-www-form-urlencoded", with or without parameters */
bool http_is_form_type(const char *content_type);

/* a redirect (303 See Other, or another 3xx) to location */
void http_respond_redirect(HttpRequest *req, unsigned status, const char *location);
/* a small HTML page: a heading, a message and a hint (all escaped), and a link back */
void http_respond_page(HttpRequest *req, unsigned status, const char *title, const char *message,
                       const char *hint, const char *link, const char *link_text);

/* the named path parameter ("{id}") or NULL */
const char *http_param(const HttpRequest *req, const char *name);

/* accepts a client's X-Request-Id when it is 1-64 of [A-Za-z0-9._:-], else makes one */
void http_request_set_id(HttpRequest *req, const char *client_id);

/*
 * Responses. Each may be called once per request; later calls are ignored.
 * json is stolen.
 */
void http_respond_json(HttpRequest *req, unsigned status, json_t *json);
void http_respond_raw(HttpRequest *req, unsigned status, const char *content_type, const char *data,
                      size_t len);
/* {"error":{"code","message","hint"}} with the status of err; hint may be NULL */
void http_respond_error(HttpRequest *req, PgfError err, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* as above, with extra members merged into the error object (stolen) */
void http_respond_error_extra(HttpRequest *req, PgfError err, json_t *extra, const char *hint,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* the error document, for reuse (WebSocket errors use the same shape) */
json_t *http_error_json(PgfError err, const char *message, const char *hint);

/* true for "application/json", with or without parameters (charset=...) */
bool http_is_json_type(const char *content_type);

/* parses the body as a JSON object; on failure answers 400/415 and returns NULL */
json_t *http_request_json_body(HttpRequest *req);

#endif
