#include "auth/userdoc.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/password.h"
#include "common/jsonutil.h"
#include "common/xalloc.h"

static const char *const role_choices[] = {"viewer", "operator", "admin", NULL};
static const char *const user_fields[] = {"username", "password_hash", "role", "disabled", NULL};

bool username_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= USERNAME_MAX && validate_string_rule(name, STR_USERNAME);
}

static void user_free(User *u)
{
    free(u->username);
    free(u->password_hash);
    memset(u, 0, sizeof *u);
}

void userdoc_free(UserDoc *d)
{
    for (size_t i = 0; i < d->n; i++)
        user_free(&d->users[i]);
    free(d->users);
    d->users = NULL;
    d->n = 0;
}

static ptrdiff_t index_of(const UserDoc *d, const char *username)
{
    for (size_t i = 0; username && i < d->n; i++)
        if (strcasecmp(d->users[i].username, username) == 0)
            return (ptrdiff_t)i;
    return -1;
}

const User *userdoc_find(const UserDoc *d, const char *username)
{
    ptrdiff_t i = index_of(d, username);
    return i < 0 ? NULL : &d->users[i];
}

User *userdoc_get(UserDoc *d, const char *username)
{
    ptrdiff_t i = index_of(d, username);
    return i < 0 ? NULL : &d->users[i];
}

static void append(UserDoc *d, User *u)
{
    d->users = xrealloc(d->users, (d->n + 1) * sizeof *d->users);
    d->users[d->n++] = *u;
}

/* one entry into u; false (with the reasons in v) when it is not valid */
static bool parse_user(const json_t *e, const char *path, const UserDoc *sofar, User *u,
                       Validation *v)
{
    size_t before = v->count + v->dropped;
    memset(u, 0, sizeof *u);
    if (!json_is_object(e)) {
        validation_add(v, NULL, path, "type", "must be an object");
        return false;
    }
    v_no_unknown(v, e, path, user_fields);
    if (v_string(v, e, path, "username", true, STR_USERNAME, 1, USERNAME_MAX, &u->username) &&
        userdoc_find(sofar, u->username))
        validation_add(v, path, "username", "distinct", "'%s' appears more than once", u->username);
    if (v_string(v, e, path, "password_hash", true, STR_ANY, 1, 512, &u->password_hash) &&
        !password_hash_valid(u->password_hash))
        validation_add(v, path, "password_hash", "pattern",
                       "must be an argon2id hash ($argon2id$...) as `pgfleet user add` makes");
    int role = 0;
    if (v_enum(v, e, path, "role", true, role_choices, &role))
        u->role = (Role)(ROLE_VIEWER + role);
    v_bool(v, e, path, "disabled", false, &u->disabled);
    if (v->count + v->dropped == before)
        return true;
    user_free(u);
    return false;
}

bool userdoc_parse(UserDoc *d, const char *text, bool lenient, Validation *v)
{
    memset(d, 0, sizeof *d);
    char err[200];
    json_t *doc = jsonutil_parse(text, strlen(text), err, sizeof err);
    if (!doc) {
        validation_add(v, NULL, "users", "type", "the secret is not JSON: %s", err);
        return false;
    }
    const json_t *arr = json_object_get(doc, "users");
    if (!json_is_object(doc) || !json_is_array(arr)) {
        validation_add(v, NULL, "users", "required", "the secret must be {\"users\": [...]}");
        json_decref(doc);
        return false;
    }
    if (json_array_size(arr) > USERDOC_MAX) {
        validation_add(v, NULL, "users", "max_length", "more than %d users", USERDOC_MAX);
        json_decref(doc);
        return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[32];
        snprintf(path, sizeof path, "users[%zu]", i);
        User u;
        if (parse_user(e, path, d, &u, v))
            append(d, &u);
    }
    json_decref(doc);
    if (!lenient && !validation_ok(v)) {
        userdoc_free(d);
        return false;
    }
    return true;
}

char *userdoc_dump(const UserDoc *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < d->n; i++) {
        const User *u = &d->users[i];
        json_t *o = json_pack("{s:s, s:s, s:s}", "username", u->username, "password_hash",
                              u->password_hash, "role", role_name(u->role));
        if (u->disabled)
            json_object_set_new(o, "disabled", json_true());
        json_array_append_new(arr, o);
    }
    json_t *doc = json_pack("{s:o}", "users", arr);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return s;
}

bool userdoc_add(UserDoc *d, const char *username, const char *hash, Role role)
{
    if (userdoc_find(d, username))
        return false;
    User u = {.username = xstrdup(username), .password_hash = xstrdup(hash), .role = role};
    append(d, &u);
    return true;
}

bool userdoc_remove(UserDoc *d, const char *username)
{
    User *u = userdoc_get(d, username);
    if (!u)
        return false;
    size_t i = (size_t)(u - d->users);
    user_free(u);
    memmove(&d->users[i], &d->users[i + 1], (d->n - i - 1) * sizeof *d->users);
    d->n--;
    return true;
}
