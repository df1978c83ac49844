#include "auth/saml.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lasso/lasso.h>
#include <lasso/xml/misc_text_node.h>
#include <lasso/xml/saml-2.0/samlp2_authn_request.h>
#include <lasso/xml/saml-2.0/samlp2_name_id_policy.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/saml2_attribute.h>
#include <lasso/xml/saml-2.0/saml2_attribute_statement.h>
#include <lasso/xml/saml-2.0/saml2_attribute_value.h>
#include <lasso/xml/saml-2.0/saml2_audience_restriction.h>
#include <lasso/xml/saml-2.0/saml2_conditions.h>
#include <lasso/xml/saml-2.0/saml2_name_id.h>
#include <lasso/xml/saml-2.0/saml2_subject.h>
#include <lasso/xml/saml-2.0/saml2_subject_confirmation.h>
#include <lasso/xml/saml-2.0/saml2_subject_confirmation_data.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#define BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"

struct SamlSp {
    LassoServer *server;
    char *entity_id;
    char *acs_url;
    char *idp;
    long skew;
};

static void lasso_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer ud)
{
    (void)domain;
    (void)ud;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        log_warn("saml: %s", message);
    else
        log_debug("saml: %s", message);
}

void saml_global_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    g_log_set_handler("Lasso", (GLogLevelFlags)(G_LOG_LEVEL_MASK | G_LOG_FLAG_RECURSION), lasso_log,
                      NULL);
    if (lasso_init() != 0)
        log_error("saml: Lasso could not start (xmlsec); SAML sign-in will fail");
}

char *saml_metadata_xml(const char *entity_id, const char *acs_url)
{
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" "
                    "entityID=\"");
    strbuf_puts_markup(&b, entity_id);
    strbuf_puts(&b, "\">\n  <md:SPSSODescriptor AuthnRequestsSigned=\"false\" "
                    "WantAssertionsSigned=\"true\" protocolSupportEnumeration=\""
                    "urn:oasis:names:tc:SAML:2.0:protocol\">\n"
                    "    <md:NameIDFormat>" LASSO_SAML2_NAME_IDENTIFIER_FORMAT_EMAIL
                    "</md:NameIDFormat>\n"
                    "    <md:NameIDFormat>" LASSO_SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
                    "</md:NameIDFormat>\n"
                    "    <md:AssertionConsumerService Binding=\""
                    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"");
    strbuf_puts_markup(&b, acs_url);
    strbuf_puts(&b, "\" index=\"0\" isDefault=\"true\"/>\n  </md:SPSSODescriptor>\n"
                    "</md:EntityDescriptor>\n");
    return strbuf_detach(&b);
}

SamlSp *saml_sp_new(const SamlSpConfig *c, char *err, size_t errlen)
{
    saml_global_init();
    char *own = saml_metadata_xml(c->entity_id, c->acs_url);
    LassoServer *server = lasso_server_new_from_buffers(own, NULL, NULL, NULL);
    free(own);
    if (!server) {
        snprintf(err, errlen, "Lasso refused the SP metadata built from PGFLEET_PUBLIC_URL");
        return NULL;
    }
    lasso_error_t rc = lasso_server_add_provider_from_buffer(server, LASSO_PROVIDER_ROLE_IDP,
                                                             c->idp_metadata, NULL, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "the IdP metadata cannot be used: %s", lasso_strerror(rc));
        lasso_server_destroy(server);
        return NULL;
    }
    GList *idps = server->providers ? g_hash_table_get_keys(server->providers) : NULL;
    if (!idps || g_list_length(idps) != 1) {
        snprintf(err, errlen, "the IdP metadata must describe exactly one identity provider");
        g_list_free(idps);
        lasso_server_destroy(server);
        return NULL;
    }
    SamlSp *sp = xcalloc(1, sizeof *sp);
    sp->server = server;
    sp->entity_id = xstrdup(c->entity_id);
    sp->acs_url = xstrdup(c->acs_url);
    sp->idp = xstrdup((const char *)idps->data);
    sp->skew = c->clock_skew_seconds;
    g_list_free(idps);
    return sp;
}

