#include "http/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>
#include <uv.h>

#include "common/jsonutil.h"
#include "common/strbuf.h"
#include "common/urlenc.h"
#include "common/xalloc.h"

static const char *const method_names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", "OTHER"};

const char *http_method_name(HttpMethod m)
{
    return method_names[m <= HTTP_OTHER ? m : HTTP_OTHER];
}

HttpMethod http_method_parse(const char *name)
{
    for (int i = 0; i < HTTP_OTHER; i++)
        if (strcmp(name, method_names[i]) == 0)
            return (HttpMethod)i;
    return HTTP_OTHER;
}

HttpRequest *http_request_new(void *server, void *conn, HttpNotifyFn on_ready, HttpNotifyFn on_free)
{
    HttpRequest *req = xcalloc(1, sizeof *req);
    req->server = server;
    req->conn = conn;
    req->on_ready = on_ready;
    req->on_free = on_free;
    req->started_ns = uv_hrtime();
    req->status = 0;
    req->who.method = "none";
    return req;
}

void http_request_free(HttpRequest *req)
{
    if (!req)
        return;
    if (req->on_free)
        req->on_free(req);
    free(req->path);
    for (size_t i = 0; i < req->nquery; i++)
        free(req->query_args[i]);
    free(req->query_args);
    free(req->content_type);
    xfree_secret(req->session_token);
    xfree_secret(req->sso_state);
    for (size_t i = 0; i < HTTP_MAX_COOKIES; i++)
        xfree_secret(req->resp_cookies[i]);
    free(req->resp_location);
    if (req->body.data) /* it may hold a password or a SAML response */
        sodium_memzero(req->body.data, req->body.len);
    for (size_t i = 0; i < req->nparams; i++) {
        free(req->param_names[i]);
        free(req->param_values[i]);
    }
    strbuf_free(&req->body);
    strbuf_free(&req->resp_body);
    free(req);
}

void http_request_hold(HttpRequest *req)
{
    req->holds++;
}

bool http_request_release(HttpRequest *req)
{
    req->holds--;
    if (req->holds == 0 && !req->conn) {
        http_request_free(req);
        return true;
    }
    return false;
}

bool http_request_detach(HttpRequest *req)
{
    req->conn = NULL;
    if (req->holds == 0) {
        http_request_free(req);
        return true;
    }
    return false;
}

const char *http_param(const HttpRequest *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

static bool request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HTTP_REQUEST_ID_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

void http_request_set_id(HttpRequest *req, const char *client_id)
{
    if (client_id && request_id_ok(client_id)) {
        snprintf(req->request_id, sizeof req->request_id, "%s", client_id);
        return;
    }
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(req->request_id, sizeof req->request_id, raw, sizeof raw);
}

static bool can_respond(HttpRequest *req)
{
    if (req->responded)
        return false;
    req->responded = true;
    return true;
}

static void finish(HttpRequest *req)
{
    if (req->conn && req->on_ready)
        req->on_ready(req);
}

void http_respond_raw(HttpRequest *req, unsigned status, const char *content_type, const char *data,
                      size_t len)
{
    if (!can_respond(req))
        return;
    req->status = status;
    req->resp_content_type = content_type;
    strbuf_append(&req->resp_body, data, len);
    finish(req);
}

void http_respond_json(HttpRequest *req, unsigned status, json_t *json)
{
    if (req->responded) {
        json_decref(json);
        return;
    }
    char *s = jsonutil_dumps(json);
    json_decref(json);
    size_t n = strlen(s);
    s[n] = '\0';
    req->responded = true;
    req->status = status;
    req->resp_content_type = "application/json";
    strbuf_append(&req->resp_body, s, n);
    strbuf_append(&req->resp_body, "\n", 1);
    free(s);
    finish(req);
}

json_t *http_error_json(PgfError err, const char *message, const char *hint)
{
    /* messages quote paths and query values: any bytes a client sent */
    json_t *e = json_pack("{s:s, s:o}", "code", pgf_error_code(err), "message",
                          jsonutil_lossy_string(message));
    json_object_set_new(e, "hint", jsonutil_lossy_string(hint));
    return json_pack("{s:o}", "error", e);
}

static void respond_error_v(HttpRequest *req, PgfError err, json_t *extra, const char *hint,
                            const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *doc = http_error_json(err, msg, hint);
    if (extra) {
        json_object_update(json_object_get(doc, "error"), extra);
        json_decref(extra);
    }
    json_object_set_new(json_object_get(doc, "error"), "request_id", json_string(req->request_id));
    http_respond_json(req, pgf_error_http(err), doc);
}

void http_respond_error(HttpRequest *req, PgfError err, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    respond_error_v(req, err, NULL, hint, fmt, ap);
    va_end(ap);
}

void http_respond_error_extra(HttpRequest *req, PgfError err, json_t *extra, const char *hint,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    respond_error_v(req, err, extra, hint, fmt, ap);
    va_end(ap);
}

bool http_is_json_type(const char *ct)
{
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return false;
    const char *rest = ct + 16;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

json_t *http_request_json_body(HttpRequest *req)
{
    if (!http_is_json_type(req->content_type)) {
        http_respond_error(req, PGF_ERR_MEDIA_TYPE, "send 'Content-Type: application/json'",
                           "request body must be JSON, not %s",
                           req->content_type ? req->content_type : "(no Content-Type)");
        return NULL;
    }
    if (req->body.len == 0) {
        http_respond_error(req, PGF_ERR_BAD_JSON, "send a JSON object as the request body",
                           "request body is empty");
        return NULL;
    }
    char err[200];
    json_t *v = jsonutil_parse(req->body.data, req->body.len, err, sizeof err);
    if (!v) {
        http_respond_error(req, PGF_ERR_BAD_JSON, "check the JSON syntax of the request body",
                           "malformed JSON at %s", err);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        http_respond_error(req, PGF_ERR_BAD_JSON, "send a JSON object ({...})",
                           "request body must be a JSON object");
        return NULL;
    }
    return v;
}

const char *http_query_value(const HttpRequest *req, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->nquery; i++) {
        const char *a = req->query_args[i];
        if (strncmp(a, name, nlen) == 0 && (a[nlen] == '=' || a[nlen] == '\0'))
            return a[nlen] ? a + nlen + 1 : a + nlen;
    }
    return NULL;
}

void http_request_add_query_arg(HttpRequest *req, const char *arg, size_t len)
{
    req->query_args = xrealloc(req->query_args, (req->nquery + 1) * sizeof *req->query_args);
    req->query_args[req->nquery++] = xstrndup(arg, len);
}

char *http_cookie_value(const char *header, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = len - nlen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            return xstrndup(v, vlen);
        }
        p = end;
    }
    return NULL;
}

