/*
 * static: the web UI, embedded into the binary at build time.
 *
 * scripts/embed_ui.py turns the files under ui/ into a C table (plain and
 * gzip bytes of each); no file is read at run time and no CDN is used.
 */
#ifndef PGFLEET_STATIC_H
#define PGFLEET_STATIC_H

#include <stddef.h>

typedef struct StaticAsset {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data; /* NULL: kept gzipped only (large bundles) */
    size_t len;
    const unsigned char *gz;
    size_t gzlen;
} StaticAsset;

/* "/" is "/index.html"; NULL when there is no such asset */
const StaticAsset *static_lookup(const char *path);
/* the asset's plain bytes: its data, or (kept gzipped only) inflated into a new buffer the
 * caller frees when it is not a->data; NULL when it cannot be inflated */
char *static_plain(const StaticAsset *a);

#endif
