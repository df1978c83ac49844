#include "http/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "auth/authkey.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"
#include "http/origin.h"
#include "http/request.h"
#include "http/static.h"

#define WRITE_CHUNK (64 * 1024)

typedef struct WsSession WsSession;

struct HttpServer {
    struct lws_context *ctx; /* NULL once libwebsockets has fully destroyed it */
    bool destroying;
    uv_loop_t *loop;
    HttpServerOptions opts;
    char *host;
    size_t inflight;
    size_t total;
    bool stopping;
    unsigned char *scratch; /* LWS_PRE + WRITE_CHUNK */
    OriginPolicy *origins;
    json_t *unauthenticated; /* client address -> open unauthenticated WebSockets */
    WsSession *ws_sessions;  /* sockets opened by a session, re-checked on a timer */
    uv_timer_t ws_check;
    bool ws_check_open;
};

typedef enum Creds {
    CREDS_NONE,    /* nothing presented */
    CREDS_OK,      /* who is set */
    CREDS_BAD_KEY, /* an API key that is not the one */
    CREDS_SESSION, /* a session cookie: to be looked up */
} Creds;

/* per connection; lws zeroes it and keeps it across keep-alive requests */
typedef struct Pss {
    HttpRequest *req;
    RouteMatch match;
    Creds creds;       /* what the headers presented */
    long long length;  /* Content-Length */
    bool expects_body; /* a state change with a body */
    bool admitted;     /* passed admission: a completed body goes to the handler */
    bool body_done;    /* the body completed while admission waited for the session */
    bool dispatched;   /* the handler has it (lws reports a 0-byte body complete too) */
    size_t sent;
    bool headers_sent;
    WsClient *ws;
    bool ws_unauthenticated; /* counted against its address */
    char peer[64];
    WsSession *session; /* a socket opened by a session cookie */
} Pss;

/* a WebSocket opened by a session: alive while the socket is, or a check runs */
struct WsSession {
    HttpServer *srv;
    struct lws *wsi; /* NULL once the socket closed */
    WsClient *ws;
    char token[SESSION_TOKEN_LEN + 1];
    int refs;
    bool checking, listed;
    WsSession *prev, *next;
};

/* ---- helpers over libwebsockets headers ---- */

