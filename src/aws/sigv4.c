#include "aws/sigv4.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

static const char hexdig[] = "0123456789abcdef";

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(data, len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = hexdig[d[i] >> 4];
        hex[2 * i + 1] = hexdig[d[i] & 15];
    }
    hex[64] = '\0';
}

static void hmac(const unsigned char *key, size_t keylen, const char *msg, size_t msglen,
                 unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out, &n);
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash)
{
    StrBuf b = STRBUF_INIT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            strbuf_append(&b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]};
            strbuf_append(&b, e, 3);
        }
    }
    return strbuf_detach(&b);
}

/* percent-decodes s[0..len) into a new string (bad escapes are kept as is) */
static char *pct_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len) {
            int hi = hex_digit_value(s[i + 1]);
            int lo = hex_digit_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    return out;
}

/* "." and ".." segments removed, empty segments dropped, trailing slash kept */
static char *normalize(const char *path)
{
    size_t n = strlen(path);
    const char **segs = xcalloc(n + 1, sizeof *segs);
    size_t *lens = xcalloc(n + 1, sizeof *lens);
    size_t nsegs = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 1 && p[0] == '.') {
            /* skip */
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            if (nsegs)
                nsegs--;
        } else {
            segs[nsegs] = p;
            lens[nsegs++] = l;
        }
        p += l;
    }
    bool trailing = n > 1 && path[n - 1] == '/';
    /* "/a/.." ends in a directory too */
    if (n >= 2 && (strcmp(path + n - 2, "/.") == 0 || (n >= 3 && strcmp(path + n - 3, "/..") == 0)))
        trailing = true;
    StrBuf b = STRBUF_INIT;
    for (size_t i = 0; i < nsegs; i++) {
        strbuf_append(&b, "/", 1);
        strbuf_append(&b, segs[i], lens[i]);
    }
    if (nsegs == 0 || trailing)
        strbuf_append(&b, "/", 1);
    free(segs);
    free(lens);
    return strbuf_detach(&b);
}

typedef struct Param {
    char *key;   /* encoded */
    char *value; /* encoded */
} Param;

static int param_cmp(const void *a, const void *b)
{
    const Param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

typedef struct Params {
    Param *items;
    size_t n, cap;
} Params;

static void params_add_encoded(Params *ps, char *key, char *value)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 8;
        ps->items = xrealloc(ps->items, ps->cap * sizeof *ps->items);
    }
    ps->items[ps->n].key = key;
    ps->items[ps->n].value = value;
    ps->n++;
}

static void params_add(Params *ps, const char *key, const char *value)
{
    params_add_encoded(ps, sigv4_uri_encode(key, strlen(key), false),
                       sigv4_uri_encode(value, strlen(value), false));
}

static void params_parse(Params *ps, const char *query)
{
    if (!query)
        return;
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t l = amp ? (size_t)(amp - p) : strlen(p);
        if (l) {
            const char *eq = memchr(p, '=', l);
            size_t kl = eq ? (size_t)(eq - p) : l;
            char *k = pct_decode(p, kl);
            char *v = eq ? pct_decode(eq + 1, l - kl - 1) : xstrdup("");
            params_add(ps, k, v);
            free(k);
            free(v);
        }
        p += l;
        if (*p == '&')
            p++;
    }
}

static char *params_join(Params *ps, bool sort)
{
    if (sort && ps->n > 1)
        qsort(ps->items, ps->n, sizeof *ps->items, param_cmp);
    StrBuf b = STRBUF_INIT;
    for (size_t i = 0; i < ps->n; i++)
        strbuf_printf(&b, "%s%s=%s", i ? "&" : "", ps->items[i].key, ps->items[i].value);
    return strbuf_detach(&b);
}

static void params_free(Params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->items[i].key);
        free(ps->items[i].value);
    }
    free(ps->items);
}

typedef struct CHeader {
    char *name;  /* lower case */
    char *value; /* trimmed, collapsed; repeated headers joined with ',' */
} CHeader;

static int cheader_cmp(const void *a, const void *b)
{
    return strcmp(((const CHeader *)a)->name, ((const CHeader *)b)->name);
}

