#!/usr/bin/env bash
# bench/cluster: 1, 2 and 3 `pgfleet serve` instances on one Redis following the same
# 600 databases (2 servers x 300) at the default intervals. For each size: the CPU (% of
# one core) and RSS of every instance over FOLLOW_SECONDS, and the time a new instance
# took to take its share (from its start until it holds its shards and has a session on
# each of its databases, counted from pg_stat_activity's application names). Read
# ratios, not absolute numbers (shared machine).
#
#   bench/cluster/run.sh [BUILD_DIR]     env: FOLLOW_SECONDS=30 DBS=300
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
BIN=$BUILD/pgfleet
FOLLOW_SECONDS=${FOLLOW_SECONDS:-30} DBS=${DBS:-300}
KEY=bench-key-0123456789-abcdefghij
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
PY="$ROOT/.venv/bin/python"
. "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

SERVERS=()
t_fixture=$(date +%s)
echo "bench/cluster: creating 2 servers x $DBS databases..." >&2
for n in 0 1; do
  bench_server "max_connections = $((DBS * 3 + 50))"
  SERVERS+=("$BENCH_DIR:$BENCH_PORT")
done
t_fixture=$(($(date +%s) - t_fixture))

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --daemonize no >/dev/null 2>&1 & PIDS+=($!)
HPORTS=() DPIDS=()

# start_instance: one more daemon; sets HPORT
start_instance() {
  HPORT=$(free_port)
  bench_serve "$HPORT" "$OUT/cluster-daemon.log" PGFLEET_DB_BENCH_PW=$PW AUTH_KEY=$KEY \
    PGFLEET_REDIS_URL=redis://127.0.0.1:$RPORT/0 PGFLEET_INSTANCE_ID="bench-$HPORT"
  DPIDS+=($DPID); HPORTS+=("$HPORT")
}

api() { curl -fs -H "X-API-Key: $KEY" "http://127.0.0.1:$1$2"; }

# sessions per pgfleet instance over both servers: "name count" lines
sessions() {
  for s in "${SERVERS[@]}"; do
    BENCH_DIR=${s%:*} BENCH_PORT=${s#*:} bench_psql -d postgres -At -c \
      "SELECT application_name, count(DISTINCT datname) FROM pg_stat_activity
       WHERE application_name LIKE 'pgfleet:%' GROUP BY 1"
  done | awk -F'|' '{n[$1] += $2} END {for (k in n) print k, n[k]}'
}

# true when every instance of the cluster holds its shards and polls all its databases
# (and no database is polled twice)
settled() {
  local want=$1 view
  view=$(api "${HPORTS[0]}" /api/cluster) || return 1
  local ok
  ok=$(printf '%s' "$view" | "$PY" -c '
import json, sys
v = json.load(sys.stdin); want = int(sys.argv[1])
inst = v["instances"]
dbs = {i["id"]: i["databases"] for i in inst}
sess = {}
for line in sys.argv[2].splitlines():
    name, n = line.rsplit(" ", 1); sess[name.split(":", 1)[1]] = int(n)
good = (len(inst) == want and sum(i["shards"] for i in inst) == 64
        and sum(i["leader"] for i in inst) == 1 and sum(dbs.values()) == int(sys.argv[3])
        and all(sess.get(k, 0) >= n for k, n in dbs.items())
        and sum(sess.values()) == int(sys.argv[3]))
print("yes" if good else "no")' "$want" "$(sessions)" "$((DBS * 2))")
  [[ $ok == yes ]]
}


# measure N: CPU and RSS of each instance over FOLLOW_SECONDS
measure() {
  local t0=() i
  for p in "${DPIDS[@]}"; do t0+=("$(ticks "$p")"); done
  sleep "$FOLLOW_SECONDS"
  for i in "${!DPIDS[@]}"; do
    local p=${DPIDS[$i]} t1
    t1=$(ticks "$p")
    printf '%d instance(s)  #%d  %6.2f%% of a core  RSS %6.1f MB\n' "${#DPIDS[@]}" "$((i + 1))" \
      "$(echo "($t1 - ${t0[$i]}) / $HZ / $FOLLOW_SECONDS * 100" | bc -l)" \
      "$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$p/status")"
  done
}

wait_settled() {
  local want=$1 start=$2
  for _ in $(seq 1 1200); do
    if settled "$want"; then echo "$(( $(date +%s%N) / 1000000 - start ))"; return; fi
    sleep 0.1
  done
  echo "bench/cluster: $want instances did not settle" >&2; exit 1
}

RESULTS=()
start_instance
echo "bench/cluster: registering $((DBS * 2)) databases..." >&2
bench_register "${HPORTS[0]}" "$KEY" "${SERVERS[@]#*:}"
wait_settled 1 "$(( $(date +%s%N) / 1000000 ))" >/dev/null
sleep 5
RESULTS+=("$(measure)")
for n in 2 3; do
  t=$(( $(date +%s%N) / 1000000 ))
  start_instance
  ms=$(wait_settled "$n" "$t")
  RESULTS+=("instance #$n took its share in $(echo "$ms / 1000" | bc -l | xargs printf '%.2f') s (start to every database of its shards polled)")
  sleep 5
  RESULTS+=("$(measure)")
done

{
printf '\nbench/cluster: 2 servers x %s databases (fixture built in %s s), default intervals, %s\n\n' \
  "$DBS" "$t_fixture" "$(date -u +%FT%TZ)"
printf '%s\n' "${RESULTS[@]}"
} | tee "$OUT/cluster-$(date -u +%Y%m%dT%H%M%SZ).txt"
