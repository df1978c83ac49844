#!/usr/bin/env bash
# scripts/build.sh DIR [meson options]: configures DIR once, then builds it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=$1; shift
cd "$ROOT"
if [[ ! -f "$dir/build.ninja" ]]; then
  meson setup "$dir" "$@" >"/tmp/pgfleet-meson-$(basename "$dir").log" 2>&1 ||
    { cat "/tmp/pgfleet-meson-$(basename "$dir").log" >&2; exit 1; }
fi
ninja -C "$dir" --quiet 2>&1 | grep -v '^ninja: Entering\|^ninja: no work' || true
test "${PIPESTATUS[0]}" -eq 0
