/*
 * userdoc: the users secret, {"users": [{"username", "password_hash", "role",
 * "disabled"?}]}, as the daemon reads it and `pgfleet user` edits it.
 *
 * The secret is input like any other: a daemon reading it keeps the entries
 * that are valid and names the others (userdoc_parse with lenient), so one
 * bad line does not lock everybody out; the CLI refuses to edit a document
 * with any problem (strict), so it never drops what it cannot read.
 * User names compare without regard to case. Hashes are argon2id strings
 * (auth/password.h).
 */
#ifndef PGFLEET_USERDOC_H
#define PGFLEET_USERDOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "auth/rbac.h"
#include "model/validate.h"

#define USERNAME_MAX 128
#define USERDOC_MAX  10000

typedef struct User {
    char *username;
    char *password_hash;
    Role role;
    bool disabled;
} User;

typedef struct UserDoc {
    User *users;
    size_t n;
} UserDoc;

/*
 * Parses the secret's text. Strict: any problem fails the whole document.
 * Lenient: invalid entries are left out and reported in v, and only a document
 * that is not {"users": [...]} fails. d is empty (and freeable) on failure.
 */
bool userdoc_parse(UserDoc *d, const char *text, bool lenient, Validation *v)
    __attribute__((warn_unused_result));
/* the secret's text (new string) */
char *userdoc_dump(const UserDoc *d);
void userdoc_free(UserDoc *d);

const User *userdoc_find(const UserDoc *d, const char *username);
/* adds a user (strings copied); false when the name is taken */
bool userdoc_add(UserDoc *d, const char *username, const char *hash, Role role);
/* false when there is no such user */
bool userdoc_remove(UserDoc *d, const char *username);
/* the user to change in place, or NULL */
User *userdoc_get(UserDoc *d, const char *username);

/* a name userdoc accepts: 1-128 of [A-Za-z0-9._@+-], starting with a letter or digit */
bool username_valid(const char *name);

#endif
