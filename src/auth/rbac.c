#include "auth/rbac.h"

#include <string.h>

static const char *const role_names[] = {"none", "viewer", "operator", "admin"};

const char *role_name(Role role)
{
    if ((unsigned)role > ROLE_ADMIN)
        return "none";
    return role_names[role];
}

bool role_parse(const char *name, Role *out)
{
    for (unsigned i = ROLE_VIEWER; i <= ROLE_ADMIN; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (Role)i;
            return true;
        }
    }
    return false;
}

bool role_allows(Role have, Role need)
{
    return need == ROLE_NONE || (have != ROLE_NONE && have >= need);
}
