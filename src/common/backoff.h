/*
 * backoff: decorrelated-jitter retry delays (the AWS architecture blog's
 * "decorrelated jitter"; pg_autoctl ConnectionRetryPolicy).
 *
 *   next = min(cap, random_between(base, previous * 3))
 */
#ifndef PGFLEET_BACKOFF_H
#define PGFLEET_BACKOFF_H

#include <stdint.h>

typedef struct Backoff {
    uint64_t base_ms;
    uint64_t cap_ms;
    uint64_t last_ms; /* 0 before the first delay */
    unsigned attempts;
} Backoff;

void backoff_init(Backoff *b, uint64_t base_ms, uint64_t cap_ms);
/* the next delay, always within [base_ms, cap_ms] */
uint64_t backoff_next(Backoff *b);
void backoff_reset(Backoff *b);

#endif
