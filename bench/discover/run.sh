#!/usr/bin/env bash
# bench/discover: cold `pgfleet discover --json` of 2 servers x 150 databases
# (each with a table and a publication, some with logical slots) against, in
# the same run, a plain discovery that opens one connection per database and
# runs the same catalog queries (bench/discover/baseline.c). Then the daemon's
# CPU and RSS while it follows those 300 databases at the default intervals.
# Medians of ROUNDS runs; read ratios, not absolute numbers (shared machine).
#
#   bench/discover/run.sh [BUILD_DIR]     env: ROUNDS=5 FOLLOW_SECONDS=30
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
BIN=$BUILD/pgfleet
BASE=$BUILD/discover-baseline
ROUNDS=${ROUNDS:-5} FOLLOW_SECONDS=${FOLLOW_SECONDS:-30} DBS=${DBS:-150}
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
. "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

PORTS=()
echo "bench/discover: creating 2 servers x $DBS databases (publications, some logical slots)..." >&2
for n in 0 1; do
  bench_server "wal_level = logical
max_replication_slots = 40
max_connections = 400"
  PORTS+=("$BENCH_PORT")
  for i in $(seq -w 1 "$DBS"); do
    slot=()
    if (( 10#$i % 10 == 0 )); then slot=(-c "SELECT pg_create_logical_replication_slot('slot_$i', 'pgoutput')"); fi
    bench_psql -d "db_$i" -c "CREATE TABLE t (id int PRIMARY KEY, v text)" \
      -c "CREATE PUBLICATION pub_$i FOR TABLE t" "${slot[@]}" >/dev/null
  done
done

CONNS=()
for p in "${PORTS[@]}"; do CONNS+=("host=127.0.0.1 port=$p user=bench password=$PW"); done

# prints "wall_seconds max_rss_kb"
timed() { /usr/bin/time -f "%e %M" -o /tmp/pgfleet-bench-time "$@" >/dev/null; cat /tmp/pgfleet-bench-time; }

: >"$OUT/discover-pgfleet.runs"; : >"$OUT/discover-baseline.runs"
for _ in $(seq 1 "$ROUNDS"); do
  timed "$BIN" discover --json "${CONNS[@]}" >>"$OUT/discover-pgfleet.runs"
  timed "$BASE" "${CONNS[@]}" >>"$OUT/discover-baseline.runs"
done
PG_WALL=$(cut -d' ' -f1 "$OUT/discover-pgfleet.runs" | median)
PG_RSS=$(cut -d' ' -f2 "$OUT/discover-pgfleet.runs" | median)
BL_WALL=$(cut -d' ' -f1 "$OUT/discover-baseline.runs" | median)
NDB=$("$BASE" "${CONNS[@]}" | awk '{print $1}')
# the floor: the same binary doing nothing but loading its shared libraries
FLOOR_RSS=$(timed "$BIN" help | cut -d' ' -f2)

# the daemon following all databases at the default intervals
RPORT=$(free_port); HPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --daemonize no >/dev/null 2>&1 & PIDS+=($!)
: >"$OUT/discover-daemon.log"
bench_serve "$HPORT" "$OUT/discover-daemon.log" PGFLEET_DB_BENCH_PW=$PW AUTH_KEY=bench-key-0123456789-abcdefghij \
  PGFLEET_REDIS_URL=redis://127.0.0.1:$RPORT/0
bench_register "$HPORT" bench-key-0123456789-abcdefghij "${PORTS[@]}"
sleep 12 # connections opened, first probes and collections done
t0=$(ticks $DPID); sleep "$FOLLOW_SECONDS"; t1=$(ticks $DPID)
CPU=$(echo "($t1 - $t0) / $HZ / $FOLLOW_SECONDS * 100" | bc -l)
DRSS=$(awk '/VmRSS/ {print $2}' "/proc/$DPID/status")
EDGES=$(curl -fs -H 'X-API-Key: bench-key-0123456789-abcdefghij' "http://127.0.0.1:$HPORT/api/replication/status" | "$ROOT/.venv/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(len(d["slots"]), "slots,", d["cycles"], "cycles")')

{
printf '\nbench/discover: 2 servers, %s databases, median of %s cold runs, %s\n\n' "$NDB" "$ROUNDS" "$(date -u +%FT%TZ)"
printf '%-44s %10s %14s\n' "case" "wall s" "peak RSS MB"
printf '%-44s %10s %14.1f\n' "pgfleet discover --json (1 conn/server)" "$PG_WALL" "$(echo "$PG_RSS/1024" | bc -l)"
printf '%-44s %10s %14s\n' "baseline (1 conn/database, same queries)" "$BL_WALL" "-"
printf '%-44s %10s %14.1f\n' "pgfleet help (libraries loaded, no work)" "-" "$(echo "$FLOOR_RSS/1024" | bc -l)"
printf '\nratio pgfleet/baseline wall time: %.3f (target <= 0.1); pgfleet peak RSS %.1f MB (target < 10),\n' \
  "$(echo "$PG_WALL / $BL_WALL" | bc -l)" "$(echo "$PG_RSS/1024" | bc -l)"
printf 'of which %.1f MB is the shared libraries alone; discovery adds %.1f MB\n' \
  "$(echo "$FLOOR_RSS/1024" | bc -l)" "$(echo "($PG_RSS - $FLOOR_RSS)/1024" | bc -l)"
printf 'daemon following %s databases: %.2f%% of one core over %s s, RSS %.1f MB (%s) (target < 2%%)\n' \
  "$NDB" "$CPU" "$FOLLOW_SECONDS" "$(echo "$DRSS/1024" | bc -l)" "$EDGES"
} | tee "$OUT/discover-$(date -u +%Y%m%dT%H%M%SZ).txt"
