#include "pg/pgconn.h"

#include <jansson.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/log.h"
#include "common/xalloc.h"

typedef enum ConnState {
    ST_RESOLVING,
    ST_CONNECTING,
    ST_IDLE,
    ST_SENDING, /* flushing a request */
    ST_READING, /* collecting results */
    ST_FAILED,
    ST_CLOSED,
} ConnState;

/* uv_poll handles are separate allocations: a socket change closes one and opens another */
typedef struct Poll {
    uv_poll_t h;
    PgConn *c;
} Poll;

/* pgconn_set_instance_name: what every session of this process is called */
static char instance_appname[64];

void pgconn_set_instance_name(const char *name)
{
    snprintf(instance_appname, sizeof instance_appname, "%s", name ? name : "");
}

struct PgConn {
    uv_loop_t *loop;
    PGconn *pg;
    ConnState state;
    Poll *poll;
    int poll_fd;
    uv_timer_t timer;
    uv_getaddrinfo_t resolve;
    bool resolving;
    int handles; /* open uv handles + requests in flight that point here */
    bool freed;  /* pgconn_close done: free when handles reach 0 */
    char target[300];
    /* connect parameters kept until connected */
    char *host, *dbname, *user, *password, *sslmode, *sslrootcert, *appname;
    int port;
    long connect_timeout_ms;
    long statement_timeout_ms;
    PgConnectCb connect_cb;
    void *ud;
    /* the request in flight */
    PgResultCb result_cb;
    void *result_ud;
    PGresult **results;
    int nresults;
    int expected; /* statements in the request */
    bool pipeline;
    PgError req_err;
    bool have_err;
};

static const char *const kind_names[] = {
    "none",     "dns",   "connect", "timeout",   "auth",   "hba",   "tls",
    "database", "limit", "query",   "cancelled", "closed", "other",
};

const char *pg_err_kind_name(PgErrKind k)
{
    return (unsigned)k <= PGE_OTHER ? kind_names[k] : "other";
}

