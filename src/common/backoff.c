#include "common/backoff.h"

#include <sodium.h>

void backoff_init(Backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->last_ms = 0;
    b->attempts = 0;
}

uint64_t backoff_next(Backoff *b)
{
    uint64_t prev = b->last_ms ? b->last_ms : b->base_ms;
    uint64_t hi = prev * 3;
    if (hi > b->cap_ms)
        hi = b->cap_ms;
    uint64_t span = hi > b->base_ms ? hi - b->base_ms : 0;
    uint64_t next = b->base_ms;
    if (span)
        next += randombytes_uniform((uint32_t)(span > UINT32_MAX ? UINT32_MAX : span) + 1);
    b->last_ms = next;
    b->attempts++;
    return next;
}

void backoff_reset(Backoff *b)
{
    b->last_ms = 0;
    b->attempts = 0;
}
