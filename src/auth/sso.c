#include "auth/sso.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/oidc.h"
#include "auth/saml.h"
#include "auth/userdoc.h"
#include "common/jsonutil.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/urlenc.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"
#include "httpc/httpc.h"

#define METADATA_REFRESH_MS (3600 * 1000ull)
#define METADATA_MAX        (1024 * 1024)
#define GROUP_NAME_TTL_MS   (10 * 60 * 1000ull)
#define GROUPS_MAX          200
#define SAML_SKEW_SECONDS   60

typedef struct RoleRule {
    char *group;
    Role role;
} RoleRule;

struct Sso {
    uv_loop_t *loop;
    const Config *cfg;
    Store *store;
    AwsClient *aws;
    Audit *audit;
    SsoStartFn start;
    void *starter;
    char *public_url;
    RoleRule *rules;
    size_t nrules;
    /* SAML */
    char *metadata_source; /* a file or a URL */
    char *entity_id, *acs_url;
    SamlSp *sp;
    char saml_error[400]; /* why sp is NULL */
    uv_timer_t refresh;
    bool refresh_open;
    /* OIDC */
    Oidc *oidc;
    char *oidc_redirect;
    json_t *group_names; /* identity store: group id -> {"name", "at"} */
    int refs;
    bool closing;
};

/* ---- settings ---- */

const char *sso_safe_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) > 1024)
        return "/";
    for (const unsigned char *p = (const unsigned char *)next; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return "/";
    return next;
}

/* "group=role,group=role" */
static bool parse_role_map(Sso *s, const char *text, char *err, size_t errlen)
{
    char *copy = xstrdup(text ? text : "");
    bool ok = true;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && ok; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *eq = strrchr(item, '=');
        if (!*item)
            continue;
        Role role;
        char *name = eq ? eq + 1 : NULL;
        while (name && *name == ' ')
            name++;
        size_t n = name ? strlen(name) : 0;
        while (n && name[n - 1] == ' ')
            name[--n] = '\0';
        if (!eq || eq == item || !name || !role_parse(name, &role)) {
            snprintf(err, errlen,
                     "PGFLEET_SSO_ROLE_MAP: '%.100s' is not group=viewer|operator|admin", item);
            ok = false;
            break;
        }
        *eq = '\0';
        size_t g = strlen(item);
        while (g && item[g - 1] == ' ')
            item[--g] = '\0';
        s->rules = xrealloc(s->rules, (s->nrules + 1) * sizeof *s->rules);
        s->rules[s->nrules++] = (RoleRule){.group = xstrdup(item), .role = role};
    }
    free(copy);
    return ok;
}

static Role role_of(const Sso *s, const char *group)
{
    Role best = ROLE_NONE;
    for (size_t i = 0; group && i < s->nrules; i++)
        if (!strcmp(s->rules[i].group, group) && s->rules[i].role > best)
            best = s->rules[i].role;
    return best;
}

/* ---- SAML metadata: a file or a URL, read at start and every hour ---- */

static void adopt_metadata(Sso *s, const char *xml, size_t len)
{
    char err[300];
    char *copy = xstrndup(xml, len);
    SamlSpConfig c = {.entity_id = s->entity_id,
                      .acs_url = s->acs_url,
                      .idp_metadata = copy,
                      .clock_skew_seconds = SAML_SKEW_SECONDS};
    SamlSp *sp = saml_sp_new(&c, err, sizeof err);
    free(copy);
    if (!sp) {
        snprintf(s->saml_error, sizeof s->saml_error, "%s: %s", s->metadata_source, err);
        log_error("saml: %s%s", s->saml_error, s->sp ? " (the last good metadata stays)" : "");
        return;
    }
    if (!s->sp)
        log_info("saml: identity provider %s (metadata from %s)", saml_sp_idp_entity_id(sp),
                 s->metadata_source);
    saml_sp_free(s->sp);
    s->sp = sp;
    s->saml_error[0] = '\0';
}

