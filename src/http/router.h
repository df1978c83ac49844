/*
 * router: the static table of routes and matching a request against it.
 *
 * A pattern is a path whose segments may be "{name}" parameters, e.g.
 * "/api/databases/{id}". Every route declares the least role it needs (the
 * auth seam) and carries what the OpenAPI document says about it.
 */
#ifndef PGFLEET_ROUTER_H
#define PGFLEET_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/rbac.h"
#include "http/request.h"

typedef void (*RouteHandler)(HttpRequest *req, void *app);

typedef struct Route {
    HttpMethod method;
    const char *pattern;
    Role role; /* ROLE_NONE: public */
    RouteHandler handler;
    /* documentation, for GET /api/openapi.json */
    const char *tag;
    const char *summary;
    const char *request_schema;   /* components/schemas name, or NULL */
    const char *response_schema;  /* components/schemas name, or NULL */
    const char *const *responses; /* extra documented statuses, e.g. {"422", "503", NULL} */
    unsigned success;             /* the status of a success: 0 is 200 */
    const char *action; /* state-changing routes: the audit trail's name, "stream.pause" */
    unsigned flags;     /* ROUTE_* */
} Route;

/*
 * An HTML form posted from another site (a SAML IdP's page to the ACS): the
 * Origin check and the JSON-only rule do not apply; the body may be
 * application/x-www-form-urlencoded. Only for public routes whose input is
 * signed by someone pgfleet trusts.
 */
#define ROUTE_CROSS_SITE_FORM 1u
/* answers a browser: a redirect, or an HTML page that says what went wrong (not JSON) */
#define ROUTE_PAGE 2u
/* answers SAML metadata (XML), not JSON */
#define ROUTE_XML 4u

typedef enum RouteMatch {
    ROUTE_FOUND,
    ROUTE_NOT_FOUND,
    ROUTE_WRONG_METHOD, /* the path exists with other methods */
} RouteMatch;

/*
 * Matches method and path. On ROUTE_FOUND *route is set and the parameters
 * are stored in req (param_names/param_values). On ROUTE_WRONG_METHOD, allow
 * receives the methods the path accepts ("GET, POST").
 */
RouteMatch router_match(const Route *routes, size_t nroutes, HttpRequest *req, const Route **route,
                        char *allow, size_t allowlen);

/* true when path matches pattern; does not record parameters */
bool router_pattern_matches(const char *pattern, const char *path);

#endif
