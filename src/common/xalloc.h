/*
 * xalloc: allocation that never returns NULL.
 *
 * A daemon that half-handles out-of-memory is worse than one that stops: every
 * allocation in pgfleet goes through these and aborts with a message on failure
 * (as in Redis zmalloc and ttyd xmalloc).
 */
#ifndef PGFLEET_XALLOC_H
#define PGFLEET_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* wipes a secret string (sodium_memzero) and frees it; NULL is fine */
void xfree_secret(char *s);

/* printf into a new string */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