void saml_sp_free(SamlSp *sp)
{
    if (!sp)
        return;
    lasso_server_destroy(sp->server);
    free(sp->entity_id);
    free(sp->acs_url);
    free(sp->idp);
    free(sp);
}

const char *saml_sp_idp_entity_id(const SamlSp *sp)
{
    return sp->idp;
}

bool saml_sp_login_url(SamlSp *sp, const char *relay_state, char **url, char **request_id,
                       char *err, size_t errlen)
{
    LassoLogin *login = lasso_login_new(sp->server);
    LassoProfile *profile = LASSO_PROFILE(login);
    bool ok = false;
    /* unsigned requests: set before the request is made, which is when Lasso decides */
    lasso_profile_set_signature_hint(profile, LASSO_PROFILE_SIGNATURE_HINT_FORBID);
    lasso_error_t rc = lasso_login_init_authn_request(login, sp->idp, LASSO_HTTP_METHOD_REDIRECT);
    if (rc == 0) {
        LassoSamlp2AuthnRequest *req = LASSO_SAMLP2_AUTHN_REQUEST(profile->request);
        LassoSamlp2NameIDPolicy *policy = req->NameIDPolicy;
        if (policy) {
            g_free(policy->Format);
            policy->Format = g_strdup(LASSO_SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED);
            policy->AllowCreate = TRUE;
        }
        g_free(req->AssertionConsumerServiceURL);
        req->AssertionConsumerServiceURL = g_strdup(sp->acs_url);
        g_free(req->ProtocolBinding);
        req->ProtocolBinding = g_strdup(LASSO_SAML2_METADATA_BINDING_POST);
        g_free(profile->msg_relayState);
        profile->msg_relayState = g_strdup(relay_state);
        rc = lasso_login_build_authn_request_msg(login);
    }
    if (rc == 0 && profile->msg_url) {
        *url = xstrdup(profile->msg_url);
        *request_id = xstrdup(LASSO_SAMLP2_REQUEST_ABSTRACT(profile->request)->ID);
        ok = true;
    } else {
        snprintf(err, errlen, "could not build the AuthnRequest: %s", lasso_strerror(rc));
    }
    lasso_login_destroy(login);
    return ok;
}

/* ---- reading a Response ---- */

