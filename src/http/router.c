#include "http/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* next path segment: [*s, end) ; advances *s past it and one '/' */
static bool next_segment(const char **s, const char **seg, size_t *len)
{
    if (**s == '\0')
        return false;
    *seg = *s;
    const char *slash = strchr(*s, '/');
    *len = slash ? (size_t)(slash - *s) : strlen(*s);
    *s = slash ? slash + 1 : *s + *len;
    return true;
}

static bool match(const char *pattern, const char *path, HttpRequest *req)
{
    if (pattern[0] != '/' || path[0] != '/')
        return false;
    const char *p = pattern + 1, *q = path + 1;
    size_t nparams = 0;
    const char *names[HTTP_MAX_PARAMS];
    const char *vals[HTTP_MAX_PARAMS];
    size_t vlens[HTTP_MAX_PARAMS];
    size_t nlens[HTTP_MAX_PARAMS];
    for (;;) {
        const char *ps, *qs;
        size_t pl, ql;
        bool hp = next_segment(&p, &ps, &pl);
        bool hq = next_segment(&q, &qs, &ql);
        if (!hp || !hq) {
            if (hp != hq)
                return false;
            break;
        }
        if (pl >= 2 && ps[0] == '{' && ps[pl - 1] == '}') {
            if (ql == 0 || nparams == HTTP_MAX_PARAMS)
                return false;
            names[nparams] = ps + 1;
            nlens[nparams] = pl - 2;
            vals[nparams] = qs;
            vlens[nparams] = ql;
            nparams++;
        } else if (pl != ql || memcmp(ps, qs, pl) != 0) {
            return false;
        }
    }
    /* a trailing slash is a different path: "/api/x/" is not "/api/x" */
    if (strlen(path) > 1 && path[strlen(path) - 1] == '/' && pattern[strlen(pattern) - 1] != '/')
        return false;
    if (req) {
        for (size_t i = 0; i < req->nparams; i++) {
            free(req->param_names[i]);
            free(req->param_values[i]);
        }
        req->nparams = nparams;
        for (size_t i = 0; i < nparams; i++) {
            req->param_names[i] = xstrndup(names[i], nlens[i]);
            req->param_values[i] = xstrndup(vals[i], vlens[i]);
        }
    }
    return true;
}

bool router_pattern_matches(const char *pattern, const char *path)
{
    return match(pattern, path, NULL);
}

RouteMatch router_match(const Route *routes, size_t nroutes, HttpRequest *req, const Route **route,
                        char *allow, size_t allowlen)
{
    bool path_seen = false;
    if (allow && allowlen)
        allow[0] = '\0';
    for (size_t i = 0; i < nroutes; i++) {
        if (!router_pattern_matches(routes[i].pattern, req->path))
            continue;
        HttpMethod m = req->method == HTTP_HEAD ? HTTP_GET : req->method;
        if (routes[i].method == m) {
            match(routes[i].pattern, req->path, req);
            *route = &routes[i];
            return ROUTE_FOUND;
        }
        if (allow && allowlen) {
            size_t used = strlen(allow);
            snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "",
                     http_method_name(routes[i].method));
        }
        path_seen = true;
    }
    return path_seen ? ROUTE_WRONG_METHOD : ROUTE_NOT_FOUND;
}
