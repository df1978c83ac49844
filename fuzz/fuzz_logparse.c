/* libFuzzer target: PostgreSQL log records in every format (make fuzz) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "logs/logparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    LogFormatKind fmt = (LogFormatKind)(data[0] % 4);
    LogRecord r;
    if (logparse_record((const char *)data + 1, size - 1, fmt, &r)) {
        if (strlen(r.message) >= sizeof r.message)
            __builtin_trap();
        json_decref(logparse_classify(&r));
    }
    return 0;
}