static void read_metadata_file(Sso *s)
{
    int fd = open(s->metadata_source, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > METADATA_MAX) {
        snprintf(s->saml_error, sizeof s->saml_error, "%s: %s", s->metadata_source,
                 fd < 0 ? strerror(errno) : "not a regular file of at most 1 MiB");
        log_error("saml: %s", s->saml_error);
        if (fd >= 0)
            close(fd);
        return;
    }
    char *buf = xmalloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    if (n >= 0)
        adopt_metadata(s, buf, (size_t)n);
    free(buf);
}

static void unref(void *owner);

static void metadata_fetched(void *ud, const HttpcResponse *r)
{
    Sso *s = ud;
    if (!s->closing) {
        if (r->curl_code || r->status != 200) {
            snprintf(s->saml_error, sizeof s->saml_error, "%s: %s", s->metadata_source,
                     r->curl_code ? r->error : "the server did not answer 200");
            log_error("saml: %s", s->saml_error);
        } else {
            adopt_metadata(s, r->body, r->body_len);
        }
    }
    unref(s);
}

static bool is_url(const char *source)
{
    return !strncasecmp(source, "https://", 8) || !strncasecmp(source, "http://", 7);
}

static void load_metadata(Sso *s)
{
    if (!is_url(s->metadata_source)) {
        read_metadata_file(s);
        return;
    }
    s->refs++;
    const char *headers[] = {"Accept: application/samlmetadata+xml, application/xml", NULL};
    HttpcRequest req = {.method = "GET", .url = s->metadata_source, .headers = headers};
    if (!httpc_send(aws_client_http(s->aws), &req, metadata_fetched, s))
        unref(s);
}

static void refresh_tick(uv_timer_t *t)
{
    load_metadata(t->data);
}

/* http: only to this machine (a local IdP in tests and make run) */
static bool source_allowed(const char *src)
{
    if (!is_url(src) || !strncasecmp(src, "https://", 8))
        return true;
    static const char *const local[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        size_t n = strlen(local[i]);
        if (!strncasecmp(src, local[i], n) && (src[n] == ':' || src[n] == '/'))
            return true;
    }
    return false;
}

static bool start_saml(Sso *s, char *err, size_t errlen)
{
    const char *src = config_get(s->cfg, CFG_SAML_IDP_METADATA);
    if (!source_allowed(src)) {
        snprintf(err, errlen,
                 "PGFLEET_SAML_IDP_METADATA: fetch metadata over https:// (http is "
                 "for an IdP on this machine only)");
        return false;
    }
    s->metadata_source = xstrdup(src);
    s->entity_id = xasprintf("%s/auth/saml/metadata", s->public_url);
    s->acs_url = xasprintf("%s/auth/saml/acs", s->public_url);
    snprintf(s->saml_error, sizeof s->saml_error, "the IdP metadata is being read");
    uv_timer_init(s->loop, &s->refresh);
    s->refresh.data = s;
    s->refresh_open = true;
    uv_timer_start(&s->refresh, refresh_tick, 0, METADATA_REFRESH_MS);
    return true;
}

static void start_oidc(Sso *s)
{
    s->oidc_redirect = xasprintf("%s/auth/oidc/callback", s->public_url);
    OidcConfig c = {.issuer = config_get(s->cfg, CFG_OIDC_ISSUER),
                    .client_id = config_get(s->cfg, CFG_OIDC_CLIENT_ID),
                    .client_secret = config_get(s->cfg, CFG_OIDC_CLIENT_SECRET),
                    .redirect_uri = s->oidc_redirect,
                    .scopes = config_get(s->cfg, CFG_OIDC_SCOPES),
                    .algs = config_get(s->cfg, CFG_OIDC_ALGS)};
    s->oidc = oidc_new(s->loop, aws_client_http(s->aws), &c);
}

