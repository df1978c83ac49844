#!/usr/bin/env bash
# bench/fleet: a large fleet, 2 servers x 1,000 databases (30, or all when DBS is smaller,
# with an unread logical slot and a publication, nothing subscribing). Each figure beside
# its floor, in the same run:
#  - cold `pgfleet discover --json` against one psql per server running the same
#    instance-level queries (target <= 2x), and the connections discovery opened
#    (pg_stat_database.sessions before and after);
#  - the daemon following all 2,000 at the default intervals, health on a connection per
#    database and then one per server (PGFLEET_HEALTH_CONNECTIONS=server): CPU (target < 3%
#    of one core), RSS (target < 64 MB), connections held;
#  - GET /api/databases (all 2,000, a page of 100, a filter) and /api/replication/status:
#    p50 and p99 of 200 requests on a kept-alive connection (target p99 < 20 ms).
# Medians; read ratios, not absolute numbers (shared machine).
#
#   bench/fleet/run.sh [BUILD_DIR]     env: ROUNDS=5 FOLLOW_SECONDS=30 DBS=1000
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
BIN=$BUILD/pgfleet
ROUNDS=${ROUNDS:-5} FOLLOW_SECONDS=${FOLLOW_SECONDS:-30} DBS=${DBS:-1000}
SLOTS=$((DBS < 30 ? DBS : 30)) # databases with a slot and a publication
KEY=bench-key-0123456789-abcdefghij
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
PY="$ROOT/.venv/bin/python"
. "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

t0=$(date +%s)
echo "bench/fleet: creating 2 servers x $DBS databases..." >&2
SERVERS=() PORTS=()
for n in 0 1; do
  bench_server "max_connections = $((DBS + 200))
wal_level = logical
max_replication_slots = 40"
  SERVERS+=("$BENCH_DIR:$BENCH_PORT"); PORTS+=("$BENCH_PORT")
  for i in $(seq 1 "$SLOTS"); do
    db=$(printf "db_%0${#DBS}d" $((i * DBS / SLOTS)))
    bench_psql -d "$db" -c "CREATE TABLE t (id int PRIMARY KEY)" -c "CREATE PUBLICATION pub FOR TABLE t" \
      -c "SELECT pg_create_logical_replication_slot('slot_$i', 'pgoutput')" >/dev/null
  done
done
FIXTURE_S=$(($(date +%s) - t0))

