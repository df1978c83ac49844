/*
 * strbuf: a growable, always NUL-terminated byte buffer.
 */
#ifndef PGFLEET_STRBUF_H
#define PGFLEET_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct StrBuf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
} StrBuf;

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void strbuf_append(StrBuf *sb, const char *data, size_t len);
void strbuf_puts(StrBuf *sb, const char *s);
void strbuf_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(StrBuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void strbuf_reset(StrBuf *sb);
/* hands the buffer to the caller (never NULL) and empties sb */
char *strbuf_detach(StrBuf *sb);
void strbuf_free(StrBuf *sb);

/* the value of a hex digit (either case), or -1 */
int hex_digit_value(char c);

/* appends s with & < > " ' as entities (for XML and HTML text and attributes) */
void strbuf_puts_markup(StrBuf *sb, const char *s);

#endif