Sso *sso_new(const SsoDeps *d, char *err, size_t errlen)
{
    const Config *cfg = d->cfg;
    bool saml = config_get(cfg, CFG_SAML_IDP_METADATA) != NULL;
    bool oidc = config_get(cfg, CFG_OIDC_ISSUER) != NULL;
    Sso *s = xcalloc(1, sizeof *s);
    s->loop = d->loop;
    s->cfg = cfg;
    s->store = d->store;
    s->aws = d->aws;
    s->audit = d->audit;
    s->start = d->start;
    s->starter = d->starter;
    s->refs = 1;
    s->group_names = json_object();
    const char *pub = config_get(cfg, CFG_PUBLIC_URL);
    bool ok = true;
    if ((saml || oidc) && !pub) {
        snprintf(err, errlen,
                 "single sign-on needs PGFLEET_PUBLIC_URL (the address people reach "
                 "pgfleet at: the identity provider sends them back there)");
        ok = false;
    } else if (oidc && !config_get(cfg, CFG_OIDC_CLIENT_ID)) {
        snprintf(err, errlen, "PGFLEET_OIDC_ISSUER is set: PGFLEET_OIDC_CLIENT_ID is needed too");
        ok = false;
    } else if ((saml || oidc) && !config_get(cfg, CFG_SSO_ROLE_MAP)) {
        snprintf(err, errlen,
                 "single sign-on needs PGFLEET_SSO_ROLE_MAP (which groups get which "
                 "role, e.g. pgfleet-admins=admin,pgfleet-ops=operator)");
        ok = false;
    }
    if (ok && (saml || oidc)) {
        s->public_url = xstrdup(pub);
        size_t n = strlen(s->public_url);
        while (n && s->public_url[n - 1] == '/')
            s->public_url[--n] = '\0';
        ok = parse_role_map(s, config_get(cfg, CFG_SSO_ROLE_MAP), err, errlen);
    }
    if (ok && saml)
        ok = start_saml(s, err, errlen);
    if (ok && oidc)
        start_oidc(s);
    if (!ok) {
        sso_free(s);
        return NULL;
    }
    return s;
}

static void unref(void *owner)
{
    Sso *s = owner;
    if (--s->refs > 0)
        return;
    for (size_t i = 0; i < s->nrules; i++)
        free(s->rules[i].group);
    free(s->rules);
    saml_sp_free(s->sp);
    oidc_free(s->oidc);
    json_decref(s->group_names);
    free(s->public_url);
    free(s->metadata_source);
    free(s->entity_id);
    free(s->acs_url);
    free(s->oidc_redirect);
    free(s);
}

void sso_free(Sso *s)
{
    if (!s)
        return;
    s->closing = true;
    if (s->refresh_open) {
        s->refresh_open = false;
        s->refs++;
        uvtimer_close(&s->refresh, unref);
    }
    unref(s);
}

bool sso_configured(const Sso *s)
{
    return s && (s->metadata_source || s->oidc);
}

void sso_methods(const Sso *s, json_t *methods)
{
    if (!s)
        return;
    if (s->metadata_source)
        json_array_append_new(methods, json_pack("{s:s, s:s, s:s}", "id", "saml", "label",
                                                 config_get(s->cfg, CFG_SAML_LABEL), "url",
                                                 "/auth/saml/login"));
    if (s->oidc) {
        json_t *m = json_pack("{s:s, s:s, s:s}", "id", "oidc", "label",
                              config_get(s->cfg, CFG_OIDC_LABEL), "url", "/auth/oidc/login");
        char *out = sso_provider_logout_url(s, "oidc");
        if (out)
            json_object_set_new(m, "logout_url", json_string(out));
        free(out);
        json_array_append_new(methods, m);
    }
}

char *sso_saml_metadata(const Sso *s)
{
    return s && s->entity_id ? saml_metadata_xml(s->entity_id, s->acs_url) : NULL;
}

