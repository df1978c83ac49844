#!/usr/bin/env bash
# bench/http: requests/s, p50/p99 latency and RSS of pgfleet versus FastAPI +
# uvicorn serving the same two endpoints (/healthz, and /api/auth/status, an
# authenticated JSON endpoint), measured in the same run with wrk on loopback.
# Each case runs ROUNDS times; medians are reported. Not a test: these machines
# are shared and noisy, so read the ratio, not the absolute numbers.
#
#   bench/http/run.sh [PGFLEET_BINARY]     env: DURATION=5 ROUNDS=3 CONNECTIONS=50
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN=${1:-$ROOT/build/pgfleet}
DURATION=${DURATION:-5} ROUNDS=${ROUNDS:-3} CONNECTIONS=${CONNECTIONS:-50}
KEY=bench-key-0123456789-abcdefghij
OUT="$ROOT/bench/results"; mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "bench: wrk is not installed (scripts/bootstrap.sh installs it)"; exit 1; }

free_port() { "$ROOT/.venv/bin/python" "$ROOT/scripts/freeport.py"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
wait_http() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "bench: $1 did not come up"; exit 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --daemonize no >/dev/null 2>&1 &
PIDS+=($!)

PPORT=$(free_port)
AUTH_KEY=$KEY PGFLEET_LISTEN=127.0.0.1:$PPORT PGFLEET_REDIS_URL=redis://127.0.0.1:$RPORT/0 \
  PGFLEET_LOG_LEVEL=warn "$BIN" serve 2>"$OUT/pgfleet.log" &
PGF=$!; PIDS+=($PGF)

FPORT=$(free_port)
(cd "$ROOT/bench/http" && AUTH_KEY=$KEY exec "$ROOT/.venv/bin/uvicorn" fastapi_app:app --host 127.0.0.1 \
  --port "$FPORT" --workers 1 --no-access-log --log-level warning) 2>"$OUT/uvicorn.log" &
FAPI=$!; PIDS+=($FAPI)

wait_http "http://127.0.0.1:$PPORT/healthz"
wait_http "http://127.0.0.1:$FPORT/healthz"
sleep 1
IDLE_PGF=$(rss_kb $PGF); IDLE_FAPI=$(rss_kb $FAPI)

# one wrk run -> "requests_per_s p50_ms p99_ms"
run_wrk() { # url [header]
  local args=(-t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")
  [[ -n "${2:-}" ]] && args+=(-H "$2")
  wrk "${args[@]}" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} /^Requests\/sec/ {rps=$2}
    /Non-2xx/ {bad=$NF}
    END { if (bad) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A R
for server in pgfleet fastapi; do
  port=$PPORT; [[ $server == fastapi ]] && port=$FPORT
  for ep in healthz auth; do
    url="http://127.0.0.1:$port/healthz"; hdr=""
    [[ $ep == auth ]] && { url="http://127.0.0.1:$port/api/auth/status"; hdr="Authorization: Bearer $KEY"; }
    run_wrk "$url" "$hdr" >/dev/null   # warm-up
    : >"$OUT/$server-$ep.runs"
    for _ in $(seq 1 "$ROUNDS"); do run_wrk "$url" "$hdr" >>"$OUT/$server-$ep.runs"; done
    R[$server-$ep-rps]=$(cut -d' ' -f1 "$OUT/$server-$ep.runs" | median)
    R[$server-$ep-p50]=$(cut -d' ' -f2 "$OUT/$server-$ep.runs" | median)
    R[$server-$ep-p99]=$(cut -d' ' -f3 "$OUT/$server-$ep.runs" | median)
  done
done
LOAD_PGF=$(rss_kb $PGF); LOAD_FAPI=$(rss_kb $FAPI)

{
printf '\nbench/http: wrk -t1 -c%s -d%ss, median of %s rounds, %s\n\n' "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(date -u +%FT%TZ)"
printf '%-26s %12s %10s %10s\n' "case" "requests/s" "p50 ms" "p99 ms"
for server in pgfleet fastapi; do for ep in healthz auth; do
  name="$server /healthz"; [[ $ep == auth ]] && name="$server /api/auth/status"
  printf '%-26s %12s %10s %10s\n' "$name" "${R[$server-$ep-rps]}" "${R[$server-$ep-p50]}" "${R[$server-$ep-p99]}"
done; done
printf '\nratio pgfleet/fastapi requests/s: /healthz %.1fx, /api/auth/status %.1fx (target >= 10x)\n' \
  "$(echo "${R[pgfleet-healthz-rps]} / ${R[fastapi-healthz-rps]}" | bc -l)" \
  "$(echo "${R[pgfleet-auth-rps]} / ${R[fastapi-auth-rps]}" | bc -l)"
printf 'RSS idle: pgfleet %.1f MB, uvicorn %.1f MB (target pgfleet < 10 MB); after load: pgfleet %.1f MB, uvicorn %.1f MB\n' \
  "$(echo "$IDLE_PGF/1024" | bc -l)" "$(echo "$IDLE_FAPI/1024" | bc -l)" \
  "$(echo "$LOAD_PGF/1024" | bc -l)" "$(echo "$LOAD_FAPI/1024" | bc -l)"
} | tee "$OUT/http-$(date -u +%Y%m%dT%H%M%SZ).txt"
