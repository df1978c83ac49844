#!/usr/bin/env bash
# `make lint`: formatting (clang-format, .clang-format) and static analysis (cppcheck).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
rc=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/unit/*.h')
echo "== clang-format"
if ! clang-format --dry-run -Werror $files; then
  echo "formatting differs: run 'make format'"; rc=1
fi
echo "== layers (includes point down only)"
python3 scripts/check_layers.py || rc=1
echo "== api/ holds handlers only (no SQL, no timers)"
if grep -l 'PQ[a-zA-Z]*(\|pgconn_\|uv_timer' src/api/*.c; then
  echo "api/ must not run SQL or own timers: move that into a service"; rc=1
fi
echo "== cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
  --inline-suppr --suppress=missingIncludeSystem --suppress=unknownMacro -I src -I build $files || rc=1
[[ $rc -eq 0 ]] && echo "lint: clean"
exit $rc
