#!/usr/bin/env python3
"""Embeds the web UI into the binary: writes a C file with each asset's plain
and gzip bytes. Usage: embed_ui.py OUTPUT.c FILE..."""
import gzip
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".sql": "text/plain; charset=utf-8",
}


def c_bytes(data):
    lines = []
    for i in range(0, len(data), 20):
        lines.append("    " + ", ".join(str(b) for b in data[i:i + 20]) + ",")
    return "\n".join(lines) if lines else "    0,"


def main():
    out, files = sys.argv[1], sys.argv[2:]
    parts = ['#include "http/static.h"', ""]
    rows = []
    for n, path in enumerate(sorted(files, key=os.path.basename)):
        name = os.path.basename(path)
        if os.sep + "samples" + os.sep in os.path.abspath(path):
            name = "samples/" + name  # sample migrations, served as /samples/NAME
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit(f"embed_ui.py: no content type for {name}")
        data = open(path, "rb").read()
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        parts.append(f"static const unsigned char a{n}[] = {{\n{c_bytes(data)}\n}};")
        parts.append(f"static const unsigned char g{n}[] = {{\n{c_bytes(gz)}\n}};")
        rows.append(f'    {{"/{name}", "{TYPES[ext]}", a{n}, {len(data)}, g{n}, {len(gz)}}},')
    parts.append("const StaticAsset ui_assets[] = {")
    parts.extend(rows)
    parts.append("};")
    parts.append(f"const size_t ui_assets_count = {len(rows)};")
    # declarations keep -Wmissing-prototypes quiet
    parts.insert(1, "extern const StaticAsset ui_assets[];\nextern const size_t ui_assets_count;")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
