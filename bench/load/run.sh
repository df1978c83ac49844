#!/usr/bin/env bash
# bench/load: the daemon under realistic concurrent work, against itself idle, same run.
# Two servers: A holds 10 source databases (a table of 20,000 rows each), B their 10
# copies and 50 more databases. While 200 WebSocket clients follow topology, metrics and
# health: ten streams A -> B created at once (until all stream), then one migration on
# the 50 databases with parallel 8, the collector running throughout. Meanwhile a client
# samples the API (the database list, replication status, the streams). Reported: p50/p99
# of each endpoint idle and under load, the daemon's CPU and RSS idle and under load, and
# their ratios. Read ratios, not absolute numbers (shared machine).
#
#   bench/load/run.sh [BUILD_DIR]     env: IDLE_SECONDS=20
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD=${1:-$ROOT/build}
BIN=$BUILD/pgfleet
IDLE_SECONDS=${IDLE_SECONDS:-20}
KEY=bench-key-0123456789-abcdefghij
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
DBS=0 # bench_server makes no db_N here: the databases below are named for their part
. "$ROOT/bench/lib.sh"
trap bench_cleanup EXIT

echo "bench/load: creating the servers..." >&2
bench_server "wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
max_connections = 300"
A_DIR=$BENCH_DIR A_PORT=$BENCH_PORT
for i in $(seq -w 1 10); do
  bench_psql -d postgres -c "CREATE DATABASE src_$i" >/dev/null
  bench_psql -d "src_$i" -c "CREATE TABLE orders (id int PRIMARY KEY, note text)" \
    -c "INSERT INTO orders SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g" >/dev/null
done
bench_server "max_replication_slots = 40
max_logical_replication_workers = 30
max_worker_processes = 40
max_sync_workers_per_subscription = 2
max_connections = 300"
B_PORT=$BENCH_PORT
for i in $(seq -w 1 10); do
  bench_psql -d postgres -c "CREATE DATABASE copy_$i" >/dev/null
  bench_psql -d "copy_$i" -c "CREATE TABLE orders (id int PRIMARY KEY, note text)" >/dev/null
done
for i in $(seq -w 1 50); do bench_psql -d postgres -c "CREATE DATABASE app_$i" >/dev/null; done

RPORT=$(free_port) HPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --daemonize no >/dev/null 2>&1 & PIDS+=($!)
: >"$OUT/load-daemon.log"
bench_serve "$HPORT" "$OUT/load-daemon.log" PGFLEET_DB_BENCH_PW=$PW AUTH_KEY=$KEY \
  PGFLEET_REDIS_URL=redis://127.0.0.1:$RPORT/0 PGFLEET_LOG_LEVEL=${LOG_LEVEL:-warn}

register() { # register ID PORT DBNAME
  curl -fs -o /dev/null -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$1\",\"name\":\"$1\",\"host\":\"127.0.0.1\",\"port\":$2,\"dbname\":\"$3\",\"user\":\"bench\",\"credentials\":{\"source\":\"env\",\"env\":\"PGFLEET_DB_BENCH_PW\"}}" \
    "http://127.0.0.1:$HPORT/api/databases"
}
for i in $(seq -w 1 10); do register "src_$i" "$A_PORT" "src_$i"; register "copy_$i" "$B_PORT" "copy_$i"; done
for i in $(seq -w 1 50); do register "app_$i" "$B_PORT" "app_$i"; done

"$ROOT/.venv/bin/python" "$ROOT/bench/load/load.py" --port "$HPORT" --key "$KEY" --pid "$DPID" \
  --idle "$IDLE_SECONDS" | tee "$OUT/load-$(date -u +%Y%m%dT%H%M%SZ).txt"
