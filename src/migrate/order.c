#include "migrate/order.h"

#include <stdio.h>
#include <string.h>

#include "common/jsonutil.h"
#include "pg/discover.h"

static void canon(const char *host, int port, const char *db, char *buf, size_t len)
{
    if (!host || !strcmp(host, "localhost") || !strcmp(host, "::1"))
        host = "127.0.0.1";
    snprintf(buf, len, "%s:%d/%s", host, port, db ? db : "postgres");
}

int order_publisher_of(const OrderNode *nodes, int n, const char *conninfo)
{
    PgConnParams p;
    void *owner = NULL;
    char err[200];
    if (!conninfo || !discover_parse_conninfo(conninfo, &p, &owner, err, sizeof err))
        return -1;
    char want[400], have[400];
    canon(p.host, p.port, p.dbname, want, sizeof want);
    discover_free_conninfo(owner);
    for (int i = 0; i < n; i++) {
        canon(nodes[i].host, nodes[i].port, nodes[i].dbname, have, sizeof have);
        if (!strcmp(want, have))
            return i;
    }
    return -1;
}

int order_publisher(const OrderNode *nodes, int n, const json_t *sub, bool *by_slot)
{
    if (by_slot)
        *by_slot = false;
    const char *conninfo = jsonutil_str(sub, "conninfo"), *slot = jsonutil_str(sub, "slot");
    if (conninfo)
        return order_publisher_of(nodes, n, conninfo);
    if (!slot)
        return -1;
    int found = -1;
    for (int i = 0; i < n; i++) {
        size_t k;
        const json_t *s;
        json_array_foreach(nodes[i].slots, k, s)
        {
            if (strcmp(json_string_value(s), slot) != 0)
                continue;
            if (found >= 0) /* the same name on two servers: cannot tell */
                return -1;
            found = i;
        }
    }
    if (by_slot && found >= 0)
        *by_slot = true;
    return found;
}

static int position(const int *order, int n, int v)
{
    for (int j = 0; j < n; j++)
        if (order[j] == v)
            return j;
    return -1;
}

static void note(json_t *plan, const OrderNode *sub, const OrderNode *pub, const char *name,
                 bool by_slot, bool drops)
{
    char buf[900];
    snprintf(buf, sizeof buf, "%s subscribes to %s (subscription %s%s): %s runs %s", sub->label,
             pub->label, name ? name : "?",
             by_slot ? ", known by its slot: this role may not read its conninfo there" : "",
             sub->label,
             drops ? "after its publisher (the script drops or renames things)"
                   : "first: logical replication does not carry DDL, so the subscriber must have "
                     "the new shape before the publisher sends it");
    json_array_append_new(plan, json_string(buf));
}

/* moves one node to satisfy one relation of node i; true when something moved */
static bool settle(const OrderNode *nodes, int n, int i, bool drops, int *order)
{
    size_t k;
    const json_t *row;
    json_array_foreach(nodes[i].subs, k, row)
    {
        int pub = order_publisher(nodes, n, row, NULL);
        if (pub < 0 || pub == i)
            continue;
        int first = drops ? pub : i, second = drops ? i : pub;
        int pf = position(order, n, first), ps = position(order, n, second);
        if (pf > ps) { /* move first to just before second */
            int v = order[pf];
            memmove(&order[ps + 1], &order[ps], (size_t)(pf - ps) * sizeof(int));
            order[ps] = v;
            return true;
        }
    }
    return false;
}

void order_targets(const OrderNode *nodes, int n, bool drops, int *order, json_t *plan)
{
    /* every relation is said once, in the order the targets were given */
    for (int i = 0; i < n; i++) {
        order[i] = i;
        size_t k;
        const json_t *row;
        json_array_foreach(nodes[i].subs, k, row)
        {
            bool by_slot;
            int pub = order_publisher(nodes, n, row, &by_slot);
            if (pub >= 0 && pub != i)
                note(plan, &nodes[i], &nodes[pub], jsonutil_str(row, "name"), by_slot, drops);
        }
    }
    /* a cycle (two targets subscribing to each other) stops after n*n moves */
    for (int round = 0; round < n * n; round++) {
        bool moved = false;
        for (int i = 0; i < n && !moved; i++)
            moved = settle(nodes, n, i, drops, order);
        if (!moved)
            break;
    }
}

bool order_script_drops(const char *const *statements, int n)
{
    for (int i = 0; i < n; i++) {
        char head[64];
        snprintf(head, sizeof head, "%.63s", statements[i]);
        for (char *c = head; *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        if (!strncmp(head, "DROP", 4) || (strstr(head, "ALTER TABLE") && strstr(head, " DROP ")) ||
            strstr(head, " RENAME "))
            return true;
    }
    return false;
}