/* trims and collapses whitespace runs (including folded line breaks) to one space */
static void append_collapsed(StrBuf *b, const char *v)
{
    while (*v && isspace((unsigned char)*v))
        v++;
    bool space = false;
    for (; *v; v++) {
        if (isspace((unsigned char)*v)) {
            space = true;
            continue;
        }
        if (space)
            strbuf_append(b, " ", 1);
        space = false;
        strbuf_append(b, v, 1);
    }
}

typedef struct Canon {
    CHeader *h;
    size_t n;
} Canon;

static void canon_add(Canon *c, const char *name, const char *value)
{
    char *lname = xstrdup(name);
    for (char *q = lname; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->h[i].name, lname) == 0) {
            StrBuf b = STRBUF_INIT;
            strbuf_puts(&b, c->h[i].value);
            strbuf_append(&b, ",", 1);
            append_collapsed(&b, value);
            free(c->h[i].value);
            c->h[i].value = strbuf_detach(&b);
            free(lname);
            return;
        }
    }
    c->h = xrealloc(c->h, (c->n + 1) * sizeof *c->h);
    StrBuf b = STRBUF_INIT;
    append_collapsed(&b, value);
    c->h[c->n].name = lname;
    c->h[c->n].value = strbuf_detach(&b);
    c->n++;
}

static void canon_free(Canon *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->h[i].name);
        free(c->h[i].value);
    }
    free(c->h);
}

static void format_dates(time_t now, char amz_date[17], char date[9])
{
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
}

/*
 * Builds the canonical request, string to sign and signature. extra_query
 * holds the X-Amz-* parameters of presigning; extra_headers the x-amz-date
 * (and token) of header signing. signed_headers receives "host;x-amz-date".
 */
static bool sign(const SigV4Input *in, SigV4Output *out, const char *date, Params *query,
                 Canon *hdrs, char **signed_headers)
{
    char *path = in->normalize_path ? normalize(in->path) : xstrdup(in->path);
    char *uri = sigv4_uri_encode(path, strlen(path), true);
    free(path);
    Params sorted = {0};
    for (size_t i = 0; i < query->n; i++)
        params_add_encoded(&sorted, xstrdup(query->items[i].key), xstrdup(query->items[i].value));
    char *canon_query = params_join(&sorted, true);
    params_free(&sorted);

    if (hdrs->n > 1)
        qsort(hdrs->h, hdrs->n, sizeof *hdrs->h, cheader_cmp);
    StrBuf ch = STRBUF_INIT, sh = STRBUF_INIT;
    for (size_t i = 0; i < hdrs->n; i++) {
        strbuf_printf(&ch, "%s:%s\n", hdrs->h[i].name, hdrs->h[i].value);
        strbuf_printf(&sh, "%s%s", i ? ";" : "", hdrs->h[i].name);
    }
    char payload_hash[65];
    if (in->payload_hash)
        snprintf(payload_hash, sizeof payload_hash, "%s", in->payload_hash);
    else
        sigv4_sha256_hex(in->payload ? in->payload : "", in->payload_len, payload_hash);

    StrBuf cr = STRBUF_INIT;
    strbuf_printf(&cr, "%s\n%s\n%s\n%s\n%s\n%s", in->method, uri, canon_query,
                  ch.data ? ch.data : "", sh.data ? sh.data : "", payload_hash);
    free(uri);
    free(canon_query);
    strbuf_free(&ch);
    out->canonical_request = strbuf_detach(&cr);
    *signed_headers = strbuf_detach(&sh);

    char cr_hash[65];
    sigv4_sha256_hex(out->canonical_request, strlen(out->canonical_request), cr_hash);
    out->string_to_sign = xasprintf(ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", out->amz_date,
                                    date, in->region, in->service, cr_hash);

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
    char *k0 = xasprintf("AWS4%s", in->secret_key);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    hmac((unsigned char *)k0, strlen(k0), date, strlen(date), k1);
    OPENSSL_cleanse(k0, strlen(k0));
    free(k0);
    hmac(k1, 32, in->region, strlen(in->region), k2);
    hmac(k2, 32, in->service, strlen(in->service), k3);
    hmac(k3, 32, "aws4_request", 12, k4);
    hmac(k4, 32, out->string_to_sign, strlen(out->string_to_sign), sig);
    for (int i = 0; i < 32; i++) {
        out->signature[2 * i] = hexdig[sig[i] >> 4];
        out->signature[2 * i + 1] = hexdig[sig[i] & 15];
    }
    out->signature[64] = '\0';
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k4, sizeof k4);
    return true;
}

