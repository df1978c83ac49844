#include "store/redisurl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

/* percent-decodes s[0..n) into a new string; NULL on a bad escape or NUL */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hex_digit_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_digit_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static bool parse_int(const char *s, size_t n, long min, long max, int *out)
{
    char buf[16];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

bool redisurl_parse(const char *url, RedisUrl *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        p = url + 9;
        out->tls = true;
    } else {
        snprintf(err, errlen, "redis URL must start with redis:// or rediss://");
        return false;
    }
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (ulen) {
            out->user = pct_decode(p, ulen);
            if (!out->user) {
                snprintf(err, errlen, "redis URL: bad percent-escape in the user name");
                goto fail;
            }
        }
        if (colon) {
            out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
            if (!out->password) {
                snprintf(err, errlen, "redis URL: bad percent-escape in the password");
                goto fail;
            }
        } else if (out->user) {
            /* redis://password@host, as many clients read it */
            out->password = out->user;
            out->user = NULL;
        }
        p = at + 1;
    }
    const char *hend;
    const char *portstart = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) {
            snprintf(err, errlen, "redis URL: unclosed '[' in the host");
            goto fail;
        }
        out->host = xstrndup(p + 1, (size_t)(close - p - 1));
        hend = close + 1;
        if (hend < end && *hend == ':')
            portstart = hend + 1;
        else if (hend != end) {
            snprintf(err, errlen, "redis URL: unexpected text after the host");
            goto fail;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        out->host = xstrndup(p, (size_t)(hend - p));
        if (colon)
            portstart = colon + 1;
    }
    if (!out->host[0]) {
        snprintf(err, errlen, "redis URL: the host is missing");
        goto fail;
    }
    if (portstart && !parse_int(portstart, (size_t)(end - portstart), 1, 65535, &out->port)) {
        snprintf(err, errlen, "redis URL: the port must be a number from 1 to 65535");
        goto fail;
    }
    if (*end == '/' && end[1] && end[1] != '?' && end[1] != '#') {
        const char *dbs = end + 1;
        size_t dlen = strcspn(dbs, "?#");
        if (!parse_int(dbs, dlen, 0, 1000000, &out->db)) {
            snprintf(err, errlen, "redis URL: the database after '/' must be a number");
            goto fail;
        }
    }
    return true;
fail:
    redisurl_free(out);
    return false;
}

void redisurl_free(RedisUrl *u)
{
    free(u->user);
    if (u->password) {
        sodium_memzero(u->password, strlen(u->password));
        free(u->password);
    }
    free(u->host);
    memset(u, 0, sizeof *u);
}
