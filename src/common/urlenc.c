#include "common/urlenc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void urlenc_append(StrBuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            strbuf_append(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            strbuf_append(b, e, 3);
        }
    }
}

char *urlenc(const char *s)
{
    StrBuf b = STRBUF_INIT;
    urlenc_append(&b, s);
    strbuf_puts(&b, "");
    return strbuf_detach(&b);
}

void urlenc_param(StrBuf *b, const char *name, const char *value)
{
    if (b->len && b->data[b->len - 1] != '?' && b->data[b->len - 1] != '&')
        strbuf_puts(b, "&");
    strbuf_puts(b, name);
    strbuf_puts(b, "=");
    urlenc_append(b, value);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* decodes [p, p+n) into a new string; NULL on a bad escape or a NUL */
static char *decode(const char *p, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+') {
            out[k++] = ' ';
            continue;
        }
        if (p[i] != '%') {
            out[k++] = p[i];
            continue;
        }
        int a = i + 1 < n ? hexval(p[i + 1]) : -1;
        int b = i + 2 < n ? hexval(p[i + 2]) : -1;
        if (a < 0 || b < 0 || (a == 0 && b == 0)) {
            free(out);
            return NULL;
        }
        out[k++] = (char)(a * 16 + b);
        i += 2;
    }
    out[k] = '\0';
    return out;
}

char *urlenc_form_value(const char *body, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *end = body + len;
    for (const char *p = body; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=')
            return decode(p + nlen + 1, (size_t)(stop - p - (ptrdiff_t)nlen - 1));
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}
