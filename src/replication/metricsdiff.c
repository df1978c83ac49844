#include "replication/metricsdiff.h"

#include "common/jsonutil.h"

static const char *const lists[] = {"nodes", "edges", "slots"};

/* key -> element of one list (borrowed elements) */
static json_t *by_key(const json_t *arr)
{
    json_t *m = json_object();
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        const char *k = jsonutil_str(x, "key");
        if (k)
            json_object_set(m, k, x);
    }
    return m;
}

static void copy_scalars(json_t *out, const json_t *doc)
{
    const char *k;
    json_t *v;
    json_object_foreach(jsonutil_unconst(doc), k, v) if (!json_is_array(v) && !json_is_object(v))
        json_object_set(out, k, v);
}

json_t *metrics_diff(const json_t *prev, const json_t *next)
{
    json_t *d = json_pack("{s:b, s:{}}", "full", 0, "removed");
    copy_scalars(d, next);
    json_object_set_new(d, "full", json_false());
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        json_t *old = by_key(json_object_get(prev, lists[l]));
        json_t *changed = json_array(), *gone = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(next, lists[l]), i, x)
        {
            const char *k = jsonutil_str(x, "key");
            const json_t *was = k ? json_object_get(old, k) : NULL;
            if (!was || !json_equal(was, x))
                json_array_append(changed, x);
            if (k)
                json_object_del(old, k);
        }
        const char *k;
        json_object_foreach(old, k, x) json_array_append_new(gone, json_string(k));
        json_object_set_new(d, lists[l], changed);
        json_object_set_new(json_object_get(d, "removed"), lists[l], gone);
        json_decref(old);
    }
    return d;
}

json_t *metrics_apply(const json_t *prev, const json_t *diff)
{
    json_t *out = json_object();
    copy_scalars(out, diff);
    json_object_del(out, "full");
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        json_t *m = by_key(json_object_get(prev, lists[l]));
        json_t *order = json_array(); /* keys in prev's order, then the new ones */
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(prev, lists[l]), i, x)
            json_array_append_new(order, json_string(jsonutil_str(x, "key")));
        json_array_foreach(json_object_get(diff, lists[l]), i, x)
        {
            const char *k = jsonutil_str(x, "key");
            if (!k)
                continue;
            if (!json_object_get(m, k))
                json_array_append_new(order, json_string(k));
            json_object_set(m, k, x);
        }
        json_array_foreach(json_object_get(json_object_get(diff, "removed"), lists[l]), i, x)
            json_object_del(m, json_string_value(x));
        json_t *arr = json_array();
        json_array_foreach(order, i, x)
        {
            json_t *e = json_object_get(m, json_string_value(x));
            if (e)
                json_array_append(arr, e);
        }
        json_object_set_new(out, lists[l], arr);
        json_decref(order);
        json_decref(m);
    }
    return out;
}
