#!/usr/bin/env bash
# bench/migrate: `pgfleet migrate` of one script (a table, an index, 1000 rows)
# across 100 databases of one server: one target at a time, 4 at a time, and
# atomic (two-phase commit), against, in the same run, the loop a DBA would
# write (`psql -1 -f script.sql` per database). Also a re-run, where every
# target is skipped by its history. Medians of ROUNDS runs, peak RSS of pgfleet;
# read ratios, not absolute numbers (shared machine).
#
#   bench/migrate/run.sh [BUILD_DIR]     env: ROUNDS=5 DBS=100
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
BIN=$BUILD/pgfleet
ROUNDS=${ROUNDS:-5} DBS=${DBS:-100}
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

echo "bench/migrate: creating 1 server x $DBS databases..." >&2
bench_server "max_connections = 300
max_prepared_transactions = 150"
PORT=$BENCH_PORT

TARGETS=()
for i in $(seq -w 1 "$DBS"); do
  TARGETS+=(--target "host=127.0.0.1 port=$PORT dbname=db_$i user=bench password=$PW")
done
script() { # NAME -> a script file creating table NAME
  cat >"$BENCH_DIR/$1.sql" <<SQL
CREATE TABLE $1 (id int PRIMARY KEY, v text NOT NULL DEFAULT 'x');
CREATE INDEX ${1}_v ON $1 (v);
INSERT INTO $1 (id) SELECT generate_series(1, 1000);
SQL
  echo "$BENCH_DIR/$1.sql"
}

timed() { /usr/bin/time -f "%e %M" -o /tmp/pgfleet-bench-time "$@" >/dev/null 2>&1 || true; cat /tmp/pgfleet-bench-time; }

for c in seq par4 atomic rerun psql; do : >"$OUT/migrate-$c.runs"; done
for r in $(seq 1 "$ROUNDS"); do
  timed "$BIN" migrate "${TARGETS[@]}" "$(script "s_$r")" >>"$OUT/migrate-seq.runs"
  timed "$BIN" migrate "${TARGETS[@]}" "$(script "s_$r")" >>"$OUT/migrate-rerun.runs"
  timed "$BIN" migrate --parallel 4 "${TARGETS[@]}" "$(script "p_$r")" >>"$OUT/migrate-par4.runs"
  timed "$BIN" migrate --atomic "${TARGETS[@]}" "$(script "a_$r")" >>"$OUT/migrate-atomic.runs"
  f=$(script "b_$r")
  start=$(date +%s.%N)
  for i in $(seq -w 1 "$DBS"); do
    PGPASSWORD=$PW psql -X -q -1 -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U bench -d "db_$i" -f "$f" >/dev/null
  done
  echo "$(echo "$(date +%s.%N) - $start" | bc) 0" >>"$OUT/migrate-psql.runs"
done
# every run applied everywhere (the history tables say so)
applied=$(PGPASSWORD=$PW psql -X -At -h 127.0.0.1 -p "$PORT" -U bench -d "db_$DBS" \
  -c "SELECT count(*) FROM pgfleet.migration_history")
[[ "$applied" == "$((3 * ROUNDS))" ]] || { echo "bench/migrate: expected $((3 * ROUNDS)) history rows, found $applied" >&2; exit 1; }

w() { cut -d' ' -f1 "$OUT/migrate-$1.runs" | median; }
m() { cut -d' ' -f2 "$OUT/migrate-$1.runs" | median; }
PSQL=$(w psql)
{
  echo
  echo "bench/migrate: 1 server, $DBS databases, script of 3 statements (table, index, 1000 rows), median of $ROUNDS, $(date -u +%FT%TZ)"
  echo
  printf '%-46s %8s %12s %10s\n' case "wall s" "peak RSS MB" "vs psql"
  for c in seq par4 atomic rerun; do
    label=$(case $c in seq) echo "pgfleet migrate (one target at a time)";; par4) echo "pgfleet migrate --parallel 4";;
      atomic) echo "pgfleet migrate --atomic (2PC)";; rerun) echo "pgfleet migrate, re-run (all skipped)";; esac)
    printf '%-46s %8.2f %12.1f %10.2f\n' "$label" "$(w $c)" "$(echo "$(m $c) / 1024" | bc -l)" "$(echo "$(w $c) / $PSQL" | bc -l)"
  done
  printf '%-46s %8.2f %12s %10s\n' "psql -1 -f per database (baseline)" "$PSQL" "-" "1.00"
} | tee "$OUT/migrate.txt"
