#!/usr/bin/env python3
"""Embeds the web UI into the binary: writes a C file with each asset's plain
and gzip bytes, keyed by its path under its folder.

Usage: embed_ui.py OUTPUT.c DEPFILE [--after=FILE] DIR=URLPREFIX...
Every file below each DIR (folders included; hidden files, node_modules and
build files left out) is served at URLPREFIX/<its path under DIR>. DEPFILE
lists the files and folders read, so a file added, changed or removed
rebuilds the table. --after names what must be built first (ignored here).
Files over GZIP_ONLY bytes are kept gzipped only (the server inflates them for
the rare client that does not take gzip): the binary carries them once."""
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
    ".map": "application/json",
    ".woff2": "font/woff2",
}
SKIP_DIRS = {"node_modules", "src", "tests"}
GZIP_ONLY = 32 * 1024
SKIP_FILES = {"meson.build", "package.json", "package-lock.json", "build.mjs", "README.md"}


def c_bytes(data):
    lines = []
    for i in range(0, len(data), 20):
        lines.append("    " + ", ".join(str(b) for b in data[i:i + 20]) + ",")
    return "\n".join(lines) if lines else "    0,"


def walk(root):
    """(relative path, absolute path) of every asset below root; the folders read."""
    files, dirs = [], [root]
    for d, subdirs, names in os.walk(root):
        subdirs[:] = sorted(s for s in subdirs if not s.startswith(".") and s not in SKIP_DIRS)
        dirs.extend(os.path.join(d, s) for s in subdirs)
        for n in sorted(names):
            if n.startswith(".") or n in SKIP_FILES:
                continue
            p = os.path.join(d, n)
            files.append((os.path.relpath(p, root).replace(os.sep, "/"), p))
    return files, dirs


def main():
    out, depfile = sys.argv[1], sys.argv[2]
    specs = [a for a in sys.argv[3:] if not a.startswith("--after=")]
    assets, read = [], []
    for spec in specs:
        root, _, prefix = spec.partition("=")
        files, dirs = walk(root)
        read.extend(dirs)
        for rel, path in files:
            ext = os.path.splitext(rel)[1]
            if ext not in TYPES:
                sys.exit(f"embed_ui.py: no content type for {path}")
            assets.append((prefix.rstrip("/") + "/" + rel, path, TYPES[ext]))
            read.append(path)
    assets.sort()
    parts = ['#include "http/static.h"', "", "#include <stddef.h>", "",
             "extern const StaticAsset ui_assets[];", "extern const size_t ui_assets_count;", ""]
    rows = []
    for n, (url, path, ctype) in enumerate(assets):
        data = open(path, "rb").read()
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        plain = "NULL"
        if len(data) <= GZIP_ONLY:
            parts.append(f"static const unsigned char a{n}[] = {{\n{c_bytes(data)}\n}};")
            plain = f"a{n}"
        parts.append(f"static const unsigned char g{n}[] = {{\n{c_bytes(gz)}\n}};")
        rows.append(f'    {{"{url}", "{ctype}", {plain}, {len(data)}, g{n}, {len(gz)}}},')
    parts.append("const StaticAsset ui_assets[] = {")
    parts.extend(rows)
    parts.append("};")
    parts.append(f"const size_t ui_assets_count = {len(rows)};")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")
    with open(depfile, "w") as f:
        f.write(out.replace(" ", "\\ ") + ": " + " ".join(p.replace(" ", "\\ ") for p in read) + "\n")


if __name__ == "__main__":
    main()
