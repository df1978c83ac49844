#include "pg/credpolicy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/xalloc.h"

#define MAX_PATTERNS 32

struct CredPolicy {
    char *env[MAX_PATTERNS];
    int nenv;
    char *secrets[MAX_PATTERNS];
    int nsecrets;
    char *env_text, *secrets_text; /* as configured, for messages */
};

static int split(const char *list, char **out)
{
    int n = 0;
    char *copy = xstrdup(list);
    for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t && n < MAX_PATTERNS;
         t = strtok_r(NULL, ", ", &save))
        out[n++] = xstrdup(t);
    free(copy);
    return n;
}

CredPolicy *credpolicy_new(const char *env_allow, const char *secret_prefixes)
{
    CredPolicy *p = xcalloc(1, sizeof *p);
    p->env_text = xstrdup(env_allow ? env_allow : "PGFLEET_DB_*");
    p->secrets_text = xstrdup(secret_prefixes ? secret_prefixes : "pgfleet/");
    p->nenv = split(p->env_text, p->env);
    p->nsecrets = split(p->secrets_text, p->secrets);
    return p;
}

void credpolicy_free(CredPolicy *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nenv; i++)
        free(p->env[i]);
    for (int i = 0; i < p->nsecrets; i++)
        free(p->secrets[i]);
    free(p->env_text);
    free(p->secrets_text);
    free(p);
}

static bool pattern_match(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, name, n - 1) == 0;
    return strcmp(pattern, name) == 0;
}

/* pgfleet's own settings and the AWS credentials are never a database's password */
static bool forbidden_env(const char *name)
{
    if (!strncmp(name, "AWS_", 4) || !strcmp(name, "AUTH_KEY"))
        return true;
    for (int k = 0; k < CFG_COUNT; k++)
        if (!strcmp(config_def((ConfigKey)k)->env, name))
            return true;
    return false;
}

bool credpolicy_env_ok(const CredPolicy *p, const char *name, char *why, size_t len)
{
    if (!name || forbidden_env(name)) {
        snprintf(why, len,
                 "may not name %s: AWS credentials, AUTH_KEY and pgfleet's settings are never "
                 "a database's password",
                 name ? name : "(none)");
        return false;
    }
    for (int i = 0; i < p->nenv; i++)
        if (pattern_match(p->env[i], name))
            return true;
    snprintf(why, len, "may only name variables matching %s (PGFLEET_CREDENTIAL_ENV_ALLOW)",
             p->env_text);
    return false;
}

bool credpolicy_secret_ok(const CredPolicy *p, const char *secret_id, char *why, size_t len)
{
    const char *name = secret_id ? secret_id : "";
    if (!strncmp(name, "arn:", 4)) { /* arn:aws:secretsmanager:region:account:secret:NAME-AbCdEf (6
                                        random characters) */
        const char *s = strstr(name, ":secret:");
        name = s ? s + 8 : "";
    }
    for (int i = 0; i < p->nsecrets; i++)
        if (*p->secrets[i] && !strncmp(name, p->secrets[i], strlen(p->secrets[i])) &&
            !strstr(name, ".."))
            return true;
    snprintf(why, len, "may only name secrets under %s (PGFLEET_SECRETS_PREFIX)", p->secrets_text);
    return false;
}