char *sso_provider_logout_url(const Sso *s, const char *method)
{
    if (!s || !s->oidc || !method || strcmp(method, "oidc"))
        return NULL;
    const char *end = oidc_end_session_endpoint(s->oidc);
    if (!end)
        return NULL;
    StrBuf b = STRBUF_INIT;
    strbuf_puts(&b, end);
    strbuf_puts(&b, strchr(end, '?') ? "&" : "?");
    char *back = xasprintf("%s/login", s->public_url);
    urlenc_param(&b, "client_id", config_get(s->cfg, CFG_OIDC_CLIENT_ID));
    urlenc_param(&b, "post_logout_redirect_uri", back);
    free(back);
    return strbuf_detach(&b);
}

/* ---- one sign-in in flight ---- */

typedef enum Kind { KIND_SAML, KIND_OIDC } Kind;

typedef struct Flow {
    Sso *s;
    Kind kind;
    SsoCb cb;
    void *ud;
    char *next;
    char *address, *request_id, *old_token;
    char *state;             /* OIDC: the state that came back */
    char *user;              /* who, once known */
    json_t *groups;          /* the user's groups, as the provider named them */
    json_t *pending;         /* the stored state */
    SamlAssertion assertion; /* SAML */
    char *code;              /* OIDC */
    size_t resolving;        /* group names asked from the identity store */
} Flow;

static const char *kind_name(Kind k)
{
    return k == KIND_SAML ? "saml" : "oidc";
}

static Flow *flow_new(Sso *s, Kind kind, SsoCb cb, void *ud, const SsoBrowser *b)
{
    Flow *f = xcalloc(1, sizeof *f);
    f->s = s;
    s->refs++;
    f->kind = kind;
    f->cb = cb;
    f->ud = ud;
    if (b) {
        f->address = xstrdup(b->address ? b->address : "");
        f->request_id = xstrdup(b->request_id ? b->request_id : "");
        f->old_token = b->session_token ? xstrdup(b->session_token) : NULL;
    }
    return f;
}

static void flow_free(Flow *f)
{
    Sso *s = f->s;
    free(f->next);
    free(f->address);
    free(f->request_id);
    xfree_secret(f->old_token);
    xfree_secret(f->state);
    xfree_secret(f->code);
    free(f->user);
    json_decref(f->groups);
    json_decref(f->pending);
    saml_assertion_free(&f->assertion);
    free(f);
    unref(s);
}

static void audit(Flow *f, const char *action, const char *result, unsigned status, Role role,
                  json_t *detail)
{
    AuditEntry e = {.user = f->user ? f->user : "",
                    .method = kind_name(f->kind),
                    .role = role_name(role),
                    .address = f->address,
                    .action = action,
                    .result = result,
                    .status = status,
                    .request_id = f->request_id,
                    .detail = detail};
    audit_record(f->s->audit, &e);
}

/* refuses the sign-in with a page; audited (an attack looks like this too) */
static void refuse(Flow *f, unsigned status, const char *message, const char *hint)
{
    const char *title = status == 403 ? "Signed in, but no access" : "Sign-in failed";
    audit(f, "login_failed", status == 403 ? "denied" : "failed", status, ROLE_NONE,
          json_pack("{s:s}", "reason", message));
    log_event(LOG_WARN, f->request_id,
              json_pack("{s:s, s:s, s:s}", "method", kind_name(f->kind), "user",
                        f->user ? f->user : "", "address", f->address ? f->address : ""),
              "%s sign-in refused: %s", kind_name(f->kind), message);
    SsoOutcome o = {.status = status,
                    .title = title,
                    .message = message,
                    .hint = hint,
                    .state_cookie = f->kind == KIND_OIDC ? "" : NULL};
    f->cb(f->ud, &o);
    flow_free(f);
}

static void store_failed(Flow *f)
{
    refuse(f, 503, "the state store (Redis) is not available",
           "try again in a moment; pgfleet reconnects by itself");
}

/* ---- states in Redis ---- */

static char *state_key(const Sso *s, const char *state)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)state, strlen(state));
    char hex[2 * sizeof h + 1], k[100];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(k, sizeof k, "sso:state:%s", hex);
    return store_key(s->store, k);
}

