#!/usr/bin/env bash
# bench/topology: pgfleet on the realistic fleet of scripts/fleet.sh, the one `make demo`
# tours (FLEET_SIZE, default large: 4 clusters, each a primary with 2 standbys and a
# cascading standby, 16 servers, 119 databases to register, pgbench writing 20 tps on every
# primary, logical streams between clusters, RDS and Aurora in the AWS emulator), in a local
# environment of its own (its own folder and ports: it runs beside `make run`). Measured:
#  - the fleet's build time;
#  - cold `pgfleet discover --json` of every fleet server: median of ROUNDS, with the nodes
#    and edges it found (checked against the fleet's shape), beside its floor, one psql per
#    server running the same instance-level queries;
#  - the daemon with every fleet database registered (credentials from the emulator's
#    Secrets Manager, as `make demo` does), restarted as after a deploy: time until every
#    database is healthy and the graph holds every physical edge; then, under the write
#    load: CPU and RSS over FOLLOW_SECONDS, and p50/p99 of the topology, database and status
#    endpoints.
# Medians; read ratios, not absolute numbers (shared machine).
#
#   bench/topology/run.sh [BUILD_DIR]     env: FLEET_SIZE=large ROUNDS=5 FOLLOW_SECONDS=30
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
BIN=$BUILD/pgfleet
ROUNDS=${ROUNDS:-5} FOLLOW_SECONDS=${FOLLOW_SECONDS:-30} SIZE=${FLEET_SIZE:-large}
KEY=bench-key-0123456789-abcdefghij
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
PY="$ROOT/.venv/bin/python"
. "$ROOT/bench/lib.sh"

