/*
 * validate: field-by-field validation of JSON input into model structs.
 *
 * A Validation collects every problem found (field path, rule, message), so a
 * user fixing a request sees them all at once. Field paths are dotted JSON
 * paths ("credentials.secret_id", "tables[2]"). Rules are stable words users
 * and tests can match: required, type, min_length, max_length, pattern, range,
 * enum, unknown_field, requires_tls, distinct, schema_version.
 */
#ifndef PGFLEET_VALIDATE_H
#define PGFLEET_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/failure.h"

#define VALIDATION_MAX 32

typedef struct ValidationError {
    char field[128];
    char rule[32];
    char message[256];
} ValidationError;

typedef struct Validation {
    ValidationError errors[VALIDATION_MAX];
    size_t count;
    size_t dropped; /* errors beyond VALIDATION_MAX */
} Validation;

/* how a string field is checked */
typedef enum StrRule {
    STR_ANY,       /* printable, no control characters */
    STR_TEXT,      /* free text (messages): also newlines and tabs    */
    STR_IDENT,     /* [A-Za-z0-9][A-Za-z0-9_.-]*   (ids)            */
    STR_HOST,      /* host name, IPv4 or IPv6 literal                */
    STR_PG_NAME,   /* PostgreSQL name: no NUL/control chars, <= 63 B */
    STR_SLOT,      /* replication slot: [a-z0-9_]                    */
    STR_ENV_NAME,  /* [A-Za-z_][A-Za-z0-9_]*                          */
    STR_HEX64,     /* sha256 hex                                     */
    STR_TIMESTAMP, /* RFC 3339, UTC: 2026-11-26T14:55:01Z            */
    STR_USERNAME,  /* [A-Za-z0-9][A-Za-z0-9._@+-]*  (user names, e-mail) */
} StrRule;

void validation_init(Validation *v);
bool validation_ok(const Validation *v);
void validation_add(Validation *v, const char *prefix, const char *field, const char *rule,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "prefix.key" or "key" into buf */
const char *validation_path(char *buf, size_t len, const char *prefix, const char *key);

/*
 * Each reader looks up key in obj. A missing or null member is an error only
 * when required (rule "required"); then *out keeps its default. Each returns
 * true when the member was present and valid.
 */
bool v_string(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
              StrRule rule, size_t min_len, size_t max_len, char **out);
bool v_int(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
           long long min, long long max, long long *out);
bool v_bool(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
            bool *out);
/* choices is NULL-terminated; *out is the index */
bool v_enum(Validation *v, const json_t *obj, const char *prefix, const char *key, bool required,
            const char *const *choices, int *out);
/* an array of strings, each checked with rule and max_len; at most max_items */
bool v_string_array(Validation *v, const json_t *obj, const char *prefix, const char *key,
                    bool required, StrRule rule, size_t max_len, size_t max_items, char ***out,
                    size_t *count);
/* reports every member of obj not named in allowed (NULL-terminated) */
void v_no_unknown(Validation *v, const json_t *obj, const char *prefix, const char *const *allowed);
/* checks the member is an object (when present); returns it or NULL */
const json_t *v_object(Validation *v, const json_t *obj, const char *prefix, const char *key,
                       bool required);

/* the rule alone, for tests and for code checking values it built itself */
bool validate_string_rule(const char *s, StrRule rule);

/* {"field":..,"rule":..,"message":..} for each error */
json_t *validation_to_json(const Validation *v);
/* a 422 failure carrying every error as detail "fields" */
void validation_to_failure(const Validation *v, Failure *f);
/* validation_to_failure, then the failure to cb */
void validation_report(const Validation *v, DoneCb cb, void *ud);
/* "field: message" of the first error, or "" */
const char *validation_first_message(const Validation *v, char *buf, size_t len);

void string_array_free(char **items, size_t count);
char **string_array_dup(char *const *items, size_t count);

/* the one id generator: a new random id such as "db_9f1c2e4a7b3d5e6f" (64 random bits) */
char *model_new_id(const char *kind_prefix);
/*
 * The part every model shares: obj must be an object; schema_version at most
 * current; no members outside fields; the id member (id_key) validated, or
 * generated with id_prefix when absent. Returns false when obj is not an object.
 */
bool v_model_header(Validation *v, const json_t *obj, int current, const char *const *fields,
                    const char *id_key, const char *id_prefix, char **id);
/* schema_version in a stored record: absent or 1..current; rule "schema_version" */
bool v_schema_version(Validation *v, const json_t *obj, int current);
#endif