static void trim_msg(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

void pg_error_classify(PgError *e, const char *msg, const PgConnParams *p)
{
    snprintf(e->message, sizeof e->message, "%s", msg ? msg : "unknown error");
    trim_msg(e->message);
    /* libpq prefixes "connection to server at ... failed: " */
    const char *m = e->message;
    const char *user = p && p->user ? p->user : "?";
    const char *db = p && p->dbname ? p->dbname : "?";
    if (strstr(m, "password authentication failed") || strstr(m, "PAM authentication failed")) {
        e->kind = PGE_AUTH;
        snprintf(e->sqlstate, sizeof e->sqlstate, "28P01");
        snprintf(e->hint, sizeof e->hint,
                 "check the password of role \"%s\" where the credentials come from (a rotated "
                 "Secrets Manager secret is read again automatically)",
                 user);
    } else if (strstr(m, "no pg_hba.conf entry") || strstr(m, "pg_hba.conf rejects")) {
        e->kind = PGE_HBA;
        snprintf(e->sqlstate, sizeof e->sqlstate, "28000");
        snprintf(e->hint, sizeof e->hint,
                 "add a pg_hba.conf line allowing role \"%s\" to database \"%s\" from pgfleet's "
                 "address, then reload PostgreSQL%s",
                 user, db, strstr(m, "no encryption") ? " (or connect with sslmode=require)" : "");
    } else if (strstr(m, "role \"") && strstr(m, "does not exist")) {
        e->kind = PGE_AUTH;
        snprintf(e->sqlstate, sizeof e->sqlstate, "28000");
        snprintf(e->hint, sizeof e->hint, "create the role or fix the user name");
    } else if (strstr(m, "database \"") && strstr(m, "does not exist")) {
        e->kind = PGE_DATABASE;
        snprintf(e->sqlstate, sizeof e->sqlstate, "3D000");
        snprintf(e->hint, sizeof e->hint, "check dbname; \\l in psql lists the databases");
    } else if (strstr(m, "too many connections") || strstr(m, "remaining connection slots")) {
        e->kind = PGE_LIMIT;
        snprintf(e->sqlstate, sizeof e->sqlstate, "53300");
        snprintf(e->hint, sizeof e->hint,
                 "the server is at max_connections; raise it or lower pgfleet's pool size");
    } else if (strstr(m, "SSL") || strstr(m, "certificate") || strstr(m, "TLS")) {
        e->kind = PGE_TLS;
        if (strstr(m, "does not support SSL"))
            snprintf(e->hint, sizeof e->hint,
                     "the server has no TLS but sslmode requires it: enable ssl on the server "
                     "or lower sslmode");
        else
            snprintf(e->hint, sizeof e->hint,
                     "check sslmode and the CA bundle (PGFLEET_PG_CA_FILE; the RDS bundle for "
                     "RDS); verify-full also checks the host name");
    } else if (strstr(m, "Connection refused")) {
        e->kind = PGE_CONNECT;
        snprintf(e->hint, sizeof e->hint,
                 "is PostgreSQL running and listening on %s:%d? (listen_addresses, port, "
                 "firewall or security group)",
                 p && p->host ? p->host : "?", p ? p->port : 0);
    } else if (strstr(m, "timeout") || strstr(m, "timed out")) {
        e->kind = PGE_TIMEOUT;
        snprintf(e->hint, sizeof e->hint,
                 "no answer in time: check the network path, firewall or security group");
    } else if (strstr(m, "No route to host") || strstr(m, "Network is unreachable") ||
               strstr(m, "Connection reset")) {
        e->kind = PGE_CONNECT;
        snprintf(e->hint, sizeof e->hint, "the host cannot be reached from pgfleet");
    } else if (strstr(m, "server closed the connection") || strstr(m, "terminating connection")) {
        e->kind = PGE_CLOSED;
        snprintf(e->hint, sizeof e->hint, "the server ended the session; it may be restarting");
    } else {
        e->kind = PGE_OTHER;
    }
}

static void set_error(PgError *e, PgErrKind kind, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(PgError *e, PgErrKind kind, const char *hint, const char *fmt, ...)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    if (hint)
        snprintf(e->hint, sizeof e->hint, "%s", hint);
}

static PgConnParams params_of(const PgConn *c)
{
    return (PgConnParams){.host = c->host, .port = c->port, .dbname = c->dbname, .user = c->user};
}

/* ---- lifetime ---- */

static void scrub(char **s)
{
    xfree_secret(*s);
    *s = NULL;
}

static void maybe_free(PgConn *c)
{
    if (!c->freed || c->handles > 0)
        return;
    free(c->host);
    free(c->dbname);
    free(c->user);
    scrub(&c->password);
    free(c->sslmode);
    free(c->sslrootcert);
    free(c->appname);
    free(c);
}

static void handle_closed(uv_handle_t *h)
{
    PgConn *c;
    if (h->type == UV_POLL) {
        Poll *p = h->data;
        c = p->c;
        free(p);
    } else {
        c = h->data;
    }
    c->handles--;
    maybe_free(c);
}

static void stop_poll(PgConn *c)
{
    if (c->poll) {
        uv_poll_stop(&c->poll->h);
        uv_close((uv_handle_t *)&c->poll->h, handle_closed);
        c->poll = NULL;
        c->poll_fd = -1;
    }
}

/* tears down the libpq side; the struct is freed later by pgconn_close/maybe_free */
static void shutdown_conn(PgConn *c, ConnState st)
{
    c->state = st;
    stop_poll(c);
    uv_timer_stop(&c->timer);
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
}

static void poll_cb(uv_poll_t *h, int status, int events);

/* watches the current socket for events; re-creates the handle when the fd changed */
static bool watch(PgConn *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return false;
    if (c->poll && c->poll_fd != fd)
        stop_poll(c);
    if (!c->poll) {
        Poll *p = xcalloc(1, sizeof *p);
        p->c = c;
        p->h.data = p;
        if (uv_poll_init(c->loop, &p->h, fd) != 0) {
            free(p);
            return false;
        }
        c->handles++;
        c->poll = p;
        c->poll_fd = fd;
    }
    uv_poll_start(&c->poll->h, events, poll_cb);
    return true;
}

/* ---- connecting ---- */

static void connect_failed(PgConn *c, const PgError *e)
{
    shutdown_conn(c, ST_FAILED);
    PgConnectCb cb = c->connect_cb;
    c->connect_cb = NULL;
    cb(c->ud, c, e);
    pgconn_close(c);
}

/* a server's NOTICE and WARNING go to our log at debug level, never raw to stderr */
static void notice(void *arg, const char *message)
{
    PgConn *c = arg;
    size_t n = strlen(message);
    while (n && message[n - 1] == '\n')
        n--;
    log_debug("%s: %.*s", c->target, (int)n, message);
}

static void connect_step(PgConn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    switch (st) {
    case PGRES_POLLING_OK: {
        uv_timer_stop(&c->timer);
        PQsetnonblocking(c->pg, 1);
        PQsetNoticeProcessor(c->pg, notice, c);
        c->state = ST_IDLE;
        scrub(&c->password);
        uv_poll_stop(&c->poll->h);
        PgConnectCb cb = c->connect_cb;
        c->connect_cb = NULL;
        cb(c->ud, c, NULL);
        return;
    }
    case PGRES_POLLING_FAILED: {
        PgError e = {0};
        PgConnParams p = params_of(c);
        pg_error_classify(&e, PQerrorMessage(c->pg), &p);
        connect_failed(c, &e);
        return;
    }
    case PGRES_POLLING_READING:
        if (!watch(c, UV_READABLE))
            goto lost;
        return;
    case PGRES_POLLING_WRITING:
        if (!watch(c, UV_WRITABLE))
            goto lost;
        return;
    default:
        if (!watch(c, UV_READABLE | UV_WRITABLE))
            goto lost;
        return;
    }
lost : {
    PgError e;
    set_error(&e, PGE_CONNECT, NULL, "could not connect to %s: no socket", c->target);
    connect_failed(c, &e);
}
}

static void connect_timeout_cb(uv_timer_t *t)
{
    PgConn *c = t->data;
    if (c->state != ST_CONNECTING && c->state != ST_RESOLVING)
        return;
    PgError e;
    set_error(&e, PGE_TIMEOUT,
              "no answer in time: check the network path, firewall or security "
              "group",
              "could not connect to %s: timeout after %ld ms", c->target, c->connect_timeout_ms);
    if (c->resolving) {
        uv_cancel((uv_req_t *)&c->resolve); /* the resolver callback sees the state */
        c->state = ST_FAILED;
        PgConnectCb cb = c->connect_cb;
        c->connect_cb = NULL;
        cb(c->ud, c, &e);
        pgconn_close(c);
        return;
    }
    connect_failed(c, &e);
}

static void start_libpq(PgConn *c, const char *hostaddr)
{
    char port[8], timeout_opt[128], ct[24];
    snprintf(port, sizeof port, "%d", c->port);
    /* standard_conforming_strings: a backslash in a literal is only a backslash */
    snprintf(timeout_opt, sizeof timeout_opt,
             "-c statement_timeout=%ld -c standard_conforming_strings=on", c->statement_timeout_ms);
    snprintf(ct, sizeof ct, "%ld", (c->connect_timeout_ms + 999) / 1000);
    const char *keys[16], *vals[16];
    int n = 0;
    /* optional values are added only when set */
    const char *opt[][2] = {
        {"host", c->host},
        {"hostaddr", hostaddr},
        {"port", port},
        {"dbname", c->dbname},
        {"user", c->user},
        {"password", c->password},
        {"sslmode", c->sslmode ? c->sslmode : "prefer"},
        {"sslrootcert", c->sslrootcert},
        {"application_name", instance_appname[0] ? instance_appname
                             : c->appname        ? c->appname
                                                 : "pgfleet"},
        {"gssencmode", "disable"},
        {"options", timeout_opt},
        {"client_encoding", "UTF8"},
        {"connect_timeout", ct},
    };
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        if (opt[i][1]) {
            keys[n] = opt[i][0];
            vals[n] = opt[i][1];
            n++;
        }
    }
    keys[n] = vals[n] = NULL;
    c->pg = PQconnectStartParams(keys, vals, 0 /* never expand dbname as a conninfo */);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        PgError e = {0};
        PgConnParams p = params_of(c);
        pg_error_classify(&e, c->pg ? PQerrorMessage(c->pg) : "out of memory", &p);
        connect_failed(c, &e);
        return;
    }
    c->state = ST_CONNECTING;
    if (!watch(c, UV_WRITABLE)) {
        PgError e;
        set_error(&e, PGE_CONNECT, NULL, "could not connect to %s: no socket", c->target);
        connect_failed(c, &e);
    }
}