on_server() { local s=$1; shift; BENCH_DIR=${s%:*} BENCH_PORT=${s#*:} bench_psql "$@"; }
sessions() {
  local total=0 s n
  for s in "${SERVERS[@]}"; do
    n=$(on_server "$s" -d postgres -At -c "SELECT sum(sessions) FROM pg_stat_database")
    total=$((total + n))
  done
  echo "$total"
}

# ---- cold discovery against its floor ----
"$BUILD/discover-baseline" --print-queries >"$OUT/fleet-queries.sql"
CONNS=()
for p in "${PORTS[@]}"; do CONNS+=("host=127.0.0.1 port=$p user=bench dbname=postgres"); done
export PGPASSWORD=$PW
: >"$OUT/fleet-discover.runs"; : >"$OUT/fleet-psql.runs"
for _ in $(seq 1 "$ROUNDS"); do
  before=$(sessions); a=$(now_ms)
  "$BIN" discover --json "${CONNS[@]}" >/dev/null
  b=$(now_ms); after=$(sessions)
  echo "$((b - a)) $((after - before - 2))" >>"$OUT/fleet-discover.runs" # less our 2 counting sessions
  a=$(now_ms)
  for p in "${PORTS[@]}"; do
    psql -X -q -h 127.0.0.1 -p "$p" -U bench -d postgres -f "$OUT/fleet-queries.sql" >/dev/null
  done
  b=$(now_ms)
  echo "$((b - a))" >>"$OUT/fleet-psql.runs"
done
DISC_MS=$(cut -d' ' -f1 "$OUT/fleet-discover.runs" | median)
DISC_CONNS=$(cut -d' ' -f2 "$OUT/fleet-discover.runs" | median)
PSQL_MS=$(median <"$OUT/fleet-psql.runs")

# ---- the daemon following everything ----
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --daemonize no >/dev/null 2>&1 & PIDS+=($!)

DAEMON_LINES=()
follow() { # follow MODE: a daemon with PGFLEET_HEALTH_CONNECTIONS=MODE over everything
  local mode=$1 hport
  hport=$(free_port)
  redis-cli -p "$RPORT" flushall >/dev/null
  local env=(PGFLEET_DB_BENCH_PW=$PW AUTH_KEY=$KEY PGFLEET_HEALTH_CONNECTIONS=$mode
             PGFLEET_REDIS_URL=redis://127.0.0.1:$RPORT/0)
  bench_serve "$hport" "$OUT/fleet-daemon.log" "${env[@]}"
  bench_register "$hport" "$KEY" "${PORTS[@]}"
  # restart it: the registry loads 2,000 databases at once, as after a deploy
  kill "$DPID"; wait "$DPID" 2>/dev/null || true
  bench_serve "$hport" "$OUT/fleet-daemon.log" "${env[@]}"
  local start; start=$(now_ms)
  for _ in $(seq 1 600); do
    ok=$(curl -fs -H "X-API-Key: $KEY" "http://127.0.0.1:$hport/api/databases?health=ok&limit=1" |
      "$PY" -c 'import json,sys; print(json.load(sys.stdin)["total"])' 2>/dev/null || echo 0)
    [[ $ok -ge $((DBS * 2)) ]] && break
    sleep 0.5
  done
  local all_ok_ms=$(( $(now_ms) - start ))
  sleep 10 # past the first probes: steady state
  local t1 t2; t1=$(ticks "$DPID"); sleep "$FOLLOW_SECONDS"; t2=$(ticks "$DPID")
  local cpu rss conns
  cpu=$(echo "($t2 - $t1) / $HZ / $FOLLOW_SECONDS * 100" | bc -l)
  rss=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$DPID/status")
  conns=$(curl -fs -H "X-API-Key: $KEY" "http://127.0.0.1:$hport/api/databases?limit=1" |
    "$PY" -c 'import json,sys; c=json.load(sys.stdin)["connections"]; print(c["open"], json.dumps(c["servers"]))')
  DAEMON_LINES+=("$(printf '%-9s %d/%d ok after restart in %5.1f s; CPU %5.2f%% of a core; RSS %5.1f MB; connections held %s' \
    "$mode" "$ok" "$((DBS * 2))" "$(echo "$all_ok_ms / 1000" | bc -l)" "$cpu" "$rss" "$conns")")
  if [[ $mode == database ]]; then
    for path in "/api/databases" "/api/databases?limit=100&offset=1000" "/api/databases?tag=none" \
                "/api/replication/status"; do
      read -r p50 p99 bytes < <(latency "$hport" "$path" "$KEY")
      DAEMON_LINES+=("$(printf '  GET %-38s p50 %6.2f ms  p99 %6.2f ms  (%s bytes)' "$path" "$p50" "$p99" "$bytes")")
    done
  fi
  kill "$DPID"; wait "$DPID" 2>/dev/null || true
}
follow database
follow server

{
printf '\nbench/fleet: 2 servers x %s databases (%s with logical slots; built in %s s), %s\n\n' \
  "$DBS" "$SLOTS" "$FIXTURE_S" "$(date -u +%FT%TZ)"
printf 'cold pgfleet discover --json: %s ms (median of %s), connections opened %s;\n' "$DISC_MS" "$ROUNDS" "$DISC_CONNS"
printf '  floor, one psql per server running the same queries: %s ms; ratio %.2f (target <= 2)\n' \
  "$PSQL_MS" "$(echo "$DISC_MS / $PSQL_MS" | bc -l)"
printf 'daemon following %s databases at the default intervals (targets: CPU < 3%%, RSS < 64 MB, p99 < 20 ms):\n' "$((DBS * 2))"
printf '%s\n' "${DAEMON_LINES[@]}"
} | tee "$OUT/fleet-$(date -u +%Y%m%dT%H%M%SZ).txt"
