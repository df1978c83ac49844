/*
 * origin: which Host and Origin headers the daemon accepts.
 *
 * Host: a browser on a page of evil.example whose name was rebound to this
 * daemon's address sends "Host: evil.example"; refusing names the daemon
 * does not serve stops it reading any answer. Accepted: no Host at all
 * (not a browser), an IP literal (a rebinding needs a name), "localhost",
 * the host of PGFLEET_PUBLIC_URL, and the hosts of PGFLEET_ALLOWED_ORIGINS.
 *
 * Origin: a state-changing request or a WebSocket upgrade that carries an
 * Origin must come from the daemon's own origin (the Origin's host[:port]
 * is the Host header the request came with), from PGFLEET_PUBLIC_URL's
 * origin, or from one in PGFLEET_ALLOWED_ORIGINS. "null" (sandboxed frames,
 * file: pages) is refused. No Origin: not a browser's cross-site request.
 *
 * Pure: unit-tested.
 */
#ifndef PGFLEET_ORIGIN_H
#define PGFLEET_ORIGIN_H

#include <stdbool.h>

typedef struct OriginPolicy OriginPolicy;

/* public_url and allowed_origins (comma-separated) may be NULL */
OriginPolicy *origin_policy_new(const char *public_url, const char *allowed_origins);
void origin_policy_free(OriginPolicy *p);

/* host_header: the Host header's value, or NULL */
bool origin_host_allowed(const OriginPolicy *p, const char *host_header);
/* origin: the Origin header's value, or NULL; host_header as received */
bool origin_allowed(const OriginPolicy *p, const char *origin, const char *host_header);

#endif
