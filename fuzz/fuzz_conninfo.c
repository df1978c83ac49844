/* libFuzzer target: connection strings from the command line and the catalog (conninfo parse,
 * the masking of their passwords) (make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mask.h"
#include "pg/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    PgConnParams p;
    void *owner = NULL;
    char err[512];
    char *masked = mask_secrets_dup(s);
    if (discover_parse_conninfo(s, &p, &owner, err, sizeof err))
        discover_free_conninfo(owner);
    else if (strcmp(masked, s) != 0 && !strstr(masked, s) && strstr(err, s))
        abort(); /* the error echoed a connection string with its password */
    free(masked);
    free(s);
    return 0;
}
