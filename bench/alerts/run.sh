#!/usr/bin/env bash
# bench/alerts: CPU per collection of alert evaluation, 100 rules over a 300-database
# snapshot (bench/alerts/bench_alerts.c), with many alerts firing and with a healthy fleet, ROUNDS runs; prints each run and the median
# of the per-run medians. Also 1,000 rules and 2,000 databases, for the large-fleet issue.
#
#   bench/alerts/run.sh [BUILD_DIR]     env: ROUNDS=5 TICKS=300
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
ROUNDS=${ROUNDS:-5} TICKS=${TICKS:-300}
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
for shape in "100 300 firing" "100 300 healthy" "100 2000 healthy" "1000 300 firing"; do
  read -r rules dbs mode <<<"$shape"
  meds=()
  for _ in $(seq 1 "$ROUNDS"); do
    out=$("$BUILD/bench-alerts" "$TICKS" "$dbs" "$rules" "$mode")
    meds+=("$(sed -n 's/.*median \([0-9]*\) us.*/\1/p' <<<"$out")")
    last=$out
  done
  m=$(printf '%s\n' "${meds[@]}" | median)
  echo "$last" | sed -n '1p;3,4p'
  printf '  => %s rules x %s databases (%s): median of %s runs %s us per tick (runs: %s)\n' \
    "$rules" "$dbs" "$mode" "$ROUNDS" "$m" "${meds[*]}" | tee -a "$OUT/alerts.txt"
done
