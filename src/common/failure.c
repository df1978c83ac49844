#include "common/failure.h"

#include <stdarg.h>
#include <stdio.h>

void failure_set(Failure *f, PgfError code, json_t *detail, const char *hint, const char *fmt, ...)
{
    f->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    snprintf(f->hint, sizeof f->hint, "%s", hint ? hint : "");
    f->detail = detail;
}

void failure_store(Failure *f, PgfError err, const char *what, const char *why)
{
    failure_set(f, err != PGF_OK ? err : PGF_ERR_STORE_DOWN, NULL,
                "check PGFLEET_REDIS_URL and that Redis runs; pgfleet reconnects by itself",
                "could not %s: %s", what, why ? why : "the state store is not available");
}

void failure_clear(Failure *f)
{
    json_decref(f->detail);
    f->detail = NULL;
}

void failure_report(Failure *f, DoneCb cb, void *ud)
{
    cb(ud, NULL, f);
    failure_clear(f);
}

void failure_store_report(PgfError err, const char *what, const char *why, DoneCb cb, void *ud)
{
    Failure f = {0};
    failure_store(&f, err, what, why);
    failure_report(&f, cb, ud);
}