double saml_parse_time(const char *text)
{
    if (!text)
        return -1;
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    double frac = 0;
    if (*rest == '.') {
        char *end;
        frac = strtod(rest, &end);
        rest = end;
    }
    if (strcmp(rest, "Z") != 0)
        return -1;
    return (double)timegm(&tm) + frac;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* a NotBefore / NotOnOrAfter pair holds now, within the skew; false with why in err */
static bool in_time(const SamlSp *sp, const char *not_before, const char *not_after,
                    const char *what, char *err, size_t errlen)
{
    double now = now_s();
    if (not_before) {
        double t = saml_parse_time(not_before);
        if (t < 0 || t - (double)sp->skew > now) {
            snprintf(err, errlen, "the assertion is not valid yet (%s NotBefore %.40s)", what,
                     not_before);
            return false;
        }
    }
    if (not_after) {
        double t = saml_parse_time(not_after);
        if (t < 0 || now >= t + (double)sp->skew) {
            snprintf(err, errlen, "the assertion has expired (%s NotOnOrAfter %.40s)", what,
                     not_after);
            return false;
        }
    }
    return true;
}

static bool check_conditions(const SamlSp *sp, const LassoSaml2Assertion *a, char *err,
                             size_t errlen)
{
    LassoSaml2Conditions *c = a->Conditions;
    if (!c || !LASSO_IS_SAML2_CONDITIONS(c)) {
        snprintf(err, errlen, "the assertion has no Conditions (no audience)");
        return false;
    }
    if (c->Condition) {
        snprintf(err, errlen, "the assertion has a condition pgfleet does not understand");
        return false;
    }
    if (!in_time(sp, c->NotBefore, c->NotOnOrAfter, "Conditions", err, errlen))
        return false;
    bool ours = false;
    int restrictions = 0;
    for (GList *i = c->AudienceRestriction; i; i = i->next) {
        LassoSaml2AudienceRestriction *ar = i->data;
        if (!LASSO_IS_SAML2_AUDIENCE_RESTRICTION(ar))
            continue;
        restrictions++;
        if (ar->Audience && !strcmp(ar->Audience, sp->entity_id))
            ours = true;
    }
    if (!restrictions || !ours) {
        snprintf(err, errlen, "the assertion is meant for another audience, not %.200s",
                 sp->entity_id);
        return false;
    }
    return true;
}

static bool check_subject(const SamlSp *sp, const LassoSaml2Assertion *a, char *err, size_t errlen)
{
    LassoSaml2Subject *s = a->Subject;
    LassoSaml2SubjectConfirmation *sc = s ? s->SubjectConfirmation : NULL;
    if (!sc || !LASSO_IS_SAML2_SUBJECT_CONFIRMATION(sc) || !sc->Method ||
        strcmp(sc->Method, BEARER)) {
        snprintf(err, errlen, "the assertion has no bearer SubjectConfirmation");
        return false;
    }
    LassoSaml2SubjectConfirmationData *d = sc->SubjectConfirmationData;
    if (!d || !LASSO_IS_SAML2_SUBJECT_CONFIRMATION_DATA(d) || !d->NotOnOrAfter) {
        snprintf(err, errlen, "the assertion's SubjectConfirmationData has no NotOnOrAfter");
        return false;
    }
    if (!d->Recipient || strcmp(d->Recipient, sp->acs_url)) {
        snprintf(err, errlen, "the assertion is for another recipient (%.200s), not %.200s",
                 d->Recipient ? d->Recipient : "none", sp->acs_url);
        return false;
    }
    return in_time(sp, d->NotBefore, d->NotOnOrAfter, "SubjectConfirmationData", err, errlen);
}

static void read_attributes(const LassoSaml2Assertion *a, json_t *out)
{
    for (GList *st = a->AttributeStatement; st; st = st->next) {
        LassoSaml2AttributeStatement *stmt = st->data;
        if (!LASSO_IS_SAML2_ATTRIBUTE_STATEMENT(stmt))
            continue;
        for (GList *at = stmt->Attribute; at; at = at->next) {
            LassoSaml2Attribute *attr = at->data;
            if (!LASSO_IS_SAML2_ATTRIBUTE(attr) || !attr->Name)
                continue;
            json_t *values = json_object_get(out, attr->Name);
            if (!values) {
                values = json_array();
                json_object_set_new(out, attr->Name, values);
            }
            for (GList *v = attr->AttributeValue; v; v = v->next) {
                LassoSaml2AttributeValue *val = v->data;
                if (!LASSO_IS_SAML2_ATTRIBUTE_VALUE(val))
                    continue;
                for (GList *x = val->any; x; x = x->next)
                    if (LASSO_IS_MISC_TEXT_NODE(x->data) &&
                        LASSO_MISC_TEXT_NODE(x->data)->content && json_array_size(values) < 1000)
                        json_array_append_new(values,
                                              json_string(LASSO_MISC_TEXT_NODE(x->data)->content));
            }
        }
    }
}

static bool check_response(const SamlSp *sp, LassoLogin *login, char *err, size_t errlen)
{
    LassoProfile *profile = LASSO_PROFILE(login);
    LassoSamlp2Response *resp = LASSO_SAMLP2_RESPONSE(profile->response);
    LassoSamlp2StatusResponse *sr = LASSO_SAMLP2_STATUS_RESPONSE(profile->response);
    if (sr->Destination && strcmp(sr->Destination, sp->acs_url)) {
        snprintf(err, errlen, "the response is addressed to %.200s, not %.200s", sr->Destination,
                 sp->acs_url);
        return false;
    }
    if (g_list_length(resp->Assertion) != 1 || !LASSO_IS_SAML2_ASSERTION(resp->Assertion->data)) {
        snprintf(err, errlen, "the response must hold exactly one assertion (it has %u)",
                 g_list_length(resp->Assertion));
        return false;
    }
    if (!profile->nameIdentifier || !LASSO_IS_SAML2_NAME_ID(profile->nameIdentifier) ||
        !LASSO_SAML2_NAME_ID(profile->nameIdentifier)->content) {
        snprintf(err, errlen, "the assertion names no subject");
        return false;
    }
    LassoSaml2Assertion *a = resp->Assertion->data;
    if (!a->ID) {
        snprintf(err, errlen, "the assertion has no ID");
        return false;
    }
    return check_conditions(sp, a, err, errlen) && check_subject(sp, a, err, errlen);
}

static const char *lasso_reason(lasso_error_t rc)
{
    switch (rc) {
    case LASSO_DS_ERROR_SIGNATURE_NOT_FOUND:
    case LASSO_PROFILE_ERROR_CANNOT_VERIFY_SIGNATURE:
    case LASSO_DS_ERROR_INVALID_SIGNATURE:
    case LASSO_DS_ERROR_SIGNATURE_VERIFICATION_FAILED:
    case LASSO_DS_ERROR_INVALID_SIGALG:
    case LASSO_DS_ERROR_DIGEST_COMPUTE_FAILED:
    case LASSO_DS_ERROR_TOO_MUCH_REFERENCES:
    case LASSO_DS_ERROR_INVALID_REFERENCE_FOR_SAML:
        return "the response is not signed by the identity provider's key";
    case LASSO_LOGIN_ERROR_REQUEST_DENIED:
    case LASSO_LOGIN_ERROR_STATUS_NOT_SUCCESS:
        return "the identity provider refused the sign-in";
    case LASSO_SERVER_ERROR_PROVIDER_NOT_FOUND:
    case LASSO_PROFILE_ERROR_MISSING_ISSUER:
        return "the response comes from an identity provider pgfleet does not know";
    case LASSO_PROFILE_ERROR_MISSING_ASSERTION:
        return "the response holds no assertion";
    default:
        return NULL;
    }
}

bool saml_sp_read_response(SamlSp *sp, const char *saml_response, SamlAssertion *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    LassoLogin *login = lasso_login_new(sp->server);
    LassoProfile *profile = LASSO_PROFILE(login);
    /* the Response or its assertion must carry a valid signature: MAYBE verifies the
     * Response's, and an assertion's whenever the Response's is missing or wrong */
    lasso_profile_set_signature_verify_hint(profile, LASSO_PROFILE_SIGNATURE_VERIFY_HINT_MAYBE);
    lasso_error_t rc =
        lasso_login_process_authn_response_msg(login, (gchar *)(uintptr_t)saml_response);
    bool ok = false;
    if (rc != 0) {
        const char *why = lasso_reason(rc);
        if (why)
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "the response cannot be read: %s", lasso_strerror(rc));
    } else if (!profile->remote_providerID || strcmp(profile->remote_providerID, sp->idp)) {
        snprintf(err, errlen, "the response comes from an identity provider pgfleet does not know");
    } else if (check_response(sp, login, err, errlen)) {
        LassoSaml2Assertion *a = LASSO_SAMLP2_RESPONSE(profile->response)->Assertion->data;
        LassoSaml2SubjectConfirmationData *d =
            a->Subject->SubjectConfirmation->SubjectConfirmationData;
        const char *irt = d->InResponseTo;
        const char *rirt = LASSO_SAMLP2_STATUS_RESPONSE(profile->response)->InResponseTo;
        if (irt && rirt && strcmp(irt, rirt)) {
            snprintf(err, errlen, "the response and its assertion answer different requests");
            lasso_login_destroy(login);
            return false;
        }
        irt = irt ? irt : rirt;
        out->issuer = xstrdup(profile->remote_providerID);
        out->name_id = xstrdup(LASSO_SAML2_NAME_ID(profile->nameIdentifier)->content);
        out->assertion_id = xstrdup(a->ID);
        out->in_response_to = irt ? xstrdup(irt) : NULL;
        double until = saml_parse_time(d->NotOnOrAfter);
        double cond = a->Conditions ? saml_parse_time(a->Conditions->NotOnOrAfter) : -1;
        out->not_on_or_after = fmax(until, cond) + (double)sp->skew;
        out->attributes = json_object();
        read_attributes(a, out->attributes);
        ok = true;
    }
    lasso_login_destroy(login);
    return ok;
}

void saml_assertion_free(SamlAssertion *a)
{
    free(a->issuer);
    free(a->name_id);
    free(a->assertion_id);
    free(a->in_response_to);
    json_decref(a->attributes);
    memset(a, 0, sizeof *a);
}
