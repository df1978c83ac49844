/* libFuzzer target: the migration statement splitter (make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "migrate/sqlsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SqlScript s;
    sqlsplit((const char *)data, size, &s);
    /* every statement lies inside the input, in order, without overlap */
    size_t end = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.stmts[i].offset < end || s.stmts[i].offset + s.stmts[i].len > size ||
            s.stmts[i].len == 0 || s.stmts[i].line < 1)
            abort();
        end = s.stmts[i].offset + s.stmts[i].len;
    }
    sqlsplit_free(&s);
    return 0;
}
