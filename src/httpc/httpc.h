/*
 * httpc: outgoing HTTP on the loop, through libcurl's multi-socket API.
 *
 * Every socket curl opens is watched with a uv_poll and curl's timeout with a
 * uv_timer, so requests never block the loop (name resolution runs in curl's
 * resolver thread). Each request has a total and a connect timeout. Used by
 * the AWS clients, and later JWKS and webhooks.
 *
 * Callback contract: called exactly once per accepted request, from the loop,
 * never inside httpc_send. resp and everything it points to are valid only
 * during the call. httpc_free calls the callbacks of unfinished requests with
 * curl_code != 0 and error "cancelled".
 */
#ifndef PGFLEET_HTTPC_H
#define PGFLEET_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

typedef struct Httpc Httpc;

typedef struct HttpcRequest {
    const char *method; /* GET, POST, PUT, DELETE ... */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    long timeout_ms;         /* whole request; 0: 10 s */
    long connect_timeout_ms; /* 0: 3 s */
} HttpcRequest;

typedef struct HttpcResponse {
    long status;      /* 0 when no response arrived */
    const char *body; /* NUL-terminated */
    size_t body_len;
    const char *content_type; /* or NULL */
    const char *request_id;   /* x-amzn-requestid / x-amz-request-id, or NULL */
    int curl_code;            /* 0 on transport success */
    const char *error;        /* transport error text, or NULL */
    double total_ms;
} HttpcResponse;

typedef void (*HttpcDoneCb)(void *ud, const HttpcResponse *resp);

Httpc *httpc_new(uv_loop_t *loop);
/* cancels what is in flight (callbacks run) and frees once curl's handles are closed */
void httpc_free(Httpc *h);
/* false only when h is shutting down (the callback will not run) */
bool httpc_send(Httpc *h, const HttpcRequest *req, HttpcDoneCb cb, void *ud)
    __attribute__((warn_unused_result));
size_t httpc_in_flight(const Httpc *h);

#endif