static void random_token(char out[44])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, 44, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void put_state(Sso *s, const char *state, json_t *value, StoreJsonCb cb, void *ud)
{
    char *key = state_key(s, state);
    char *text = json_dumps(value, JSON_COMPACT);
    char px[24];
    snprintf(px, sizeof px, "%d", SSO_STATE_TTL_MS);
    const char *argv[] = {"SET", key, text, "PX", px};
    store_call(s->store, cb, ud, 5, argv);
    xfree_secret(text);
    free(key);
}

/* the state, used up: GETDEL, so a second use finds nothing */
static void take_state(Sso *s, const char *state, StoreJsonCb cb, void *ud)
{
    char *key = state_key(s, state);
    const char *argv[] = {"GETDEL", key};
    store_call(s->store, cb, ud, 2, argv);
    free(key);
}

static json_t *parse_state(const json_t *reply, Kind kind)
{
    const char *text = json_string_value(reply);
    char err[80];
    json_t *st = text ? jsonutil_parse(text, strlen(text), err, sizeof err) : NULL;
    const char *k = jsonutil_str(st, "kind");
    if (!k || strcmp(k, kind_name(kind))) {
        json_decref(st);
        return NULL;
    }
    return st;
}

/* ---- the role, then the session ---- */

static void started(void *ud, PgfError err, const char *token, const Principal *p)
{
    Flow *f = ud;
    if (err != PGF_OK || !token) {
        store_failed(f);
        return;
    }
    time_t now = time(NULL);
    SsoOutcome o = {.status = 303,
                    .location = sso_safe_next(f->next),
                    .session_token = token,
                    .session_max_age = p->expires_at - (double)now,
                    .state_cookie = f->kind == KIND_OIDC ? "" : NULL};
    f->cb(f->ud, &o);
    flow_free(f);
}

static void decide(Flow *f)
{
    Sso *s = f->s;
    Role role = ROLE_NONE;
    size_t i;
    const json_t *g;
    json_array_foreach(f->groups, i, g)
    {
        const char *id = json_string_value(g);
        Role r = role_of(s, id);
        const char *name = jsonutil_str(json_object_get(s->group_names, id ? id : ""), "name");
        Role by_name = role_of(s, name);
        if (r > role)
            role = r;
        if (by_name > role)
            role = by_name;
    }
    if (role == ROLE_NONE) {
        char msg[700];
        char *list = json_dumps(f->groups, JSON_COMPACT);
        snprintf(msg, sizeof msg,
                 "the identity provider signed in %.128s, but none of their groups %.400s is "
                 "given a role in pgfleet",
                 f->user, list ? list : "[]");
        free(list);
        refuse(f, 403, msg,
               "an admin adds one of these groups to PGFLEET_SSO_ROLE_MAP (group=role), or "
               "adds you to a group that is there");
        return;
    }
    s->start(s->starter, f->user, role, kind_name(f->kind), f->address, f->request_id, f->old_token,
             started, f);
}

/* ---- group names from the identity store (IAM Identity Center sends ids) ---- */

typedef struct Lookup {
    Flow *f;
    char *id;
} Lookup;

static void group_described(void *ud, const AwsResult *r)
{
    Lookup *l = ud;
    Flow *f = l->f;
    char err[80];
    json_t *doc = r->ok ? jsonutil_parse(r->body, r->body_len, err, sizeof err) : NULL;
    const char *name = jsonutil_str(doc, "DisplayName");
    if (name)
        json_object_set_new(
            f->s->group_names, l->id,
            json_pack("{s:s, s:I}", "name", name, "at", (json_int_t)uv_now(f->s->loop)));
    else
        log_warn("sso: group %s not described by the identity store: %s", l->id,
                 r->ok        ? "no DisplayName"
                 : r->message ? r->message
                              : "error");
    json_decref(doc);
    free(l->id);
    free(l);
    if (--f->resolving == 0)
        decide(f);
}