void http_set_cookie_path(HttpRequest *req, const char *name, const char *value, long max_age,
                          bool secure, const char *path)
{
    char *c = xasprintf("%s=%s; Path=%s; HttpOnly; SameSite=Lax; Max-Age=%ld%s", name, value,
                        path ? path : "/", max_age, secure ? "; Secure" : "");
    size_t nlen = strlen(name);
    for (size_t i = 0; i < HTTP_MAX_COOKIES; i++) {
        char *old = req->resp_cookies[i];
        if (!old || (!strncmp(old, name, nlen) && old[nlen] == '=')) {
            xfree_secret(old);
            req->resp_cookies[i] = c;
            return;
        }
    }
    xfree_secret(c); /* more cookies than a response carries: a programming error */
}

void http_set_cookie(HttpRequest *req, const char *name, const char *value, long max_age,
                     bool secure)
{
    http_set_cookie_path(req, name, value, max_age, secure, NULL);
}

bool http_is_form_type(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    if (!ct || strncasecmp(ct, form, sizeof form - 1) != 0)
        return false;
    const char *rest = ct + sizeof form - 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

char *http_form_value(const HttpRequest *req, const char *name)
{
    if (!http_is_form_type(req->content_type) || !req->body.data)
        return NULL;
    return urlenc_form_value(req->body.data, req->body.len, name);
}

void http_respond_redirect(HttpRequest *req, unsigned status, const char *location)
{
    free(req->resp_location);
    req->resp_location = xstrdup(location);
    http_respond_raw(req, status, "text/plain; charset=utf-8", "", 0);
}

void http_respond_page(HttpRequest *req, unsigned status, const char *title, const char *message,
                       const char *hint, const char *link, const char *link_text)
{
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<title>");
    strbuf_puts_markup(&b, title);
    strbuf_puts(&b, " · pgfleet</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\n"
                    "<body><header><h1>pgfleet</h1></header><main class=\"login\"><section>"
                    "<h2 id=\"page-title\">");
    strbuf_puts_markup(&b, title);
    strbuf_puts(&b, "</h2><p id=\"page-message\" role=\"alert\">");
    strbuf_puts_markup(&b, message);
    strbuf_puts(&b, "</p>");
    if (hint) {
        strbuf_puts(&b, "<p class=\"muted\" id=\"page-hint\">");
        strbuf_puts_markup(&b, hint);
        strbuf_puts(&b, "</p>");
    }
    if (link) {
        strbuf_puts(&b, "<p><a href=\"");
        strbuf_puts_markup(&b, link);
        strbuf_puts(&b, "\">");
        strbuf_puts_markup(&b, link_text ? link_text : link);
        strbuf_puts(&b, "</a></p>");
    }
    strbuf_printf(&b, "<p class=\"muted\">request %s</p></section></main></body></html>\n",
                  req->request_id);
    req->resp_cache = "no-store";
    http_respond_raw(req, status, "text/html; charset=utf-8", b.data, b.len);
    strbuf_free(&b);
}