static void resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    PgConn *c = req->data;
    c->resolving = false;
    c->handles--;
    if (c->state != ST_RESOLVING) { /* timed out or closed meanwhile */
        uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    if (status != 0 || !res) {
        PgError e;
        set_error(&e, PGE_DNS, "check the host name, or use an IP address",
                  "could not resolve host \"%s\": %s", c->host, uv_strerror(status));
        uv_freeaddrinfo(res);
        connect_failed(c, &e);
        return;
    }
    char ip[64] = "";
    if (res->ai_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
    else
        uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    start_libpq(c, ip);
}

PgConn *pgconn_connect(uv_loop_t *loop, const PgConnParams *p, PgConnectCb cb, void *ud)
{
    PgConn *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    c->poll_fd = -1;
    c->host = xstrdup(p->host ? p->host : "localhost");
    c->port = p->port ? p->port : 5432;
    c->dbname = p->dbname ? xstrdup(p->dbname) : NULL;
    c->user = p->user ? xstrdup(p->user) : NULL;
    c->password = p->password ? xstrdup(p->password) : NULL;
    c->sslmode = p->sslmode ? xstrdup(p->sslmode) : NULL;
    c->sslrootcert = p->sslrootcert ? xstrdup(p->sslrootcert) : NULL;
    c->appname = p->application_name ? xstrdup(p->application_name) : NULL;
    c->connect_timeout_ms = p->connect_timeout_ms > 0 ? p->connect_timeout_ms : 5000;
    c->statement_timeout_ms = p->statement_timeout_ms > 0 ? p->statement_timeout_ms : 30000;
    c->connect_cb = cb;
    c->ud = ud;
    snprintf(c->target, sizeof c->target, "%s%s%s:%d", strchr(c->host, ':') ? "[" : "", c->host,
             strchr(c->host, ':') ? "]" : "", c->port);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles++;
    uv_timer_start(&c->timer, connect_timeout_cb, (uint64_t)c->connect_timeout_ms, 0);
    c->state = ST_RESOLVING;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->resolve.data = c;
    int rc = uv_getaddrinfo(loop, &c->resolve, resolved_cb, c->host, NULL, &hints);
    if (rc == 0) {
        c->resolving = true;
        c->handles++;
    } else {
        /* report from the loop, not from inside this call */
        c->state = ST_RESOLVING;
        uv_timer_start(&c->timer, connect_timeout_cb, 0, 0);
    }
    return c;
}

/* ---- requests ---- */

static void finish_request(PgConn *c, const PgError *err)
{
    PgResultCb cb = c->result_cb;
    void *ud = c->result_ud;
    c->result_cb = NULL;
    uv_timer_stop(&c->timer);
    if (c->state == ST_SENDING || c->state == ST_READING)
        c->state = ST_IDLE;
    if (c->poll && c->state == ST_IDLE)
        uv_poll_stop(&c->poll->h);
    /* the callback may start the next request on this connection: hand the
       results over first so that request starts with a clean slate */
    PGresult **results = c->results;
    int n = c->nresults;
    c->results = NULL;
    c->nresults = 0;
    if (cb)
        cb(ud, c, results, n, err);
    for (int i = 0; i < n; i++)
        PQclear(results[i]);
    free(results);
}

static void request_failed_conn(PgConn *c)
{
    PgError e = {0};
    PgConnParams p = params_of(c);
    pg_error_classify(&e, PQerrorMessage(c->pg), &p);
    if (e.kind == PGE_OTHER)
        e.kind = PGE_CLOSED;
    shutdown_conn(c, ST_FAILED);
    finish_request(c, &e);
}

static void record_result(PgConn *c, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        return;
    }
    if ((st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) && !c->have_err) {
        c->have_err = true;
        memset(&c->req_err, 0, sizeof c->req_err);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
        snprintf(c->req_err.sqlstate, sizeof c->req_err.sqlstate, "%s", state ? state : "");
        snprintf(c->req_err.message, sizeof c->req_err.message, "%s",
                 msg ? msg : PQresultErrorMessage(r));
        trim_msg(c->req_err.message);
        if (hint)
            snprintf(c->req_err.hint, sizeof c->req_err.hint, "%s", hint);
        c->req_err.kind = state && strcmp(state, "57014") == 0 ? PGE_CANCELLED : PGE_QUERY;
        if (state && strcmp(state, "57014") == 0 && strstr(c->req_err.message, "statement timeout"))
            c->req_err.kind = PGE_TIMEOUT;
    }
    c->results = xrealloc(c->results, (size_t)(c->nresults + 1) * sizeof *c->results);
    c->results[c->nresults++] = r;
}

