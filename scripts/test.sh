#!/usr/bin/env bash
# `make test`: builds pgfleet twice (AddressSanitizer+UBSan for the tests, plain
# for valgrind), runs the C unit tests and the pytest integration tests against
# real Redis servers, and ends with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PLAIN=build ASAN=build-asan
scripts/build.sh $PLAIN -Dtests=true || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
scripts/build.sh $ASAN -Dsanitize=true -Dtests=true || { echo "sanitizer build failed"; echo "0 passed, 1 failed"; exit 1; }

# tests never reach the EC2 metadata address: a test that wants IMDS points
# AWS_EC2_METADATA_SERVICE_ENDPOINT at its own local server
export AWS_EC2_METADATA_DISABLED=true
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"

passed=0 failed=0 skipped=0
echo "== unit tests (cmocka, ASan+UBSan)"
for t in "$ASAN"/tests/unit/test_*; do
  [[ -x "$t" && -f "$t" ]] || continue
  out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1); rc=$?
  p=$(grep -c '^ok ' <<<"$out")
  s=$(grep -c '^\(not \)\?ok [0-9]* # SKIP' <<<"$out")
  f=$(($(grep -c '^not ok ' <<<"$out") - $(grep -c '^not ok [0-9]* # SKIP' <<<"$out")))
  if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi   # crashed or leaked
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [[ $f -gt 0 ]]; then echo "$out" | sed 's/^/  /'; fi
  grep '^# SKIP' <<<"$out" | sed 's/^/  /' || true
  printf '  %-16s %3d passed %3d failed %3d skipped\n' "$(basename "$t")" "$p" "$f" "$s"
done

echo "== integration tests (pytest, real Redis, the ASan daemon)"
junit="$ASAN/pytest-junit.xml"
PGFLEET_BIN="$ROOT/$ASAN/pgfleet" PGFLEET_BIN_PLAIN="$ROOT/$PLAIN/pgfleet" \
  "$ROOT/.venv/bin/pytest" -q -p no:cacheprovider --junitxml="$junit" tests/integration "$@"
prc=$?
read -r ip if is < <("$ROOT/.venv/bin/python" - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1, 0); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f, sk)
PY
)
if [[ $prc -ne 0 && $if -eq 0 ]]; then if=1; fi   # pytest itself failed (collection, exit 5 ...)
passed=$((passed + ip)); failed=$((failed + if)); skipped=$((skipped + is))

line="$passed passed, $failed failed"
[[ $skipped -gt 0 ]] && line="$line, $skipped skipped"
echo "$line"
[[ $failed -eq 0 ]]
