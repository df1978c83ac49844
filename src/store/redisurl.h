/*
 * redisurl: parses redis:// and rediss:// URLs.
 *
 *   redis[s]://[[user][:password]@]host[:port][/db]
 *
 * User and password are percent-decoded. IPv6 hosts go in brackets.
 */
#ifndef PGFLEET_REDISURL_H
#define PGFLEET_REDISURL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct RedisUrl {
    bool tls;
    char *user;     /* NULL: default user */
    char *password; /* NULL: no AUTH */
    char *host;
    int port;
    int db;
} RedisUrl;

bool redisurl_parse(const char *url, RedisUrl *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void redisurl_free(RedisUrl *u);

#endif
