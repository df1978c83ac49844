/*
 * guidance: what an alert means, what usually causes it, and what to do, with
 * the exact statement or command for this edge, slot or database (names
 * quoted as PostgreSQL wants them). Shown in notifications and the UI.
 *
 *   {"meaning", "causes": [...], "actions": [{"text", "sql"?, "command"?, "warning"?}]}
 */
#ifndef PGFLEET_GUIDANCE_H
#define PGFLEET_GUIDANCE_H

#include <jansson.h>

#include "alert/rules.h"

/* for an alert {"kind", "labels", ...} (new reference) */
json_t *guidance_for(AlertKind kind, const json_t *labels);

#endif
