/* sso: the SAML and OpenID Connect endpoints the browser goes through (auth/sso.h does the work) */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/sso.h"

/* the outcome of a step: a redirect (with its cookies) or a page */
static void answer(HttpRequest *req, const SsoOutcome *o)
{
    if (o->session_token)
        http_set_cookie(req, AUTH_COOKIE, o->session_token,
                        o->session_max_age > 1 ? (long)o->session_max_age : 1, req->secure);
    if (o->state_cookie)
        http_set_cookie_path(req, SSO_COOKIE, o->state_cookie,
                             o->state_cookie[0] ? SSO_STATE_TTL_MS / 1000 : 0, req->secure,
                             "/auth/oidc");
    if (o->status / 100 == 3)
        http_respond_redirect(req, o->status, o->location);
    else
        http_respond_page(req, o->status, o->title, o->message, o->hint, "/login",
                          "Back to the sign-in page");
}

static void answered(void *ud, const SsoOutcome *o)
{
    HttpRequest *req = ud;
    answer(req, o);
    http_request_release(req);
}

static SsoBrowser browser(const HttpRequest *req, const char *state_cookie)
{
    return (SsoBrowser){.address = req->peer,
                        .request_id = req->request_id,
                        .session_token = req->session_token,
                        .state_cookie = state_cookie};
}

void api_saml_metadata(HttpRequest *req, void *app)
{
    Services *s = app;
    char *xml = sso_saml_metadata(auth_sso(s->auth));
    if (!xml) {
        http_respond_error(req, PGF_ERR_NOT_FOUND, "set PGFLEET_SAML_IDP_METADATA",
                           "SAML sign-in is not configured here");
        return;
    }
    http_respond_raw(req, 200, "application/samlmetadata+xml", xml, strlen(xml));
    free(xml);
}

void api_saml_login(HttpRequest *req, void *app)
{
    Services *s = app;
    http_request_hold(req);
    sso_saml_login(auth_sso(s->auth), http_query_value(req, "next"), answered, req);
}

void api_saml_acs(HttpRequest *req, void *app)
{
    Services *s = app;
    char *response = http_form_value(req, "SAMLResponse");
    char *relay = http_form_value(req, "RelayState");
    SsoBrowser b = browser(req, NULL);
    http_request_hold(req);
    sso_saml_acs(auth_sso(s->auth), response, relay, &b, answered, req);
    free(response);
    free(relay);
}

void api_oidc_login(HttpRequest *req, void *app)
{
    Services *s = app;
    http_request_hold(req);
    sso_oidc_login(auth_sso(s->auth), http_query_value(req, "next"), answered, req);
}

void api_oidc_callback(HttpRequest *req, void *app)
{
    Services *s = app;
    SsoBrowser b = browser(req, req->sso_state);
    const char *error = http_query_value(req, "error");
    http_request_hold(req);
    sso_oidc_callback(auth_sso(s->auth), http_query_value(req, "code"),
                      http_query_value(req, "state"), error, &b, answered, req);
}