static char *header_dup(struct lws *wsi, enum lws_token_indexes tok)
{
    int n = lws_hdr_total_length(wsi, tok);
    if (n <= 0)
        return NULL;
    char *s = xmalloc((size_t)n + 1);
    if (lws_hdr_copy(wsi, s, n + 1, tok) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static char *custom_header_dup(struct lws *wsi, const char *name)
{
    int nlen = (int)strlen(name);
    int n = lws_hdr_custom_length(wsi, name, nlen);
    if (n <= 0)
        return NULL;
    char *s = xmalloc((size_t)n + 1);
    if (lws_hdr_custom_copy(wsi, s, n + 1, name, nlen) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static HttpMethod request_method(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        HttpMethod m;
    } map[] = {
        {WSI_TOKEN_GET_URI, HTTP_GET},       {WSI_TOKEN_POST_URI, HTTP_POST},
        {WSI_TOKEN_PUT_URI, HTTP_PUT},       {WSI_TOKEN_PATCH_URI, HTTP_PATCH},
        {WSI_TOKEN_DELETE_URI, HTTP_DELETE}, {WSI_TOKEN_OPTIONS_URI, HTTP_OPTIONS},
        {WSI_TOKEN_HEAD_URI, HTTP_HEAD},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (lws_hdr_total_length(wsi, map[i].tok) > 0)
            return map[i].m;
    return HTTP_OTHER;
}

/* the client's address, and whether it came over https (through a trusted proxy) */
static void client_address(const HttpServer *srv, struct lws *wsi, HttpRequest *req)
{
    lws_get_peer_simple(wsi, req->peer, sizeof req->peer);
    if (!srv->opts.trust_proxy)
        return;
    char *xff = header_dup(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (xff) {
        /* the proxy appends the address it saw: the last element */
        char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        last += strspn(last, " \t");
        size_t n = strspn(last, "0123456789abcdefABCDEF.:");
        if (n > 0 && n < sizeof req->peer) {
            memcpy(req->peer, last, n);
            req->peer[n] = '\0';
        }
        free(xff);
    }
    char *proto = custom_header_dup(wsi, "x-forwarded-proto:");
    req->secure = proto && strncasecmp(proto + strspn(proto, " \t"), "https", 5) == 0;
    free(proto);
}

/* the API key of a request (new string, a secret) or NULL */
static char *presented_key(struct lws *wsi, size_t *len)
{
    char *authz = header_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    char *xkey = custom_header_dup(wsi, "x-api-key:");
    const char *k = authkey_presented(authz, xkey, len);
    char *key = k ? xstrndup(k, *len) : NULL;
    xfree_secret(authz);
    xfree_secret(xkey);
    return key;
}

/* a cookie (new string, a secret) or NULL */
static char *presented_cookie(struct lws *wsi, const char *name)
{
    char *cookies = header_dup(wsi, WSI_TOKEN_HTTP_COOKIE);
    char *value = cookies ? http_cookie_value(cookies, name) : NULL;
    xfree_secret(cookies);
    return value;
}

/* what the headers say about who is calling; the cookie goes to *token */
static Creds credentials(const HttpServer *srv, struct lws *wsi, Principal *who, char **token)
{
    *token = NULL;
    if (auth_open(srv->opts.auth)) {
        auth_open_principal(who);
        return CREDS_OK;
    }
    size_t klen = 0;
    char *key = presented_key(wsi, &klen);
    if (key) {
        bool ok = auth_key_principal(srv->opts.auth, key, klen, who);
        xfree_secret(key);
        return ok ? CREDS_OK : CREDS_BAD_KEY;
    }
    *token = presented_cookie(wsi, AUTH_COOKIE);
    return *token ? CREDS_SESSION : CREDS_NONE;
}

/* ---- request lifecycle ---- */

static void on_ready(HttpRequest *req)
{
    lws_callback_on_writable((struct lws *)req->conn);
}

static void on_free(HttpRequest *req)
{
    HttpServer *srv = req->server;
    srv->inflight--;
    if (srv->opts.on_finished)
        srv->opts.on_finished(srv->opts.finished_ud, req);
}

static void log_access(const HttpRequest *req)
{
    if (!log_enabled(LOG_INFO))
        return;
    double ms = (double)(uv_hrtime() - req->started_ns) / 1e6;
    log_event(LOG_INFO, req->request_id,
              json_pack("{s:s, s:s, s:i, s:f, s:I, s:s, s:s, s:s}", "method",
                        http_method_name(req->method), "path", req->path ? req->path : "", "status",
                        (int)req->status, "duration_ms", ms, "bytes",
                        (json_int_t)req->resp_body.len, "auth", req->who.method, "user",
                        req->who.user, "address", req->peer),
              "%s %s %u", http_method_name(req->method), req->path ? req->path : "", req->status);
}

static void serve_static(HttpRequest *req, struct lws *wsi, const StaticAsset *a)
{
    char ae[128] = "";
    lws_hdr_copy(wsi, ae, sizeof ae, WSI_TOKEN_HTTP_ACCEPT_ENCODING);
    /* bundles have their content's hash in their name: cached for good; pages are checked */
    req->resp_cache =
        strncmp(a->path, "/assets/", 8) == 0 ? "public, max-age=31536000, immutable" : "no-cache";
    if (strstr(ae, "gzip")) {
        req->resp_encoding = "gzip";
        http_respond_raw(req, 200, a->content_type, (const char *)a->gz, a->gzlen);
        return;
    }
    char *plain = static_plain(a);
    if (!plain) {
        http_respond_error(req, PGF_ERR_INTERNAL, NULL, "could not inflate %s", a->path);
        return;
    }
    http_respond_raw(req, 200, a->content_type, plain, a->len);
    if (plain != (const char *)a->data)
        free(plain);
}

static const char *const credentials_hint =
    "sign in at /login, or send 'Authorization: Bearer <AUTH_KEY>' or 'X-API-Key: <AUTH_KEY>'";

/* an answer before the body is read: the connection closes after it */
static bool refuse(HttpRequest *req, PgfError err, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool refuse(HttpRequest *req, PgfError err, const char *hint, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    req->close_after = true;
    http_respond_error(req, err, hint, "%s", msg);
    return false;
}

static bool state_changing(HttpMethod m)
{
    return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

/* a header no HTML form and no no-cors fetch can send (so the browser asked first) */
static bool non_simple(struct lws *wsi, const HttpRequest *req)
{
    if (http_is_json_type(req->content_type))
        return true;
    const char *custom[] = {"x-api-key:", "x-csrf-token:", "x-requested-with:"};
    for (size_t i = 0; i < sizeof custom / sizeof custom[0]; i++)
        if (lws_hdr_custom_length(wsi, custom[i], (int)strlen(custom[i])) > 0)
            return true;
    return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0;
}

/* Host, Origin and (body-less: a body must be JSON, checked later) the non-simple rule */
static bool admit_origin(HttpServer *srv, HttpRequest *req, struct lws *wsi, long long length)
{
    char *host = header_dup(wsi, WSI_TOKEN_HOST);
    char *origin = header_dup(wsi, WSI_TOKEN_ORIGIN);
    bool ok = true;
    bool form = req->route && (req->route->flags & ROUTE_CROSS_SITE_FORM);
    if (!origin_host_allowed(srv->origins, host))
        ok = refuse(req, PGF_ERR_MISDIRECTED,
                    "reach pgfleet by an address it serves, or add the name to PGFLEET_PUBLIC_URL "
                    "or PGFLEET_ALLOWED_ORIGINS",
                    "this server does not serve host '%.200s'", host ? host : "");
    else if (form)
        ok = true; /* another site's form, by design (the route's input is signed) */
    else if (state_changing(req->method) && !origin_allowed(srv->origins, origin, host))
        ok = refuse(req, PGF_ERR_FORBIDDEN_ORIGIN,
                    "pages of other sites may not change anything here; allow an origin with "
                    "PGFLEET_ALLOWED_ORIGINS",
                    "requests from origin '%.200s' are not accepted", origin);
    else if (state_changing(req->method) && length <= 0 && !non_simple(wsi, req))
        ok = refuse(req, PGF_ERR_FORBIDDEN_ORIGIN,
                    "send 'Content-Type: application/json' (with or without a body)",
                    "%s %s needs Content-Type: application/json or a credentials header",
                    http_method_name(req->method), req->path);
    free(host);
    free(origin);
    return ok;
}

static bool is_api_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

/* the caller's right to the route, now that who is known; false when answered */
static bool admit_route(HttpRequest *req, Pss *pss, struct lws *wsi)
{
    bool is_api = is_api_path(req->path);
    bool needs_auth = pss->match == ROUTE_FOUND ? req->route->role != ROLE_NONE : is_api;
    if (needs_auth && req->who.role == ROLE_NONE) {
        req->resp_www_auth = "Bearer realm=\"pgfleet\"";
        if (pss->creds == CREDS_BAD_KEY)
            log_event(LOG_WARN, req->request_id,
                      json_pack("{s:s, s:s}", "path", req->path, "address", req->peer),
                      "authentication failed: invalid API key");
        return refuse(req, PGF_ERR_UNAUTHORIZED, credentials_hint, "%s",
                      pss->creds == CREDS_BAD_KEY   ? "invalid API key"
                      : pss->creds == CREDS_SESSION ? "the session has ended: sign in again"
                                                    : "authentication required");
    }
    if (pss->match == ROUTE_FOUND && !role_allows(req->who.role, req->route->role))
        return refuse(req, PGF_ERR_FORBIDDEN, "ask an admin for a role that allows it",
                      "%s %s needs the %s role; %s has %s", http_method_name(req->method),
                      req->route->pattern, role_name(req->route->role), req->who.user,
                      role_name(req->who.role));
    if (pss->match == ROUTE_WRONG_METHOD)
        return refuse(req, PGF_ERR_METHOD, NULL, "%s is not allowed on %s (allowed: %s)",
                      http_method_name(req->method), req->path, req->resp_allow);
    if (pss->match == ROUTE_NOT_FOUND) {
        const StaticAsset *a = NULL;
        if (!is_api && (req->method == HTTP_GET || req->method == HTTP_HEAD) &&
            (a = static_lookup(req->path))) {
            serve_static(req, wsi, a);
            return false;
        }
        return refuse(req, PGF_ERR_NOT_FOUND,
                      is_api ? "GET /api/openapi.json lists every endpoint" : NULL,
                      "no such endpoint: %s %s", http_method_name(req->method), req->path);
    }
    return true;
}

/* a signed-in browser's state change carries the session's CSRF token; false when answered */
static bool admit_csrf(HttpRequest *req, struct lws *wsi)
{
    if (!req->who.via_cookie || !state_changing(req->method) || !req->route ||
        req->route->role == ROLE_NONE)
        return true;
    char *t = custom_header_dup(wsi, "x-csrf-token:");
    bool ok = t && strlen(t) == SESSION_CSRF_LEN &&
              sodium_memcmp(t, req->who.csrf, SESSION_CSRF_LEN) == 0;
    free(t);
    if (ok)
        return true;
    return refuse(req, PGF_ERR_CSRF,
                  "send the header X-CSRF-Token with the csrf value of GET /api/auth/status",
                  "%s %s from a signed-in browser needs the session's CSRF token",
                  http_method_name(req->method), req->route->pattern);
}

/* the body that is about to come: JSON, within the limit, whole; false when answered */
static bool admit_body(HttpServer *srv, HttpRequest *req, struct lws *wsi, long long length)
{
    char *te = header_dup(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
    bool chunked = te && strcasestr(te, "chunked");
    free(te);
    if (chunked)
        return refuse(req, PGF_ERR_USAGE, "send the body with a Content-Length header",
                      "chunked request bodies are not supported");
    if (length <= 0)
        return true;
    bool form = req->route && (req->route->flags & ROUTE_CROSS_SITE_FORM);
    if (form && http_is_form_type(req->content_type))
        return length <= srv->opts.max_body_bytes ||
               refuse(req, PGF_ERR_TOO_LARGE, "the limit is PGFLEET_MAX_BODY_BYTES",
                      "request body larger than %ld bytes", srv->opts.max_body_bytes);
    if (!http_is_json_type(req->content_type))
        return refuse(req, PGF_ERR_MEDIA_TYPE, "send 'Content-Type: application/json'",
                      "request body must be JSON, not %s",
                      req->content_type ? req->content_type : "(no Content-Type)");
    if (length > srv->opts.max_body_bytes)
        return refuse(req, PGF_ERR_TOO_LARGE, "the limit is PGFLEET_MAX_BODY_BYTES",
                      "request body larger than %ld bytes", srv->opts.max_body_bytes);
    return true;
}

static void dispatch(HttpServer *srv, HttpRequest *req, Pss *pss)
{
    if (srv->stopping) {
        req->close_after = true;
        http_respond_error(req, PGF_ERR_SHUTTING_DOWN, "retry against another instance",
                           "pgfleet is shutting down");
        return;
    }
    if (req->body_too_large) {
        req->close_after = true;
        http_respond_error(req, PGF_ERR_TOO_LARGE, "the limit is PGFLEET_MAX_BODY_BYTES",
                           "request body larger than %ld bytes", srv->opts.max_body_bytes);
        return;
    }
    pss->dispatched = true;
    req->route->handler(req, srv->opts.app);
}

/* the rest of admission once who is known; then the handler, now or when the body is in */
static void admit_rest(HttpServer *srv, HttpRequest *req, Pss *pss, struct lws *wsi)
{
    if (!admit_route(req, pss, wsi) || !admit_csrf(req, wsi) ||
        !admit_body(srv, req, wsi, pss->length))
        return;
    pss->admitted = true;
    if (pss->expects_body && !pss->body_done)
        return; /* LWS_CALLBACK_HTTP_BODY_COMPLETION dispatches */
    dispatch(srv, req, pss);
}

static void session_resolved(void *ud, PgfError err, const Principal *p)
{
    HttpRequest *req = ud;
    struct lws *wsi = req->conn;
    if (wsi) {
        HttpServer *srv = req->server;
        Pss *pss = lws_wsi_user(wsi);
        if (err != PGF_OK)
            refuse(req, PGF_ERR_STORE_DOWN,
                   "sessions live in Redis; check PGFLEET_REDIS_URL and that Redis runs",
                   "could not check the session: the state store is not available");
        else {
            if (p)
                req->who = *p;
            admit_rest(srv, req, pss, wsi);
        }
    }
    http_request_release(req);
}

static int begin_request(HttpServer *srv, Pss *pss, struct lws *wsi, const char *uri)
{
    srv->inflight++;
    srv->total++;
    HttpRequest *req = http_request_new(srv, wsi, on_ready, on_free);
    pss->req = req;
    pss->sent = 0;
    pss->headers_sent = false;
    pss->admitted = pss->body_done = pss->dispatched = false;
    req->method = request_method(wsi);
    req->path = xstrdup(uri && *uri ? uri : "/");
    char *rid = custom_header_dup(wsi, "x-request-id:");
    http_request_set_id(req, rid);
    free(rid);
    client_address(srv, wsi, req);
    /* lws keeps each argument as a fragment, split on the raw '&' and decoded once: kept so */
    for (int i = 0; lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        char *frag = xmalloc((size_t)n + 1);
        if (lws_hdr_copy_fragment(wsi, frag, n + 1, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0)
            http_request_add_query_arg(req, frag, (size_t)n);
        free(frag);
    }
    req->content_type = header_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    char cl[32] = "";
    pss->length = 0;
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        pss->length = strtoll(cl, NULL, 10);
    pss->expects_body = state_changing(req->method) && pss->length > 0;
    if (srv->stopping) {
        refuse(req, PGF_ERR_SHUTTING_DOWN, "retry against another instance",
               "pgfleet is shutting down");
        return 0;
    }
    pss->match = router_match(srv->opts.routes, srv->opts.nroutes, req, &req->route,
                              req->resp_allow, sizeof req->resp_allow);
    if (pss->match != ROUTE_WRONG_METHOD)
        req->resp_allow[0] = '\0';
    if (pss->match != ROUTE_FOUND)
        req->route = NULL;
    if (!admit_origin(srv, req, wsi, pss->length))
        return 0;
    pss->creds = credentials(srv, wsi, &req->who, &req->session_token);
    if (!strncmp(req->path, "/auth/oidc/", 11))
        req->sso_state = presented_cookie(wsi, SSO_COOKIE);
    if (pss->expects_body) /* a slow client may not hold the connection: the body comes whole */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)srv->opts.body_timeout_seconds);
    bool needs_auth = req->route ? req->route->role != ROLE_NONE : is_api_path(req->path);
    if (pss->creds == CREDS_SESSION && needs_auth) {
        http_request_hold(req);
        auth_resolve(srv->opts.auth, req->session_token, true, session_resolved, req);
        return 0;
    }
    admit_rest(srv, req, pss, wsi);
    return 0;
}

static int write_response(HttpServer *srv, Pss *pss, struct lws *wsi)
{
    HttpRequest *req = pss->req;
    if (!req || !req->responded)
        return 0;
    if (!pss->headers_sent) {
        unsigned char buf[LWS_PRE + 2048];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
        size_t body_len = req->resp_body.len;
        char retry[24] = "";
        if (req->resp_retry_after > 0)
            snprintf(retry, sizeof retry, "%ld", req->resp_retry_after);
        if (lws_add_http_common_headers(wsi, req->status, req->resp_content_type,
                                        (lws_filepos_t)body_len, &p, end))
            return -1;
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"x-request-id:", (const unsigned char *)req->request_id,
                (int)strlen(req->request_id), &p, end))
            return -1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                        (const unsigned char *)"nosniff", 7, &p, end))
            return -1;
        const char *optional[][2] = {
            {"content-encoding:", req->resp_encoding},
            {"cache-control:", req->resp_cache ? req->resp_cache : "no-store"},
            {"www-authenticate:", req->resp_www_auth},
            {"allow:", req->resp_allow[0] ? req->resp_allow : NULL},
            {"connection:", req->close_after ? "close" : NULL},
            {"retry-after:", retry[0] ? retry : NULL},
            {"location:", req->resp_location},
            {"set-cookie:", req->resp_cookies[0]},
            {"set-cookie:", req->resp_cookies[1]},
        };
        for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
            const char *v = optional[i][1];
            if (v && lws_add_http_header_by_name(wsi, (const unsigned char *)optional[i][0],
                                                 (const unsigned char *)v, (int)strlen(v), &p, end))
                return -1;
        }
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        pss->headers_sent = true;
        if (body_len > 0 && req->method != HTTP_HEAD) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    } else {
        size_t left = req->resp_body.len - pss->sent;
        size_t n = left < WRITE_CHUNK ? left : WRITE_CHUNK;
        bool final = n == left;
        memcpy(srv->scratch + LWS_PRE, req->resp_body.data + pss->sent, n);
        if (lws_write(wsi, srv->scratch + LWS_PRE, n,
                      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return -1;
        pss->sent += n;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    /* the whole response is out */
    log_access(req);
    bool close = req->close_after || srv->stopping;
    pss->req = NULL;
    http_request_detach(req);
    if (close)
        return -1;
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int ws_path_ok(struct lws *wsi)
{
    char uri[64] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    return strcmp(uri, "/ws") == 0;
}

/* ---- WebSockets ---- */

static int unauthenticated_count(const HttpServer *srv, const char *peer)
{
    return (int)json_integer_value(json_object_get(srv->unauthenticated, peer));
}

static void unauthenticated_add(HttpServer *srv, const char *peer, int delta)
{
    int n = unauthenticated_count(srv, peer) + delta;
    if (n > 0)
        json_object_set_new(srv->unauthenticated, peer, json_integer(n));
    else
        json_object_del(srv->unauthenticated, peer);
}

static void unauthenticated_release(HttpServer *srv, Pss *pss)
{
    if (!pss->ws_unauthenticated || !srv)
        return;
    pss->ws_unauthenticated = false;
    unauthenticated_add(srv, pss->peer, -1);
}

/* an upgrade: from a host and origin the daemon serves, within the per-address cap */
static bool ws_admit(HttpServer *srv, struct lws *wsi)
{
    char *host = header_dup(wsi, WSI_TOKEN_HOST);
    char *origin = header_dup(wsi, WSI_TOKEN_ORIGIN);
    bool ok = origin_host_allowed(srv->origins, host) && origin_allowed(srv->origins, origin, host);
    if (!ok)
        log_event(LOG_WARN, NULL, json_pack("{s:s?, s:s?}", "host", host, "origin", origin),
                  "websocket upgrade refused: foreign host or origin");
    free(host);
    free(origin);
    if (!ok)
        return false;
    Principal who;
    char *token = NULL;
    Creds c = credentials(srv, wsi, &who, &token);
    xfree_secret(token);
    if (c == CREDS_OK)
        return true;
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    if (unauthenticated_count(srv, peer) < srv->opts.ws_unauthenticated_per_address)
        return true;
    log_event(LOG_WARN, NULL, json_pack("{s:s}", "peer", peer),
              "websocket upgrade refused: too many unauthenticated sockets from one address");
    return false;
}

/* ---- sockets opened by a session ---- */

static void ws_session_unref(WsSession *ss)
{
    if (--ss->refs > 0)
        return;
    sodium_memzero(ss->token, sizeof ss->token);
    free(ss);
}

static void ws_session_unlist(WsSession *ss)
{
    if (!ss->listed)
        return;
    ss->listed = false;
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        ss->srv->ws_sessions = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->prev = ss->next = NULL;
}

/* the socket is gone: what is in flight finds wsi NULL */
static void ws_session_closed(Pss *pss)
{
    WsSession *ss = pss->session;
    if (!ss)
        return;
    pss->session = NULL;
    ws_session_unlist(ss);
    ss->wsi = NULL;
    ss->ws = NULL;
    ws_session_unref(ss);
}

/* the first look-up: the welcome says who the socket is */
static void ws_session_resolved(void *ud, PgfError err, const Principal *p)
{
    WsSession *ss = ud;
    if (ss->wsi) {
        HttpServer *srv = ss->srv;
        Pss *pss = lws_wsi_user(ss->wsi);
        Role role = err == PGF_OK && p ? p->role : ROLE_NONE;
        wshub_client_welcome(ss->ws, role);
        if (role != ROLE_NONE) {
            lws_set_timeout(ss->wsi, NO_PENDING_TIMEOUT, 0);
            unauthenticated_release(srv, pss);
            ss->listed = true;
            ss->next = srv->ws_sessions;
            if (ss->next)
                ss->next->prev = ss;
            srv->ws_sessions = ss;
        } else {
            ws_session_closed(pss); /* it may still send {"type":"auth"} */
        }
    }
    ws_session_unref(ss);
}

/* a later look-up: the session may have ended, or the user's role changed */
static void ws_session_checked(void *ud, PgfError err, const Principal *p)
{
    WsSession *ss = ud;
    ss->checking = false;
    if (ss->wsi && err == PGF_OK) {
        if (p)
            wshub_client_set_role(ss->ws, p->role);
        else
            wshub_client_end(ss->ws, "the session has ended: sign in again");
    }
    ws_session_unref(ss);
}

static void ws_check_tick(uv_timer_t *t)
{
    HttpServer *srv = t->data;
    for (WsSession *ss = srv->ws_sessions; ss; ss = ss->next) {
        if (ss->checking)
            continue;
        ss->checking = true;
        ss->refs++;
        auth_resolve(srv->opts.auth, ss->token, false, ws_session_checked, ss);
    }
}

static void ws_established(HttpServer *srv, Pss *pss, struct lws *wsi)
{
    Principal who;
    char *token = NULL;
    Creds c = credentials(srv, wsi, &who, &token);
    char *rid = custom_header_dup(wsi, "x-request-id:");
    HttpRequest tmp = {0};
    http_request_set_id(&tmp, rid);
    free(rid);
    bool session = c == CREDS_SESSION && sessions_token_valid(token);
    pss->ws = wshub_client_new(srv->opts.hub, wsi, c == CREDS_OK ? who.role : ROLE_NONE,
                               tmp.request_id, !session);
    if (c != CREDS_OK) {
        /* until authenticated, it has ws_auth_timeout_seconds to send {"type":"auth"} */
        lws_get_peer_simple(wsi, pss->peer, sizeof pss->peer);
        pss->ws_unauthenticated = true;
        unauthenticated_add(srv, pss->peer, 1);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (int)srv->opts.ws_auth_timeout_seconds);
    }
    if (session) {
        WsSession *ss = xcalloc(1, sizeof *ss);
        ss->srv = srv;
        ss->wsi = wsi;
        ss->ws = pss->ws;
        memcpy(ss->token, token, SESSION_TOKEN_LEN + 1);
        ss->refs = 2; /* the socket, the look-up */
        pss->session = ss;
        auth_resolve(srv->opts.auth, token, true, ws_session_resolved, ss);
    }
    xfree_secret(token);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    HttpServer *srv = lws_context_user(lws_get_context(wsi));
    Pss *pss = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!srv)
            return -1;
        return begin_request(srv, pss, wsi, in);

    case LWS_CALLBACK_HTTP_BODY:
        /* lws re-arms its timeout on every chunk: a trickling client meets this deadline */
        if (pss->req && uv_hrtime() - pss->req->started_ns >
                            (uint64_t)srv->opts.body_timeout_seconds * 1000000000ull) {
            log_event(LOG_WARN, pss->req->request_id, NULL,
                      "request body not received within %ld s: closing",
                      srv->opts.body_timeout_seconds);
            return -1;
        }
        if (pss->req && !pss->req->body_too_large) {
            if ((long)(pss->req->body.len + len) > srv->opts.max_body_bytes)
                pss->req->body_too_large = true;
            else
                strbuf_append(&pss->req->body, in, len);
        }
        return 0;

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        if (!pss->req || pss->req->responded || pss->dispatched)
            return 0;
        if (!pss->admitted)
            pss->body_done = true; /* admission still waits for the session */
        else
            dispatch(srv, pss->req, pss);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_response(srv, pss, wsi);

    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->req) {
            HttpRequest *req = pss->req;
            pss->req = NULL;
            http_request_detach(req);
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!srv || srv->stopping || !ws_path_ok(wsi))
            return 1; /* refuse the upgrade */
        if (!ws_admit(srv, wsi)) {
            lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
            return 1;
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        ws_established(srv, pss, wsi);
        return 0;

    case LWS_CALLBACK_RECEIVE: {
        if (!pss->ws)
            return -1;
        bool keep = wshub_client_receive(pss->ws, in, len, lws_is_final_fragment(wsi),
                                         lws_frame_is_binary(wsi));
        if (pss->ws_unauthenticated && wshub_client_role(pss->ws) != ROLE_NONE) {
            lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* authenticated in time */
            unauthenticated_release(srv, pss);
        }
        return keep ? 0 : -1;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!pss->ws)
            return -1;
        return wshub_client_writable(pss->ws) ? 0 : -1;

    case LWS_CALLBACK_CLOSED:
        if (pss)
            ws_session_closed(pss);
        if (pss && pss->ws) {
            wshub_client_free(pss->ws);
            pss->ws = NULL;
        }
        if (pss)
            unauthenticated_release(srv, pss);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"pgfleet", callback, sizeof(Pss), WSHUB_MAX_MESSAGE, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* 4.1 has no LWS_PROTOCOL_LIST_TERM */
};

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    /* lws lines start with its own timestamp: "[2026/11/26 ...] E: msg" */
    const char *msg = line;
    const char *close = memchr(line, ']', n);
    if (close && close + 2 < line + n)
        msg = close + 2;
    int mlen = (int)(n - (size_t)(msg - line));
    log_event(level == LLL_ERR ? LOG_ERROR : LOG_WARN, NULL, NULL, "libwebsockets: %.*s", mlen,
              msg);
}

/* binds a throwaway socket to give a precise error before lws tries */
static bool probe_listen(const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t slen;
    int family;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        if (uv_ip6_addr(host, port, a) != 0)
            goto badhost;
        family = AF_INET6;
        slen = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (uv_ip4_addr(host, port, a) != 0)
            goto badhost;
        family = AF_INET;
        slen = sizeof *a;
    }
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "could not create a socket: %s", strerror(errno));
        return false;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "could not listen on %s:%d: %s%s", host, port, strerror(e),
                 e == EADDRINUSE ? " (another process holds the port; set PGFLEET_LISTEN)" : "");
        return false;
    }
    close(fd);
    return true;