/* reads what arrived; finishes the request when every result is in */
static void read_results(PgConn *c)
{
    if (!PQconsumeInput(c->pg)) {
        request_failed_conn(c);
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (c->pipeline) {
                /* NULL separates the statements of a pipeline: go on until the sync */
                if (c->expected > 0) {
                    c->expected--;
                    continue;
                }
            }
            if (!c->pipeline || c->expected <= 0) {
                if (c->pipeline)
                    PQexitPipelineMode(c->pg);
                finish_request(c, c->have_err ? &c->req_err : NULL);
                return;
            }
            continue;
        }
        bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        record_result(c, r);
        if (sync) {
            PQexitPipelineMode(c->pg);
            finish_request(c, c->have_err ? &c->req_err : NULL);
            return;
        }
    }
    watch(c, UV_READABLE);
}

static void flush_or_read(PgConn *c)
{
    int f = PQflush(c->pg);
    if (f < 0) {
        request_failed_conn(c);
        return;
    }
    if (f == 1) {
        c->state = ST_SENDING;
        watch(c, UV_READABLE | UV_WRITABLE);
        return;
    }
    c->state = ST_READING;
    watch(c, UV_READABLE);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    Poll *p = h->data;
    PgConn *c = p->c;
    if (c->poll != p)
        return;
    (void)status;
    switch (c->state) {
    case ST_CONNECTING:
        connect_step(c);
        break;
    case ST_SENDING:
        if (events & UV_READABLE && !PQconsumeInput(c->pg)) {
            request_failed_conn(c);
            return;
        }
        flush_or_read(c);
        break;
    case ST_READING:
        read_results(c);
        break;
    case ST_IDLE:
        /* the server spoke between requests: a notice, or it is closing the session */
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)
            shutdown_conn(c, ST_FAILED);
        else
            uv_poll_stop(&c->poll->h);
        break;
    default:
        break;
    }
}

