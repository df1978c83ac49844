/*
 * uvtimer: the end of a timer whose data is its owner, an object counted by references.
 *
 * A service that polls holds a uv_timer_t with data = the service and one reference for
 * the timer. Freeing the service stops and closes the timer; the timer's reference is
 * dropped only once libuv has closed the handle (the handle lives inside the service).
 */
#ifndef PGFLEET_UVTIMER_H
#define PGFLEET_UVTIMER_H

#include <uv.h>

/* stops and closes t; when it is closed, unref(the data t had) drops the timer's reference */
void uvtimer_close(uv_timer_t *t, void (*unref)(void *owner));

#endif