badhost:
    snprintf(err, errlen,
             "could not listen on %s:%d: not an IP address (use an address such "
             "as 127.0.0.1, 0.0.0.0 or [::1], or localhost)",
             host, port);
    return false;
}

HttpServer *http_server_new(const HttpServerOptions *opts, char *err, size_t errlen)
{
    const char *host = opts->host;
    if (strcasecmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (!probe_listen(host, opts->port, err, errlen))
        return NULL;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    HttpServer *srv = xcalloc(1, sizeof *srv);
    srv->opts = *opts;
    srv->loop = opts->loop;
    srv->host = xstrdup(host);
    srv->scratch = xmalloc(LWS_PRE + WRITE_CHUNK);
    srv->origins = origin_policy_new(opts->public_url, opts->allowed_origins);
    srv->unauthenticated = json_object();
    if (srv->opts.body_timeout_seconds <= 0)
        srv->opts.body_timeout_seconds = 30;
    if (srv->opts.ws_auth_timeout_seconds <= 0)
        srv->opts.ws_auth_timeout_seconds = 10;
    if (srv->opts.ws_unauthenticated_per_address <= 0)
        srv->opts.ws_unauthenticated_per_address = 16;
    if (srv->opts.ws_session_check_ms <= 0)
        srv->opts.ws_session_check_ms = 30000;

    void *foreign_loops[1] = {opts->loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = opts->port;
    bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
    info.iface = any ? NULL : srv->host;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (!strchr(host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = foreign_loops;
    info.user = srv;
    info.max_http_header_data = 8192;
    info.keepalive_timeout = 30;
    info.timeout_secs = 30;
    info.server_string = "pgfleet";
    /* lws NULLs srv->ctx once an asynchronous destroy on our loop completes */
    info.pcontext = &srv->ctx;

    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        snprintf(err, errlen,
                 "could not start the HTTP server on %s:%d (libwebsockets failed; "
                 "see the log above)",
                 host, opts->port);
        free(srv->host);
        free(srv->scratch);
        origin_policy_free(srv->origins);
        json_decref(srv->unauthenticated);
        free(srv);
        return NULL;
    }
    uv_timer_init(opts->loop, &srv->ws_check);
    srv->ws_check.data = srv;
    srv->ws_check_open = true;
    uint64_t every = (uint64_t)srv->opts.ws_session_check_ms;
    uv_timer_start(&srv->ws_check, ws_check_tick, every, every);
    return srv;
}

static void ws_check_closed(uv_handle_t *h)
{
    (void)h;
}

static int deprecated_cb(void)
{
    return 0;
}

void http_server_stop_accepting(HttpServer *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    lws_context_deprecate(srv->ctx, deprecated_cb);
}

size_t http_server_inflight(const HttpServer *srv)
{
    return srv->inflight;
}

size_t http_server_total_requests(const HttpServer *srv)
{
    return srv->total;
}

void http_server_close(HttpServer *srv)
{
    if (!srv || !srv->ctx || srv->destroying)
        return;
    srv->stopping = true;
    srv->destroying = true;
    if (srv->ws_check_open) {
        srv->ws_check_open = false;
        uv_close((uv_handle_t *)&srv->ws_check, ws_check_closed);
    }
    /* first stage: closes every connection; the rest completes on the loop */
    lws_context_destroy(srv->ctx);
}

void http_server_free(HttpServer *srv)
{
    if (!srv)
        return;
    http_server_close(srv);
    /* second stage, after the loop ended: frees what is left of the context */
    if (srv->ctx)
        lws_context_destroy(srv->ctx);
    free(srv->host);
    free(srv->scratch);
    origin_policy_free(srv->origins);
    json_decref(srv->unauthenticated);
    free(srv);
}
