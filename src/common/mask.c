#include "common/mask.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

static const char *const secret_keys[] = {"password", "sslpassword", "token", "secret", NULL};

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* at p a "scheme://": where its user-info ends ('@'), or NULL */
static const char *userinfo_end(const char *p, const char **info)
{
    const char *sep = strstr(p, "://");
    if (!sep)
        return NULL;
    *info = sep + 3;
    for (const char *q = *info; *q && !strchr("/?# \t\r\n\"'", *q); q++)
        if (*q == '@')
            return q;
    return NULL;
}

/* a URL starting at s (its scheme at s): appends it with the password hidden; its length */
static size_t mask_url(StrBuf *sb, const char *s)
{
    const char *info, *at = userinfo_end(s, &info);
    if (!at)
        return 0;
    const char *colon = memchr(info, ':', (size_t)(at - info));
    bool redis = !strncasecmp(s, "redis://", 8) || !strncasecmp(s, "rediss://", 9);
    if (colon) {
        strbuf_append(sb, s, (size_t)(colon + 1 - s));
        strbuf_puts(sb, "****");
    } else if (redis) {
        strbuf_append(sb, s, (size_t)(info - s));
        strbuf_puts(sb, "****");
    } else {
        strbuf_append(sb, s, (size_t)(at - s));
    }
    return (size_t)(at - s);
}

/* at s a secret key ("password = value"): appends key=****; the length consumed, or 0 */
static size_t mask_key(StrBuf *sb, const char *s, bool at_word_start)
{
    if (!at_word_start)
        return 0;
    for (const char *const *k = secret_keys; *k; k++) {
        size_t n = strlen(*k);
        if (strncasecmp(s, *k, n) != 0 || key_char(s[n]))
            continue;
        const char *p = s + n;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\'' || *p == '"') { /* quoted, with backslash escapes */
            char q = *p++;
            while (*p && *p != q)
                p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p)
                p++;
        } else {
            while (*p && !strchr(" \t\r\n&;,'\"", *p))
                p++;
        }
        strbuf_append(sb, s, n);
        strbuf_puts(sb, "=****");
        return (size_t)(p - s);
    }
    return 0;
}

/* a URL scheme ends just before s (letters, digits, + - .), starting a word */
static bool scheme_at(const char *start, const char *s)
{
    if (!isalpha((unsigned char)*s) ||
        (s > start && (isalnum((unsigned char)s[-1]) || s[-1] == '+')))
        return false;
    const char *p = s;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return strncmp(p, "://", 3) == 0;
}

static void mask_into(StrBuf *sb, const char *in)
{
    for (const char *s = in; *s;) {
        bool word_start = s == in || !key_char(s[-1]);
        size_t n = scheme_at(in, s) ? mask_url(sb, s) : 0;
        if (!n)
            n = mask_key(sb, s, word_start && (s == in || s[-1] != '-'));
        if (n) {
            s += n;
            continue;
        }
        strbuf_append(sb, s, 1);
        s++;
    }
}

void mask_secrets(const char *in, char *out, size_t outlen)
{
    if (!outlen)
        return;
    StrBuf sb = STRBUF_INIT;
    mask_into(&sb, in ? in : "");
    size_t n = sb.len < outlen - 1 ? sb.len : outlen - 1;
    if (n)
        memcpy(out, sb.data, n);
    out[n] = '\0';
    strbuf_free(&sb);
}

char *mask_secrets_dup(const char *in)
{
    StrBuf sb = STRBUF_INIT;
    mask_into(&sb, in ? in : "");
    return strbuf_detach(&sb);
}

bool mask_has_secret(const char *in)
{
    char *m = mask_secrets_dup(in);
    bool changed = strcmp(m, in ? in : "") != 0;
    free(m);
    return changed;
}
