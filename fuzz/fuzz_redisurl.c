/* libFuzzer target: redis URLs from configuration (make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/redisurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    RedisUrl u;
    char err[256];
    if (redisurl_parse(s, &u, err, sizeof err))
        redisurl_free(&u);
    free(s);
    return 0;
}
