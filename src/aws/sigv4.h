/*
 * sigv4: AWS Signature Version 4, as a pure function over OpenSSL.
 *
 * Two forms: header signing (an Authorization header, for API calls) and
 * query presigning (X-Amz-* query parameters, for RDS IAM tokens and
 * presigned URLs). Nothing here does I/O or reads the clock: the caller
 * passes the time, so the official test vectors reproduce exactly.
 *
 * Canonicalization follows the AWS rules and the aws-c-auth test suite:
 * header names lower-cased, values trimmed with inner whitespace runs (folded
 * lines too) collapsed to one space, repeated headers joined with ','; the
 * path URI-encoded per segment after, when normalize_path, removing "." and
 * ".." segments and empty segments (every service but S3); query parameters
 * decoded, re-encoded with the unreserved set and sorted.
 */
#ifndef PGFLEET_SIGV4_H
#define PGFLEET_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct SigV4Header {
    const char *name;
    const char *value;
} SigV4Header;

typedef struct SigV4Input {
    const char *method;
    const char *path;  /* decoded path, e.g. "/" or "/example space/" */
    const char *query; /* the query string as sent (percent-encoded), no '?'; may be NULL */
    const SigV4Header *headers; /* must include Host */
    size_t nheaders;
    const void *payload;
    size_t payload_len;
    const char *payload_hash; /* e.g. "UNSIGNED-PAYLOAD"; NULL: sha256 of payload */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL when the credentials have none */
    const char *region;
    const char *service;
    time_t now;
    bool normalize_path;     /* true for every service but S3 */
    bool omit_session_token; /* sign without the token, then add it (unsigned) */
    bool sign_body;          /* header signing: add and sign x-amz-content-sha256 */
    long expires;            /* presign: X-Amz-Expires in seconds */
} SigV4Input;

typedef struct SigV4Output {
    char *canonical_request;
    char *string_to_sign;
    char signature[65];
    char amz_date[17]; /* 20150830T123600Z */
    /* header signing: add these to the request */
    char *authorization; /* AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=... */
    const char *security_token; /* X-Amz-Security-Token value, or NULL (points into the input) */
    char content_sha256[65];    /* x-amz-content-sha256 value when sign_body, else "" */
    /* presigning: the complete query string to send, X-Amz-Signature last */
    char *query;
} SigV4Output;

/* Header signing. Signs the given headers plus X-Amz-Date (and the token). */
bool sigv4_sign_headers(const SigV4Input *in, SigV4Output *out) __attribute__((warn_unused_result));
/* Query presigning (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders ...). */
bool sigv4_presign(const SigV4Input *in, SigV4Output *out) __attribute__((warn_unused_result));
void sigv4_output_free(SigV4Output *out);

/* RFC 3986 unreserved-set encoding; '/' kept when keep_slash */
char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash);
/* lower-case hex sha256 of data into hex[65] */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
