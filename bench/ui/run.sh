#!/usr/bin/env bash
# bench/ui: the topology page with 300 servers in headless Chromium (bench/ui/topology.py):
# time to the first drawn graph, frame times while metrics arrive. Medians of ROUNDS.
#
#   bench/ui/run.sh [BINARY]     env: ROUNDS=3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN=${1:-$ROOT/build/pgfleet}
ROUNDS=${ROUNDS:-3}
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
PORT=$("$ROOT/.venv/bin/python" "$ROOT/scripts/freeport.py")
KEY=bench-ui-key-0123456789abcdefghij
LOG=$(mktemp)
RPORT=$("$ROOT/.venv/bin/python" "$ROOT/scripts/freeport.py")
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
RPID=$!
AUTH_KEY=$KEY PGFLEET_LISTEN=127.0.0.1:$PORT PGFLEET_REDIS_URL=redis://127.0.0.1:$RPORT/0 "$BIN" serve >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID $RPID 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
echo "bench/ui: topology page, 300 servers, $ROUNDS rounds" >&2
"$ROOT/.venv/bin/python" "$ROOT/bench/ui/topology.py" "http://127.0.0.1:$PORT" "$KEY" "$ROUNDS" | tee "$OUT/ui.jsonl" |
  "$ROOT/.venv/bin/python" "$ROOT/bench/ui/summary.py"