static bool begin(PgConn *c, PgResultCb cb, void *ud)
{
    if (c->state != ST_IDLE || !c->pg || PQstatus(c->pg) != CONNECTION_OK)
        return false;
    c->result_cb = cb;
    c->result_ud = ud;
    c->have_err = false;
    c->nresults = 0;
    c->results = NULL;
    return true;
}

bool pgconn_query(PgConn *c, const char *sql, int nparams, const char *const *params, PgResultCb cb,
                  void *ud)
{
    if (!begin(c, cb, ud))
        return false;
    c->pipeline = false;
    c->expected = 1;
    if (!PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0)) {
        c->result_cb = NULL;
        request_failed_conn(c);
        return true; /* the failure is reported through the callback */
    }
    flush_or_read(c);
    return true;
}

bool pgconn_pipeline(PgConn *c, const char *const *sqls, int n, PgResultCb cb, void *ud)
{
    if (n <= 0 || !begin(c, cb, ud))
        return false;
    if (!PQenterPipelineMode(c->pg)) {
        c->result_cb = NULL;
        return false;
    }
    c->pipeline = true;
    c->expected = n;
    for (int i = 0; i < n; i++) {
        if (!PQsendQueryParams(c->pg, sqls[i], 0, NULL, NULL, NULL, NULL, 0)) {
            request_failed_conn(c);
            return true;
        }
    }
    if (!PQpipelineSync(c->pg)) {
        request_failed_conn(c);
        return true;
    }
    flush_or_read(c);
    return true;
}

typedef struct CancelWork {
    uv_work_t req;
    PGcancel *cancel;
    PgConn *c;
} CancelWork;

static void cancel_work(uv_work_t *w)
{
    CancelWork *cw = w->data;
    char err[256];
    PQcancel(cw->cancel, err, sizeof err);
}

static void cancel_done(uv_work_t *w, int status)
{
    (void)status;
    CancelWork *cw = w->data;
    PQfreeCancel(cw->cancel);
    cw->c->handles--;
    maybe_free(cw->c);
    free(cw);
}