static void resolve_groups(Flow *f)
{
    Sso *s = f->s;
    const char *store_id = config_get(s->cfg, CFG_SSO_IDENTITY_STORE_ID);
    size_t i;
    const json_t *g;
    f->resolving = 1; /* held until every lookup is out */
    json_array_foreach(f->groups, i, g)
    {
        const char *id = json_string_value(g);
        const json_t *known = json_object_get(s->group_names, id);
        if (!store_id || !id || role_of(s, id) != ROLE_NONE ||
            (known && uv_now(s->loop) - (uint64_t)json_integer_value(json_object_get(known, "at")) <
                          GROUP_NAME_TTL_MS))
            continue;
        Lookup *l = xcalloc(1, sizeof *l);
        l->f = f;
        l->id = xstrdup(id);
        f->resolving++;
        json_t *body = json_pack("{s:s, s:s}", "IdentityStoreId", store_id, "GroupId", id);
        char *text = json_dumps(body, JSON_COMPACT);
        aws_call(s->aws, &aws_identitystore, "DescribeGroup", text, group_described, l);
        free(text);
        json_decref(body);
    }
    if (--f->resolving == 0)
        decide(f);
}

/* groups from a claim or attribute: strings only, at most GROUPS_MAX */
static json_t *groups_of(const json_t *v)
{
    json_t *out = json_array();
    if (json_is_string(v))
        json_array_append(out, jsonutil_unconst(v));
    size_t i;
    const json_t *g;
    json_array_foreach(v, i, g)
    {
        if (json_is_string(g) && json_string_length(g) <= 256 && json_array_size(out) < GROUPS_MAX)
            json_array_append(out, jsonutil_unconst(g));
    }
    return out;
}

/* the user is known (and trusted): check the name, then the groups */
static void identified(Flow *f, const char *user, const json_t *groups)
{
    free(f->user);
    f->user = xstrdup(user ? user : "");
    f->groups = groups_of(groups);
    if (!username_valid(f->user)) {
        refuse(f, 403,
               "the identity provider names the user with something that is not a "
               "user name (letters, digits, . _ @ + -)",
               "send the e-mail address as the subject (SAML NameID) or the username claim");
        return;
    }
    resolve_groups(f);
}

/* ---- SAML ---- */

static bool saml_ready(Sso *s, Flow *f)
{
    if (s->sp)
        return true;
    char msg[500];
    snprintf(msg, sizeof msg, "SAML sign-in is not ready: %s", s->saml_error);
    refuse(f, 503, msg, "check PGFLEET_SAML_IDP_METADATA; it is read again every hour");
    return false;
}

typedef struct Redirect {
    Flow *f;
    char *url;
    char *state;
} Redirect;

static void redirect_stored(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    (void)reply;
    Redirect *r = ud;
    Flow *f = r->f;
    if (err != PGF_OK) {
        store_failed(f);
    } else {
        SsoOutcome o = {.status = 303,
                        .location = r->url,
                        .state_cookie = f->kind == KIND_OIDC ? r->state : NULL};
        f->cb(f->ud, &o);
        flow_free(f);
    }
    free(r->url);
    xfree_secret(r->state);
    free(r);
}

void sso_saml_login(Sso *s, const char *next, SsoCb cb, void *ud)
{
    Flow *f = flow_new(s, KIND_SAML, cb, ud, NULL);
    if (!s->metadata_source) {
        refuse(f, 400, "SAML sign-in is not configured here", "ask an admin");
        return;
    }
    if (!saml_ready(s, f))
        return;
    char state[44], err[300];
    random_token(state);
    char *url = NULL, *request_id = NULL;
    if (!saml_sp_login_url(s->sp, state, &url, &request_id, err, sizeof err)) {
        refuse(f, 503, err, "check the IdP metadata");
        return;
    }
    json_t *st = json_pack("{s:s, s:s, s:s}", "kind", "saml", "next", sso_safe_next(next),
                           "request_id", request_id);
    Redirect *r = xcalloc(1, sizeof *r);
    r->f = f;
    r->url = url;
    r->state = xstrdup(state);
    put_state(s, state, st, redirect_stored, r);
    json_decref(st);
    free(request_id);
}

