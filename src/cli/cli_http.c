/* cli_http: one request from the CLI to a running server (PGFLEET_URL, AUTH_KEY) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"
#include "httpc/httpc.h"

static void call_done(void *ud, const HttpcResponse *r)
{
    CliCall *c = ud;
    c->status = r->status;
    if (r->curl_code) {
        snprintf(c->error, sizeof c->error, "%s", r->error);
        return;
    }
    char err[128];
    c->body = jsonutil_parse(r->body, r->body_len, err, sizeof err);
    if (!c->body)
        snprintf(c->error, sizeof c->error, "the server answered HTTP %ld without JSON", r->status);
}

static int request(const char *method, const char *path, const char *body, bool report,
                   long timeout_ms, CliCall *out)
{
    memset(out, 0, sizeof *out);
    const char *base = getenv("PGFLEET_URL");
    if (!base || !*base)
        base = config_def(CFG_URL)->default_value;
    char *url = xasprintf("%s%s", base, path);
    const char *key = getenv("AUTH_KEY");
    char *auth = key && *key ? xasprintf("Authorization: Bearer %s", key) : NULL;
    const char *headers[] = {"Content-Type: application/json", auth, NULL};
    uv_loop_t loop;
    uv_loop_init(&loop);
    Httpc *h = httpc_new(&loop);
    HttpcRequest req = {.method = method,
                        .url = url,
                        .headers = headers,
                        .body = body,
                        .body_len = body ? strlen(body) : 0,
                        .timeout_ms = timeout_ms};
    if (httpc_send(h, &req, call_done, out))
        uv_run(&loop, UV_RUN_DEFAULT);
    httpc_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(auth);
    if (out->error[0] && !out->body && !report) {
        free(url);
        return pgf_error_exit(PGF_ERR_UNREACHABLE);
    }
    if (out->error[0] && !out->body) {
        fprintf(stderr,
                "pgfleet: could not reach the server at %s: %s\nHINT: start it with "
                "'pgfleet serve', or set PGFLEET_URL\n",
                base, out->error);
        free(url);
        return pgf_error_exit(PGF_ERR_UNREACHABLE);
    }
    free(url);
    const json_t *e = json_object_get(out->body, "error");
    if (out->status >= 400 && e && !report) {
        snprintf(out->error, sizeof out->error, "%s", jsonutil_str(e, "message"));
        json_decref(out->body);
        out->body = NULL;
        return pgf_error_exit(pgf_error_from_code(jsonutil_str(e, "code")));
    }
    if (out->status >= 400 && e) {
        fprintf(stderr, "pgfleet: %s\n", jsonutil_str(e, "message"));
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(e, "fields"), i, f)
            fprintf(stderr, "  %s: %s\n", jsonutil_str(f, "field"), jsonutil_str(f, "message"));
        json_array_foreach(json_object_get(e, "checks"), i, f)
        {
            if (strcmp(jsonutil_str(f, "status"), "ok") != 0)
                fprintf(stderr, "  %-7s %-22s %s%s%s\n", jsonutil_str(f, "status"),
                        jsonutil_str(f, "check"), jsonutil_str(f, "message"),
                        jsonutil_str(f, "hint") ? " HINT: " : "",
                        jsonutil_str(f, "hint") ? jsonutil_str(f, "hint") : "");
        }
        if (jsonutil_str(e, "hint"))
            fprintf(stderr, "HINT: %s\n", jsonutil_str(e, "hint"));
        int rc = pgf_error_exit(pgf_error_from_code(jsonutil_str(e, "code")));
        json_decref(out->body);
        out->body = NULL;
        return rc;
    }
    return -1;
}

int cli_request(const char *method, const char *path, const char *body, CliCall *out)
{
    return request(method, path, body, true, 120000, out);
}

int cli_request_quiet(const char *method, const char *path, CliCall *out)
{
    return request(method, path, NULL, false, 5000, out);
}

int cli_get(const char *path, bool json, CliCall *out)
{
    int rc = cli_request("GET", path, NULL, out);
    if (rc >= 0 || !json)
        return rc;
    cli_print_json(out->body);
    json_decref(out->body);
    out->body = NULL;
    return 0;
}