void pgconn_cancel(PgConn *c)
{
    if (!c->pg || (c->state != ST_SENDING && c->state != ST_READING))
        return;
    CancelWork *cw = xcalloc(1, sizeof *cw);
    cw->cancel = PQgetCancel(c->pg);
    if (!cw->cancel) {
        free(cw);
        return;
    }
    cw->c = c;
    cw->req.data = cw;
    c->handles++;
    uv_queue_work(c->loop, &cw->req, cancel_work, cancel_done);
}

void pgconn_close(PgConn *c)
{
    if (!c || c->freed)
        return;
    if (c->result_cb) {
        PgError e;
        set_error(&e, PGE_CLOSED, NULL, "connection to %s closed", c->target);
        shutdown_conn(c, ST_CLOSED);
        finish_request(c, &e);
    }
    if (c->connect_cb) {
        PgError e;
        set_error(&e, PGE_CLOSED, NULL, "connection to %s closed", c->target);
        PgConnectCb cb = c->connect_cb;
        c->connect_cb = NULL;
        cb(c->ud, c, &e);
    }
    shutdown_conn(c, ST_CLOSED);
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->resolve);
    c->freed = true;
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, handle_closed);
}

bool pgconn_busy(const PgConn *c)
{
    return c->state == ST_SENDING || c->state == ST_READING;
}

bool pgconn_ok(const PgConn *c)
{
    return c->state == ST_IDLE && c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

PGconn *pgconn_raw(PgConn *c)
{
    return c->pg;
}

const char *pgconn_target(const PgConn *c)
{
    return c->target;
}

json_t *pg_rows_json(const PGresult *r)
{
    json_t *rows = json_array();
    int nf = PQnfields(r);
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_object();
        for (int f = 0; f < nf; f++) {
            const char *name = PQfname(r, f);
            if (PQgetisnull(r, i, f)) {
                json_object_set_new(row, name, json_null());
                continue;
            }
            const char *v = PQgetvalue(r, i, f);
            Oid type = PQftype(r, f);
            json_t *j;
            switch (type) {
            case 16: /* bool */
                j = json_boolean(v[0] == 't');
                break;
            case 20: /* int8 */
            case 21:
            case 23:
                j = json_integer(strtoll(v, NULL, 10));
                break;
            case 700:
            case 701: /* float */
            case 1700:
                j = json_real(strtod(v, NULL));
                break;
            case 1009: { /* text[]: {a,b} (names without quotes or commas) */
                j = json_array();
                const char *p = v + 1;
                while (*p && *p != '}') {
                    size_t l = strcspn(p, ",}");
                    char item[256];
                    snprintf(item, sizeof item, "%.*s", (int)l, p);
                    char *s = item;
                    size_t sl = strlen(s);
                    if (sl >= 2 && s[0] == '"' && s[sl - 1] == '"') {
                        s[sl - 1] = '\0';
                        s++;
                    }
                    json_array_append_new(j, json_string(s));
                    p += l;
                    if (*p == ',')
                        p++;
                }
                break;
            }
            default:
                j = json_string(v);
            }
            json_object_set_new(row, name, j);
        }
        json_array_append_new(rows, row);
    }
    return rows;
}

/* ---- owned copies of parameters ---- */

static const char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void pgconn_params_copy(PgConnParams *dst, const PgConnParams *src)
{
    *dst = *src;
    dst->host = dup_or_null(src->host);
    dst->dbname = dup_or_null(src->dbname);
    dst->user = dup_or_null(src->user);
    dst->password = dup_or_null(src->password);
    dst->sslmode = dup_or_null(src->sslmode);
    dst->sslrootcert = dup_or_null(src->sslrootcert);
    dst->application_name = dup_or_null(src->application_name);
}

void pgconn_params_set_password(PgConnParams *p, const char *password)
{
    char *old = (char *)(uintptr_t)p->password;
    scrub(&old);
    p->password = dup_or_null(password);
}

void pgconn_params_clear(PgConnParams *p)
{
    char *s[] = {(char *)(uintptr_t)p->host,
                 (char *)(uintptr_t)p->dbname,
                 (char *)(uintptr_t)p->user,
                 (char *)(uintptr_t)p->password,
                 (char *)(uintptr_t)p->sslmode,
                 (char *)(uintptr_t)p->sslrootcert,
                 (char *)(uintptr_t)p->application_name};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        scrub(&s[i]);
    memset(p, 0, sizeof *p);
}
