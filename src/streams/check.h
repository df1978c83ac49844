/*
 * check: the pre-flight of a stream, the I/O half (preflight.h is the pure
 * evaluation). One session to the source and one to the target read what
 * preflight_evaluate needs; when the target role may create subscriptions,
 * the target is made to connect to the source by a CREATE SUBSCRIPTION that
 * is rolled back, in a session that keeps the statement (it carries the
 * source's password) out of the target's log.
 *
 * The result: {"ok","errors","warnings","checks":[...],"publication_exists"}.
 */
#ifndef PGFLEET_CHECK_H
#define PGFLEET_CHECK_H

#include <stdbool.h>

#include "common/failure.h"
#include "model/stream.h"
#include "pg/target.h"

/* s is copied; resume: the checks of a create being finished (names may exist) */
void streamcheck_run(PgTarget *src, PgTarget *tgt, const ReplicationStream *s, bool resume,
                     DoneCb cb, void *ud);

#endif
