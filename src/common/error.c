#include "common/error.h"

#include <string.h>

typedef struct ErrorRow {
    const char *code;
    int exit_status;
    unsigned http_status;
} ErrorRow;

static const ErrorRow error_rows[PGF_ERROR_COUNT] = {
#define PGF_X(name, code, exit, http) [name] = {code, exit, http},
    PGF_ERROR_TABLE(PGF_X)
#undef PGF_X
};

static const ErrorRow *row(PgfError err)
{
    if ((unsigned)err >= PGF_ERROR_COUNT)
        return &error_rows[PGF_ERR_INTERNAL];
    return &error_rows[err];
}

const char *pgf_error_code(PgfError err)
{
    return row(err)->code;
}

int pgf_error_exit(PgfError err)
{
    return row(err)->exit_status;
}

unsigned pgf_error_http(PgfError err)
{
    return row(err)->http_status;
}

PgfError pgf_error_from_code(const char *code)
{
    for (int i = 0; i < PGF_ERROR_COUNT; i++)
        if (code && strcmp(error_rows[i].code, code) == 0)
            return (PgfError)i;
    return PGF_ERR_INTERNAL;
}
