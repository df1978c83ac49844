#include "auth/users.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "common/log.h"
#include "common/uvtimer.h"
#include "common/xalloc.h"

struct Users {
    uv_loop_t *loop;
    SecretsCache *secrets;
    char *secret_id;
    UserDoc doc;
    char *version; /* of doc */
    UsersState state;
    uint64_t fresh_at; /* uv_now of the last forced re-read */
    uv_timer_t timer;
    int refs; /* the owner, the timer, each read in flight */
    bool closing;
};

typedef struct Read {
    Users *u;
    char *username; /* NULL: a refresh with nobody waiting */
    UsersCb cb;
    void *ud;
} Read;

static void unref(void *owner)
{
    Users *u = owner;
    if (--u->refs > 0)
        return;
    userdoc_free(&u->doc);
    free(u->version);
    free(u->secret_id);
    free(u);
}

static bool absent(const AwsResult *r)
{
    const char *c = r->code ? r->code : "";
    return strstr(c, "ResourceNotFound") || !strcmp(c, "config") || !strcmp(c, "credentials");
}

static void adopt(Users *u, const json_t *secret)
{
    const char *version = jsonutil_str(secret, "version_id");
    if (u->state == USERS_PRESENT && version && u->version && !strcmp(version, u->version))
        return;
    UserDoc doc;
    Validation v;
    validation_init(&v);
    if (!userdoc_parse(&doc, jsonutil_str(secret, "value") ? jsonutil_str(secret, "value") : "",
                       true, &v)) {
        log_error("users secret %s: %s; password sign-in keeps the last good list", u->secret_id,
                  v.count ? v.errors[0].message : "unreadable");
        if (u->state == USERS_UNREAD)
            u->state = USERS_FAILING;
        return;
    }
    for (size_t i = 0; i < v.count; i++)
        log_warn("users secret %s: %s %s: entry left out", u->secret_id, v.errors[i].field,
                 v.errors[i].message);
    if (u->state == USERS_PRESENT)
        log_info("users secret %s: read %zu users (version %s)", u->secret_id, doc.n,
                 version ? version : "?");
    userdoc_free(&u->doc);
    u->doc = doc;
    free(u->version);
    u->version = version ? xstrdup(version) : NULL;
    u->state = USERS_PRESENT;
}

static void read_done(void *ud, const json_t *secret, const AwsResult *r)
{
    Read *rd = ud;
    Users *u = rd->u;
    if (!u->closing) {
        if (r->ok) {
            adopt(u, secret);
        } else if (absent(r)) {
            if (u->state != USERS_ABSENT && u->state != USERS_UNREAD)
                log_warn("users secret %s is gone (%s): password sign-in is off", u->secret_id,
                         r->code);
            userdoc_free(&u->doc);
            u->state = USERS_ABSENT;
        } else {
            log_warn("users secret %s: %s: %s", u->secret_id, r->code ? r->code : "error",
                     r->message ? r->message : "");
            if (u->state == USERS_UNREAD)
                u->state = USERS_FAILING;
        }
    }
    if (rd->cb)
        rd->cb(rd->ud, u->closing ? NULL : users_peek(u, rd->username));
    free(rd->username);
    free(rd);
    unref(u);
}

static void read_secret(Users *u, const char *username, UsersCb cb, void *ud)
{
    Read *rd = xcalloc(1, sizeof *rd);
    rd->u = u;
    rd->username = username ? xstrdup(username) : NULL;
    rd->cb = cb;
    rd->ud = ud;
    u->refs++;
    secrets_get(u->secrets, u->secret_id, read_done, rd);
}

static void tick(uv_timer_t *t)
{
    read_secret(t->data, NULL, NULL, NULL);
}

Users *users_new(uv_loop_t *loop, SecretsCache *secrets, const char *secret_id, long ttl_seconds)
{
    Users *u = xcalloc(1, sizeof *u);
    u->loop = loop;
    u->secrets = secrets;
    u->secret_id = xstrdup(secret_id);
    u->refs = 2;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    uint64_t ms = (uint64_t)(ttl_seconds > 0 ? ttl_seconds : 60) * 1000;
    uv_timer_start(&u->timer, tick, 0, ms);
    return u;
}

void users_free(Users *u)
{
    if (!u)
        return;
    u->closing = true;
    uvtimer_close(&u->timer, unref);
    unref(u);
}

void users_lookup(Users *u, const char *username, bool fresh, UsersCb cb, void *ud)
{
    uint64_t now = uv_now(u->loop);
    if (fresh && !users_peek(u, username) &&
        (u->fresh_at == 0 || now - u->fresh_at >= USERS_FRESH_MIN_MS)) {
        u->fresh_at = now;
        secrets_invalidate(u->secrets, u->secret_id);
    }
    read_secret(u, username, cb, ud);
}

const User *users_peek(const Users *u, const char *username)
{
    return u->state == USERS_PRESENT ? userdoc_find(&u->doc, username) : NULL;
}

UsersState users_state(const Users *u)
{
    return u->state;
}

const char *users_secret_id(const Users *u)
{
    return u->secret_id;
}
