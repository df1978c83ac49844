#include "httpc/httpc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "pgfleet_version.h"

#define HTTPC_MAX_BODY (16 * 1024 * 1024)

typedef struct Transfer Transfer;

struct Httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    Transfer *transfers;
    size_t in_flight;
    int open_handles; /* the timer and the socket polls */
    bool closing;
};

typedef struct SockCtx {
    uv_poll_t poll;
    curl_socket_t fd;
    Httpc *h;
} SockCtx;

struct Transfer {
    Httpc *h;
    CURL *easy;
    struct curl_slist *headers;
    char *req_body;
    StrBuf body;
    char *content_type;
    char *request_id;
    char errbuf[CURL_ERROR_SIZE];
    bool too_large;
    uint64_t started_ns;
    HttpcDoneCb cb;
    void *ud;
    Transfer *prev, *next;
};

static void maybe_free(Httpc *h)
{
    if (h->closing && h->open_handles == 0) {
        /* cached connections close now: curl must not call back into freed state */
        curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, NULL);
        curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
        curl_multi_cleanup(h->multi);
        free(h);
    }
}

static void handle_closed(uv_handle_t *handle)
{
    Httpc *h;
    if (handle->type == UV_POLL) {
        SockCtx *sc = handle->data;
        h = sc->h;
        free(sc);
    } else {
        h = handle->data;
    }
    h->open_handles--;
    maybe_free(h);
}

static void finish(Transfer *t, CURLcode code)
{
    Httpc *h = t->h;
    if (t->prev)
        t->prev->next = t->next;
    else
        h->transfers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    h->in_flight--;

    HttpcResponse r = {0};
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = t->body.data ? t->body.data : "";
    r.body_len = t->body.len;
    r.content_type = t->content_type;
    r.request_id = t->request_id;
    r.curl_code = (int)code;
    if (t->too_large)
        r.error = "response larger than 16 MiB";
    else if (code == CURLE_ABORTED_BY_CALLBACK)
        r.error = "cancelled";
    else if (code != CURLE_OK)
        r.error = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
    if (code != CURLE_OK)
        r.status = r.status ? r.status : 0;
    r.total_ms = (double)(uv_hrtime() - t->started_ns) / 1e6;
    t->cb(t->ud, &r);

    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->req_body);
    strbuf_free(&t->body);
    free(t->content_type);
    free(t->request_id);
    free(t);
}

static void check_done(Httpc *h)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        Transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(h->multi, easy);
        finish(t, code);
    }
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    SockCtx *sc = p->data;
    Httpc *h = sc->h;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(h->multi, sc->fd, flags, &running);
    check_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    Httpc *h = userp;
    SockCtx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            curl_multi_assign(h->multi, s, NULL);
            uv_close((uv_handle_t *)&sc->poll, handle_closed);
        }
        return 0;
    }
    if (!sc) {
        sc = xcalloc(1, sizeof *sc);
        sc->fd = s;
        sc->h = h;
        if (uv_poll_init_socket(h->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        h->open_handles++;
        curl_multi_assign(h->multi, s, sc);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sc->poll, events, poll_cb);
    return 0;
}

static void timeout_cb(uv_timer_t *timer)
{
    Httpc *h = timer->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    Httpc *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, timeout_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

Httpc *httpc_new(uv_loop_t *loop)
{
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    Httpc *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->multi = curl_multi_init();
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open_handles = 1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

void httpc_free(Httpc *h)
{
    if (!h || h->closing)
        return;
    h->closing = true;
    while (h->transfers) {
        Transfer *t = h->transfers;
        curl_multi_remove_handle(h->multi, t->easy);
        finish(t, CURLE_ABORTED_BY_CALLBACK);
    }
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, handle_closed);
}

size_t httpc_in_flight(const Httpc *h)
{
    return h->in_flight;
}

static size_t write_cb(char *data, size_t size, size_t n, void *ud)
{
    Transfer *t = ud;
    size_t len = size * n;
    if (t->body.len + len > HTTPC_MAX_BODY) {
        t->too_large = true;
        return 0;
    }
    strbuf_append(&t->body, data, len);
    return len;
}

static char *header_value(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0)
        return NULL;
    const char *v = line + nl;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return xstrndup(v, (size_t)(end - v));
}

static size_t header_cb(char *data, size_t size, size_t n, void *ud)
{
    Transfer *t = ud;
    size_t len = size * n;
    char *v;
    if ((v = header_value(data, len, "content-type:"))) {
        free(t->content_type);
        t->content_type = v;
    } else if ((v = header_value(data, len, "x-amzn-requestid:")) ||
               (v = header_value(data, len, "x-amz-request-id:"))) {
        free(t->request_id);
        t->request_id = v;
    }
    return len;
}

bool httpc_send(Httpc *h, const HttpcRequest *req, HttpcDoneCb cb, void *ud)
{
    if (h->closing)
        return false;
    Transfer *t = xcalloc(1, sizeof *t);
    t->h = h;
    t->cb = cb;
    t->ud = ud;
    t->started_ns = uv_hrtime();
    t->easy = curl_easy_init();
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pgfleet/" PGFLEET_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 3000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    const char *method = req->method ? req->method : "GET";
    if (req->body) {
        t->req_body = xmalloc(req->body_len + 1);
        memcpy(t->req_body, req->body, req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req_body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (strcmp(method, "GET") == 0 && !req->body)
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    else if (strcmp(method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    /* no "Expect: 100-continue" round trip for small bodies */
    t->headers = curl_slist_append(NULL, "Expect:");
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        t->headers = curl_slist_append(t->headers, *hd);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);

    t->next = h->transfers;
    if (h->transfers)
        h->transfers->prev = t;
    h->transfers = t;
    h->in_flight++;
    curl_multi_add_handle(h->multi, e);
    return true;
}
