#include "http/origin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

#define MAX_ORIGINS 32

struct OriginPolicy {
    char *origins[MAX_ORIGINS]; /* normalized: scheme://host:port, lower case */
    char *hosts[MAX_ORIGINS];   /* their host names */
    int n;
};

/* host of "host", "host:port", "[v6]", "[v6]:port" into buf (lower case); false when malformed */
static bool split_host(const char *authority, char *host, size_t hlen, int *port)
{
    *port = 0;
    const char *end;
    if (authority[0] == '[') {
        const char *close = strchr(authority, ']');
        if (!close || (size_t)(close - authority - 1) >= hlen)
            return false;
        snprintf(host, hlen, "%.*s", (int)(close - authority - 1), authority + 1);
        end = close + 1;
    } else {
        end = authority + strcspn(authority, ":");
        if ((size_t)(end - authority) >= hlen || end == authority)
            return false;
        snprintf(host, hlen, "%.*s", (int)(end - authority), authority);
    }
    if (*end == ':') {
        char *pe;
        long v = strtol(end + 1, &pe, 10);
        if (*pe || v < 1 || v > 65535)
            return false;
        *port = (int)v;
    } else if (*end) {
        return false;
    }
    for (char *c = host; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    return true;
}

/* "scheme://host[:port][/...]" -> "scheme://host:port" (default port made explicit) */
static bool normalize_origin(const char *url, char *out, size_t len, char *host, size_t hlen)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return false;
    char scheme[16];
    if ((size_t)(sep - url) >= sizeof scheme)
        return false;
    snprintf(scheme, sizeof scheme, "%.*s", (int)(sep - url), url);
    for (char *c = scheme; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    bool https = !strcmp(scheme, "https") || !strcmp(scheme, "wss");
    if (!https && strcmp(scheme, "http") && strcmp(scheme, "ws"))
        return false;
    char authority[300];
    snprintf(authority, sizeof authority, "%.*s", (int)strcspn(sep + 3, "/?#"), sep + 3);
    int port;
    if (strchr(authority, '@') || !split_host(authority, host, hlen, &port))
        return false;
    snprintf(out, len, "%s://%s%s%s:%d", https ? "https" : "http", strchr(host, ':') ? "[" : "",
             host, strchr(host, ':') ? "]" : "",
             port    ? port
             : https ? 443
                     : 80);
    return true;
}

static void add(OriginPolicy *p, const char *url)
{
    char norm[400], host[300];
    if (p->n < MAX_ORIGINS && normalize_origin(url, norm, sizeof norm, host, sizeof host)) {
        p->origins[p->n] = xstrdup(norm);
        p->hosts[p->n] = xstrdup(host);
        p->n++;
    }
}

OriginPolicy *origin_policy_new(const char *public_url, const char *allowed_origins)
{
    OriginPolicy *p = xcalloc(1, sizeof *p);
    if (public_url)
        add(p, public_url);
    char *list = xstrdup(allowed_origins ? allowed_origins : "");
    for (char *save = NULL, *o = strtok_r(list, ", ", &save); o; o = strtok_r(NULL, ", ", &save))
        add(p, o);
    free(list);
    return p;
}

void origin_policy_free(OriginPolicy *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++) {
        free(p->origins[i]);
        free(p->hosts[i]);
    }
    free(p);
}

static bool ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

bool origin_host_allowed(const OriginPolicy *p, const char *host_header)
{
    if (!host_header)
        return true;
    char host[300];
    int port;
    if (!split_host(host_header, host, sizeof host, &port))
        return false;
    if (ip_literal(host) || !strcmp(host, "localhost"))
        return true;
    for (int i = 0; i < p->n; i++)
        if (!strcmp(host, p->hosts[i]))
            return true;
    return false;
}

bool origin_allowed(const OriginPolicy *p, const char *origin, const char *host_header)
{
    if (!origin)
        return true;
    char norm[400], host[300];
    if (!normalize_origin(origin, norm, sizeof norm, host, sizeof host))
        return false; /* "null", or not an http(s) origin */
    for (int i = 0; i < p->n; i++)
        if (!strcmp(norm, p->origins[i]))
            return true;
    if (!host_header)
        return false;
    /* same origin: the page's host[:port] is the one the request was sent to */
    char want[300], have[300];
    int want_port, have_port;
    const char *authority = strstr(origin, "://") + 3;
    char a[300];
    snprintf(a, sizeof a, "%.*s", (int)strcspn(authority, "/?#"), authority);
    if (!split_host(host_header, have, sizeof have, &have_port) ||
        !split_host(a, want, sizeof want, &want_port))
        return false;
    bool https = !strncasecmp(origin, "https", 5);
    if (!want_port)
        want_port = https ? 443 : 80;
    if (!have_port)
        have_port = https ? 443 : 80;
    return !strcmp(want, have) && want_port == have_port;
}