static void saml_seen(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Flow *f = ud;
    if (err != PGF_OK) {
        store_failed(f);
        return;
    }
    if (!json_is_string(reply)) { /* SET NX found it: used before */
        f->user = xstrdup(f->assertion.name_id);
        refuse(f, 400, "this assertion was already used (a replay)",
               "sign in again at the identity provider");
        return;
    }
    const char *attr = config_get(f->s->cfg, CFG_SAML_GROUPS_ATTRIBUTE);
    identified(f, f->assertion.name_id, json_object_get(f->assertion.attributes, attr));
}

/* the assertion is used once: its id is kept until it expires */
static void mark_assertion(Flow *f)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)f->assertion.issuer,
                              strlen(f->assertion.issuer) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)f->assertion.assertion_id,
                              strlen(f->assertion.assertion_id));
    crypto_hash_sha256_final(&st, h);
    char hex[2 * sizeof h + 1], k[100], px[32];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(k, sizeof k, "sso:assertion:%s", hex);
    double left = f->assertion.not_on_or_after - (double)time(NULL);
    snprintf(px, sizeof px, "%.0f", fmax(1000, ceil(left * 1000)));
    char *key = store_key(f->s->store, k);
    const char *argv[] = {"SET", key, "1", "NX", "PX", px};
    store_call(f->s->store, saml_seen, f, 6, argv);
    free(key);
}

static void saml_state_taken(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Flow *f = ud;
    if (err != PGF_OK) {
        store_failed(f);
        return;
    }
    f->pending = parse_state(reply, KIND_SAML);
    const char *rid = jsonutil_str(f->pending, "request_id");
    if (!rid || strcmp(rid, f->assertion.in_response_to)) {
        f->user = xstrdup(f->assertion.name_id);
        refuse(f, 400,
               "the response answers a sign-in pgfleet did not start here, or one "
               "that was already finished or is older than 10 minutes",
               "start again from the sign-in page");
        return;
    }
    f->next = xstrdup(sso_safe_next(jsonutil_str(f->pending, "next")));
    mark_assertion(f);
}

void sso_saml_acs(Sso *s, const char *saml_response, const char *relay_state, const SsoBrowser *b,
                  SsoCb cb, void *ud)
{
    Flow *f = flow_new(s, KIND_SAML, cb, ud, b);
    if (!s->metadata_source) {
        refuse(f, 400, "SAML sign-in is not configured here", "ask an admin");
        return;
    }
    if (!saml_ready(s, f))
        return;
    char err[400];
    if (!saml_response ||
        !saml_sp_read_response(s->sp, saml_response, &f->assertion, err, sizeof err)) {
        refuse(f, 400, saml_response ? err : "the POST carries no SAMLResponse",
               "sign in again at the identity provider; an admin finds the details in the "
               "audit trail");
        return;
    }
    if (f->assertion.in_response_to) { /* SP-initiated: it must answer our request */
        if (!relay_state || !*relay_state || strlen(relay_state) > 200) {
            f->user = xstrdup(f->assertion.name_id);
            refuse(f, 400, "the response answers a request but carries no RelayState",
                   "start again from the sign-in page");
            return;
        }
        take_state(s, relay_state, saml_state_taken, f);
        return;
    }
    if (!s->cfg->saml_idp_initiated) {
        f->user = xstrdup(f->assertion.name_id);
        refuse(f, 400,
               "sign-ins started at the identity provider are turned off "
               "(PGFLEET_SAML_IDP_INITIATED)",
               "start from pgfleet's sign-in page");
        return;
    }
    f->next = xstrdup(sso_safe_next(relay_state));
    mark_assertion(f);
}

/* ---- OpenID Connect ---- */

typedef struct OidcStart {
    Flow *f;
    char state[44], nonce[44], verifier[44];
    char *next;
} OidcStart;

