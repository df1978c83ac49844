/*
 * rbac: roles and what each may do.
 *
 * Roles are ordered: viewer < operator < admin. Every API route declares the
 * least role it needs; a principal with that role or a higher one may call it.
 */
#ifndef PGFLEET_RBAC_H
#define PGFLEET_RBAC_H

#include <stdbool.h>

typedef enum Role {
    ROLE_NONE = 0, /* not authenticated; only public routes */
    ROLE_VIEWER,
    ROLE_OPERATOR,
    ROLE_ADMIN,
} Role;

const char *role_name(Role role);
bool role_parse(const char *name, Role *out) __attribute__((warn_unused_result));
/* true when a principal holding `have` may use a route needing `need` */
bool role_allows(Role have, Role need);

#endif
