#!/usr/bin/env python3
"""The include graph of src/ points down the layers only (DESIGN.md, Architecture).

Each folder may include its own headers and those of the folders listed for it.
Services (registry, replication, streams, migrate, alert, auth, cluster) never
include each other's headers except the registry's, the interface every
service is built on. Exits 1 naming each include that points up or sideways."""
import re
import sys
from pathlib import Path

BASE = ["common"]
ADAPTERS = BASE + ["model", "store", "httpc", "aws", "pg", "logs"]
SERVICES = ["registry", "replication", "streams", "migrate", "alert", "auth", "cluster"]
ALLOWED = {
    "common": [],
    "model": BASE,
    "store": BASE,
    "httpc": BASE,
    "aws": BASE + ["httpc"],
    "pg": BASE + ["model", "aws"],
    "logs": BASE + ["aws"],
    "registry": ADAPTERS,
    "replication": ADAPTERS + ["registry"],
    "streams": ADAPTERS + ["registry"],
    "migrate": ADAPTERS + ["registry"],
    "alert": ADAPTERS + ["registry"],
    "auth": ADAPTERS + ["registry"],
    "cluster": ADAPTERS + ["registry"],
    "http": BASE + ["model", "auth"],
    "api": ADAPTERS + SERVICES + ["http"],
    "app": ADAPTERS + SERVICES + ["http", "api"],
    "cli": ADAPTERS + SERVICES + ["http", "api", "app"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    root = Path(__file__).resolve().parents[1] / "src"
    bad = []
    for f in sorted(root.rglob("*.[ch]")):
        rel = f.relative_to(root)
        layer = rel.parts[0] if len(rel.parts) > 1 else "cli"  # src/main.c is the CLI's
        if layer not in ALLOWED:
            bad.append(f"src/{rel}: folder '{layer}' has no place in the layers "
                       "(add it to scripts/check_layers.py)")
            continue
        for inc in INCLUDE.findall(f.read_text(errors="replace")):
            if "/" not in inc:
                continue  # generated headers (pgfleet_version.h)
            target = inc.split("/")[0]
            if target != layer and target not in ALLOWED[layer]:
                bad.append(f"src/{rel}: includes {inc}: '{layer}' may not include '{target}'")
    for b in bad:
        print(b)
    if bad:
        print(f"layers: {len(bad)} include(s) point up or sideways (DESIGN.md, Architecture)")
        return 1
    print("layers: every include points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
