/*
 * publish: where services send live events (topic + JSON data).
 *
 * Services publish through this interface and never know who listens: the
 * composition root (app/) points it at the WebSocket hub, and the cluster
 * layer can put Redis in between so clients of every instance hear it.
 */
#ifndef PGFLEET_PUBLISH_H
#define PGFLEET_PUBLISH_H

#include <jansson.h>

typedef struct Publisher {
    /* data is stolen */
    void (*publish)(void *ud, const char *topic, json_t *data);
    void *ud;
} Publisher;

/* sends data (stolen) on topic; a Publisher without a function drops it */
static inline void publish(const Publisher *p, const char *topic, json_t *data)
{
    if (p && p->publish)
        p->publish(p->ud, topic, data);
    else
        json_decref(data);
}

#endif
