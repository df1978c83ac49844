/*
 * mask: the one routine that hides secrets in text before it is shown.
 *
 * Used by everything that prints or answers text that may hold a URL or a
 * connection string: log lines, error answers, /readyz, `pgfleet config`,
 * CLI errors. It replaces
 *   - the password of a URL's user-info: scheme://user:PW@host, and for
 *     redis:// and rediss:// also scheme://PW@host (Redis reads a lone
 *     user-info as the password);
 *   - the value of a password (or sslpassword, token, secret) key in a
 *     libpq key=value string or a URL query: password=PW, password = 'P W',
 *     ?password=PW& (a key is a whole word followed by '=')
 * with "****". Text without those comes out unchanged. Output is always
 * NUL-terminated and truncated to outlen.
 */
#ifndef PGFLEET_MASK_H
#define PGFLEET_MASK_H

#include <stdbool.h>
#include <stddef.h>

void mask_secrets(const char *in, char *out, size_t outlen);
/* a new string (xmalloc) */
char *mask_secrets_dup(const char *in);
/* true when mask_secrets would change in */
bool mask_has_secret(const char *in);

#endif