static bool input_ok(const SigV4Input *in)
{
    return in->method && in->path && in->path[0] == '/' && in->access_key && in->secret_key &&
           in->region && in->service;
}

bool sigv4_sign_headers(const SigV4Input *in, SigV4Output *out)
{
    memset(out, 0, sizeof *out);
    if (!input_ok(in))
        return false;
    char date[9];
    format_dates(in->now, out->amz_date, date);
    Canon hdrs = {0};
    for (size_t i = 0; i < in->nheaders; i++)
        canon_add(&hdrs, in->headers[i].name, in->headers[i].value);
    canon_add(&hdrs, "x-amz-date", out->amz_date);
    if (in->session_token && !in->omit_session_token)
        canon_add(&hdrs, "x-amz-security-token", in->session_token);
    out->security_token = in->session_token;
    if (in->sign_body) {
        if (in->payload_hash)
            snprintf(out->content_sha256, sizeof out->content_sha256, "%s", in->payload_hash);
        else
            sigv4_sha256_hex(in->payload ? in->payload : "", in->payload_len, out->content_sha256);
        canon_add(&hdrs, "x-amz-content-sha256", out->content_sha256);
    }
    Params query = {0};
    params_parse(&query, in->query);
    char *signed_headers = NULL;
    bool ok = sign(in, out, date, &query, &hdrs, &signed_headers);
    out->authorization =
        xasprintf(ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                  in->access_key, date, in->region, in->service, signed_headers, out->signature);
    free(signed_headers);
    params_free(&query);
    canon_free(&hdrs);
    return ok;
}

bool sigv4_presign(const SigV4Input *in, SigV4Output *out)
{
    memset(out, 0, sizeof *out);
    if (!input_ok(in) || in->expires <= 0)
        return false;
    char date[9];
    format_dates(in->now, out->amz_date, date);
    Canon hdrs = {0};
    for (size_t i = 0; i < in->nheaders; i++)
        canon_add(&hdrs, in->headers[i].name, in->headers[i].value);
    StrBuf sh = STRBUF_INIT;
    {
        /* the signed-header list is needed inside the query before signing */
        Canon sorted = {0};
        for (size_t i = 0; i < hdrs.n; i++)
            canon_add(&sorted, hdrs.h[i].name, hdrs.h[i].value);
        if (sorted.n > 1)
            qsort(sorted.h, sorted.n, sizeof *sorted.h, cheader_cmp);
        for (size_t i = 0; i < sorted.n; i++)
            strbuf_printf(&sh, "%s%s", i ? ";" : "", sorted.h[i].name);
        canon_free(&sorted);
    }
    Params query = {0};
    params_parse(&query, in->query);
    char *credential =
        xasprintf("%s/%s/%s/%s/aws4_request", in->access_key, date, in->region, in->service);
    char expires[24];
    snprintf(expires, sizeof expires, "%ld", in->expires);
    params_add(&query, "X-Amz-Algorithm", ALGORITHM);
    params_add(&query, "X-Amz-Credential", credential);
    params_add(&query, "X-Amz-Date", out->amz_date);
    params_add(&query, "X-Amz-Expires", expires);
    if (in->session_token && !in->omit_session_token)
        params_add(&query, "X-Amz-Security-Token", in->session_token);
    params_add(&query, "X-Amz-SignedHeaders", sh.data ? sh.data : "");
    free(credential);
    strbuf_free(&sh);

    char *signed_headers = NULL;
    bool ok = sign(in, out, date, &query, &hdrs, &signed_headers);
    free(signed_headers);
    if (in->session_token && in->omit_session_token)
        params_add(&query, "X-Amz-Security-Token", in->session_token);
    params_add(&query, "X-Amz-Signature", out->signature);
    out->query = params_join(&query, false);
    params_free(&query);
    canon_free(&hdrs);
    return ok;
}

void sigv4_output_free(SigV4Output *out)
{
    free(out->canonical_request);
    free(out->string_to_sign);
    free(out->authorization);
    free(out->query);
    memset(out, 0, sizeof *out);
}