static void oidc_url(void *ud, const char *url, const char *error)
{
    OidcStart *o = ud;
    Flow *f = o->f;
    if (!url) {
        refuse(f, 503, error, "check PGFLEET_OIDC_ISSUER and that the provider answers");
    } else {
        json_t *st = json_pack("{s:s, s:s, s:s, s:s}", "kind", "oidc", "next", o->next, "nonce",
                               o->nonce, "verifier", o->verifier);
        Redirect *r = xcalloc(1, sizeof *r);
        r->f = f;
        r->url = xstrdup(url);
        r->state = xstrdup(o->state);
        put_state(f->s, o->state, st, redirect_stored, r);
        json_decref(st);
    }
    sodium_memzero(o, sizeof *o - sizeof o->next);
    free(o->next);
    free(o);
}

void sso_oidc_login(Sso *s, const char *next, SsoCb cb, void *ud)
{
    Flow *f = flow_new(s, KIND_OIDC, cb, ud, NULL);
    if (!s->oidc) {
        refuse(f, 400, "OpenID Connect sign-in is not configured here", "ask an admin");
        return;
    }
    OidcStart *o = xcalloc(1, sizeof *o);
    o->f = f;
    o->next = xstrdup(sso_safe_next(next));
    random_token(o->state);
    random_token(o->nonce);
    random_token(o->verifier);
    char challenge[44];
    oidc_pkce_challenge(o->verifier, challenge);
    oidc_authorize_url(s->oidc, o->state, o->nonce, challenge, oidc_url, o);
}

static void claims_checked(void *ud, const json_t *claims, const char *id_token, const char *error)
{
    (void)id_token;
    Flow *f = ud;
    if (!claims) {
        refuse(f, 400, error, "sign in again; an admin finds the details in the audit trail");
        return;
    }
    const char *uclaim = config_get(f->s->cfg, CFG_OIDC_USERNAME_CLAIM);
    const char *user = jsonutil_str(claims, uclaim);
    if (!user)
        user = jsonutil_str(claims, "sub");
    identified(f, user, json_object_get(claims, config_get(f->s->cfg, CFG_OIDC_GROUPS_CLAIM)));
}

static void oidc_state_taken(void *ud, PgfError err, const char *errmsg, const json_t *reply)
{
    (void)errmsg;
    Flow *f = ud;
    if (err != PGF_OK) {
        store_failed(f);
        return;
    }
    f->pending = parse_state(reply, KIND_OIDC);
    if (!f->pending) {
        refuse(f, 400,
               "this sign-in was already finished, is older than 10 minutes, or was "
               "not started here",
               "start again from the sign-in page");
        return;
    }
    f->next = xstrdup(sso_safe_next(jsonutil_str(f->pending, "next")));
    oidc_redeem(f->s->oidc, f->code, jsonutil_str(f->pending, "verifier"),
                jsonutil_str(f->pending, "nonce"), claims_checked, f);
}

void sso_oidc_callback(Sso *s, const char *code, const char *state, const char *error,
                       const SsoBrowser *b, SsoCb cb, void *ud)
{
    Flow *f = flow_new(s, KIND_OIDC, cb, ud, b);
    if (!s->oidc) {
        refuse(f, 400, "OpenID Connect sign-in is not configured here", "ask an admin");
        return;
    }
    const char *cookie = b ? b->state_cookie : NULL;
    bool same = state && cookie && strlen(state) == strlen(cookie) && strlen(state) < 200 &&
                sodium_memcmp(state, cookie, strlen(state)) == 0;
    if (!same) {
        refuse(f, 400,
               "the sign-in's state does not match this browser's (a sign-in started "
               "elsewhere, or a forged link)",
               "start again from the sign-in page");
        return;
    }
    if (error) {
        char msg[300];
        snprintf(msg, sizeof msg, "the identity provider answered: %.200s", error);
        refuse(f, 400, msg, "start again from the sign-in page");
        return;
    }
    if (!code || !*code || strlen(code) > 2048) {
        refuse(f, 400, "the identity provider sent no code", "start again from the sign-in page");
        return;
    }
    f->code = xstrdup(code);
    f->state = xstrdup(state);
    take_state(s, state, oidc_state_taken, f);
}
