#include "common/uvtimer.h"

#include <stdlib.h>

#include "common/xalloc.h"

typedef struct Closing {
    void *owner;
    void (*unref)(void *owner);
} Closing;

static void closed(uv_handle_t *h)
{
    Closing *c = h->data;
    c->unref(c->owner);
    free(c);
}

void uvtimer_close(uv_timer_t *t, void (*unref)(void *owner))
{
    uv_timer_stop(t);
    Closing *c = xmalloc(sizeof *c);
    c->owner = t->data;
    c->unref = unref;
    t->data = c; /* a closing handle runs no timer callback: only closed() reads it now */
    uv_close((uv_handle_t *)t, closed);
}