ENVDIR=$(mktemp -d /var/tmp/pgfleet-bench-topology-XXXXXX)
[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$ENVDIR"
{ read -r ENVBASE; read -r FLEETBASE; read -r HPORT; } < <("$PY" "$ROOT/scripts/freeport.py" 9 40 1)
export PGFLEET_DEVENV_DIR=$ENVDIR PGFLEET_DEVENV_PORT_BASE=$ENVBASE PGFLEET_FLEET_PORT_BASE=$FLEETBASE
topology_cleanup() {
  bench_cleanup
  "$ROOT/scripts/fleet.sh" down --purge >/dev/null 2>&1 || true
  "$ROOT/scripts/devenv.sh" down >/dev/null 2>&1 || true
  rm -rf "$ENVDIR"
}
trap topology_cleanup EXIT

echo "bench/topology: the local environment, then the $SIZE fleet..." >&2
"$ROOT/scripts/devenv.sh" up 2>/dev/null
t0=$(now_ms)
"$ROOT/scripts/fleet.sh" up --size "$SIZE"
FLEET_MS=$(($(now_ms) - t0))
eval "$("$ROOT/scripts/devenv.sh" env | sed 's/^/export /')"
. "$ENVDIR/fleet/params" # CLUSTERS TENANTS STANDBYS ...
SERVERS=$(wc -l <"$ENVDIR/fleet/servers.tsv")
PHYSICAL=$((SERVERS - CLUSTERS))
DATABASES=$("$ROOT/scripts/fleet.sh" databases | wc -l)

# ---- cold discovery against its floor ----
CONNS=() PORTS=()
while IFS=$'\t' read -r _ _ _ port _; do
  CONNS+=("host=127.0.0.1 port=$port user=pgfleet dbname=postgres"); PORTS+=("$port")
done <"$ENVDIR/fleet/servers.tsv"
"$BUILD/discover-baseline" --print-queries >"$ENVDIR/queries.sql"
export PGPASSWORD=pgfleet-dev
DISC=() FLOOR=()
for _ in $(seq 1 "$ROUNDS"); do
  a=$(now_ms)
  "$BIN" discover --json --no-names "${CONNS[@]}" >"$ENVDIR/discover.json"
  DISC+=($(($(now_ms) - a)))
  a=$(now_ms)
  for p in "${PORTS[@]}"; do psql -X -q -h 127.0.0.1 -p "$p" -U pgfleet -d postgres -f "$ENVDIR/queries.sql" >/dev/null; done
  FLOOR+=($(($(now_ms) - a)))
done
DISC_MS=$(printf '%s\n' "${DISC[@]}" | median)
FLOOR_MS=$(printf '%s\n' "${FLOOR[@]}" | median)
read -r D_NODES D_PHYS D_LOG < <(jq -r '[(.nodes | length), ([.edges[] | select(.kind == "physical")] | length),
  ([.edges[] | select(.kind == "logical")] | length)] | @tsv' "$ENVDIR/discover.json")
[[ $D_PHYS -ge $PHYSICAL ]] || { echo "bench/topology: discover found $D_PHYS physical edges, the fleet has $PHYSICAL" >&2; exit 1; }

# ---- the daemon following the whole fleet ----
export AUTH_KEY=$KEY PGFLEET_URL=http://127.0.0.1:$HPORT PGFLEET_LOG_DIRS=$ENVDIR/log
serve() { bench_serve "$HPORT" "$OUT/topology-daemon.log"; }
api() { curl -fs -H "X-API-Key: $KEY" "$PGFLEET_URL$1"; }
serve
a=$(now_ms)
"$ROOT/scripts/fleet.sh" register "$BIN"
REGISTER_MS=$(($(now_ms) - a))
# restarted: the registry loads the fleet at once, as after a deploy
kill "$DPID"; wait "$DPID" 2>/dev/null || true
serve
a=$(now_ms) OK=0 HEALTHY_MS= WHOLE_MS=
for _ in $(seq 1 1200); do
  if [[ -z $HEALTHY_MS ]]; then
    OK=$(api "/api/databases?health=ok&limit=1" | jq .total) || OK=0
    [[ $OK -ge $DATABASES ]] && HEALTHY_MS=$(($(now_ms) - a))
  fi
  if [[ -z $WHOLE_MS ]] && api /api/replication/discover | jq -e --argjson n "$PHYSICAL" \
      '[.edges[] | select(.kind == "physical")] | length >= $n' >/dev/null; then
    WHOLE_MS=$(($(now_ms) - a))
  fi
  [[ -n $HEALTHY_MS && -n $WHOLE_MS ]] && break
  sleep 0.1
done
[[ -n $HEALTHY_MS && -n $WHOLE_MS ]] ||
  { echo "bench/topology: after 2 minutes $OK/$DATABASES healthy, graph whole: ${WHOLE_MS:-no}" >&2; exit 1; }
read -r T_NODES T_PHYS T_LOG T_RDS < <(api /api/replication/discover | jq -r '[(.nodes | length),
  ([.edges[] | select(.kind == "physical")] | length), ([.edges[] | select(.kind == "logical")] | length),
  ([.nodes[] | select(.rds)] | length)] | @tsv')
sleep 10 # past the first probes: steady state
t1=$(ticks "$DPID"); sleep "$FOLLOW_SECONDS"; t2=$(ticks "$DPID")
CPU=$(echo "($t2 - $t1) / $HZ / $FOLLOW_SECONDS * 100" | bc -l)
RSS=$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$DPID/status")
LAT=()
for path in /api/replication/discover /api/replication/status "/api/databases?limit=50" /api/databases; do
  read -r p50 p99 bytes < <(latency "$HPORT" "$path" "$KEY")
  LAT+=("$(printf '  GET %-28s p50 %6.2f ms  p99 %6.2f ms  (%s bytes)' "$path" "$p50" "$p99" "$bytes")")
done

{
printf '\nbench/topology: the %s fleet of scripts/fleet.sh, %s\n' "$SIZE" "$(date -u +%FT%TZ)"
printf '  %s clusters, %s servers (%s standbys and cascades), %s databases registered; built in %.1f s\n' \
  "$CLUSTERS" "$SERVERS" "$PHYSICAL" "$DATABASES" "$(echo "$FLEET_MS / 1000" | bc -l)"
printf 'cold pgfleet discover --json of the %s servers: %s ms (median of %s): %s nodes, %s physical and %s logical edges\n' \
  "$SERVERS" "$DISC_MS" "$ROUNDS" "$D_NODES" "$D_PHYS" "$D_LOG"
printf '  floor, one psql per server running the same queries: %s ms; ratio %.2f\n' \
  "$FLOOR_MS" "$(echo "$DISC_MS / $FLOOR_MS" | bc -l)"
printf 'daemon: %s databases registered through the CLI in %.1f s; after a restart every one healthy in %.1f s,\n' \
  "$DATABASES" "$(echo "$REGISTER_MS / 1000" | bc -l)" "$(echo "$HEALTHY_MS / 1000" | bc -l)"
printf '  the graph whole in %.1f s: %s nodes (%s with RDS), %s physical and %s logical edges\n' \
  "$(echo "$WHOLE_MS / 1000" | bc -l)" "$T_NODES" "$T_RDS" "$T_PHYS" "$T_LOG"
printf '  following it under the write load: CPU %.2f%% of a core, RSS %.1f MB (over %s s)\n' "$CPU" "$RSS" "$FOLLOW_SECONDS"
printf '%s\n' "${LAT[@]}"
} | tee "$OUT/topology-$(date -u +%Y%m%dT%H%M%SZ).txt"
