/*
 * error: the one table of pgfleet error codes.
 *
 * Each code is at once the CLI exit status, the API `error.code` string and the
 * HTTP status an API error carries. Add a row here rather than inventing a code
 * elsewhere; tests pin the strings, because users script against them.
 */
#ifndef PGFLEET_ERROR_H
#define PGFLEET_ERROR_H

// clang-format off
/*      name                 api code                  exit  http */
#define PGF_ERROR_TABLE(X)                                                   \
    X(PGF_OK,                "ok",                     0,    200)            \
    X(PGF_ERR_INTERNAL,      "internal",               1,    500)            \
    X(PGF_ERR_USAGE,         "usage",                  2,    400)            \
    X(PGF_ERR_CONFIG,        "config_invalid",         3,    500)            \
    X(PGF_ERR_BAD_JSON,      "bad_json",               4,    400)            \
    X(PGF_ERR_VALIDATION,    "validation_failed",      5,    422)            \
    X(PGF_ERR_NOT_FOUND,     "not_found",              6,    404)            \
    X(PGF_ERR_METHOD,        "method_not_allowed",     7,    405)            \
    X(PGF_ERR_UNAUTHORIZED,  "unauthorized",           8,    401)            \
    X(PGF_ERR_FORBIDDEN,     "forbidden",              9,    403)            \
    X(PGF_ERR_TOO_LARGE,     "payload_too_large",      10,   413)            \
    X(PGF_ERR_MEDIA_TYPE,    "unsupported_media_type", 11,   415)            \
    X(PGF_ERR_STORE_DOWN,    "store_unavailable",      12,   503)            \
    X(PGF_ERR_SHUTTING_DOWN, "shutting_down",          13,   503)            \
    X(PGF_ERR_CONFLICT,      "conflict",               14,   409)            \
    X(PGF_ERR_LISTEN,        "listen_failed",          15,   500)            \
    X(PGF_ERR_TIMEOUT,       "timeout",                16,   504)            \
    X(PGF_ERR_UNSAFE,        "unsafe_config",          17,   500)            \
    X(PGF_ERR_AWS,           "aws_error",              18,   502)            \
    X(PGF_ERR_UNREACHABLE,   "database_unreachable",   19,   502)            \
    X(PGF_ERR_NOT_READY,     "not_ready",              20,   503)            \
    X(PGF_ERR_MIGRATION,     "migration_failed",       21,   422)            \
    X(PGF_ERR_MISDIRECTED,   "misdirected_request",    22,   421)            \
    X(PGF_ERR_FORBIDDEN_ORIGIN, "forbidden_origin",    23,   403)            \
    X(PGF_ERR_CSRF,          "csrf_token_invalid",     24,   403)            \
    X(PGF_ERR_TOO_MANY,      "too_many_attempts",      25,   429)
// clang-format on

typedef enum PgfError {
#define PGF_X(name, code, exit, http) name,
    PGF_ERROR_TABLE(PGF_X)
#undef PGF_X
        PGF_ERROR_COUNT
} PgfError;

/* "validation_failed" etc.; "internal" for an out-of-range value */
const char *pgf_error_code(PgfError err);
/* process exit status for the CLI */
int pgf_error_exit(PgfError err);
/* HTTP status for the API */
unsigned pgf_error_http(PgfError err);
/* the error whose API code is code; PGF_ERR_INTERNAL when unknown */
PgfError pgf_error_from_code(const char *code);

#endif
