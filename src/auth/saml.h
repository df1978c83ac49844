/*
 * saml: a SAML 2.0 service provider, through Lasso (the library mod_auth_mellon
 * is built on). This is the only module that knows Lasso.
 *
 * pgfleet asks for logins with unsigned AuthnRequests over HTTP-Redirect and
 * takes Responses over HTTP-POST at its ACS, SP-initiated or not (the AWS access
 * portal's tile posts unsolicited ones). A Response is accepted only when:
 *   - Lasso verified an XML signature by the IdP's key from its metadata over the
 *     Response or over the assertion (Lasso checks the signed node is the one it
 *     reads: a second, unsigned assertion wrapped beside a signed one is not);
 *   - it holds exactly one assertion, status Success, a Destination (when given)
 *     and a bearer SubjectConfirmation Recipient equal to the ACS URL;
 *   - the assertion's AudienceRestriction names this SP, and NotBefore /
 *     NotOnOrAfter (conditions and subject confirmation) hold within the skew.
 * What the caller must still check: InResponseTo against the requests it sent,
 * and the assertion id against the ones already used (saml_assertion has both).
 */
#ifndef PGFLEET_SAML_H
#define PGFLEET_SAML_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct SamlSp SamlSp;

typedef struct SamlSpConfig {
    const char *entity_id;    /* this SP */
    const char *acs_url;      /* where the IdP posts its Response */
    const char *idp_metadata; /* the IdP's metadata document (XML) */
    long clock_skew_seconds;
} SamlSpConfig;

/* once per process, before the first SamlSp */
void saml_global_init(void);

/* NULL with err filled when the IdP metadata cannot be used */
SamlSp *saml_sp_new(const SamlSpConfig *c, char *err, size_t errlen);
void saml_sp_free(SamlSp *sp);
/* the IdP's entity id */
const char *saml_sp_idp_entity_id(const SamlSp *sp);

/* this SP's metadata (new string): entity id, ACS, NameID formats */
char *saml_metadata_xml(const char *entity_id, const char *acs_url);

/*
 * An AuthnRequest to the IdP over HTTP-Redirect: the URL to send the browser
 * to (with relay_state) and the request's ID (new strings).
 */
bool saml_sp_login_url(SamlSp *sp, const char *relay_state, char **url, char **request_id,
                       char *err, size_t errlen);

typedef struct SamlAssertion {
    char *issuer;
    char *name_id;
    char *assertion_id;
    char *in_response_to;   /* NULL: unsolicited (IdP-initiated) */
    double not_on_or_after; /* unix s: until when the assertion could be replayed */
    json_t *attributes;     /* {"Name": ["value", ...]} */
} SamlAssertion;

/*
 * Verifies and reads the base64 SAMLResponse of a POST. false with a sentence
 * for the user in err (and nothing in out) when it is refused.
 */
bool saml_sp_read_response(SamlSp *sp, const char *saml_response, SamlAssertion *out, char *err,
                           size_t errlen);
void saml_assertion_free(SamlAssertion *a);

/* "2026-12-01T09:00:00Z", fraction allowed: unix seconds, or -1 */
double saml_parse_time(const char *text);

#endif
