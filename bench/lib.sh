# bench/lib.sh: what the benchmarks share (sourced): scratch PostgreSQL servers with a
# superuser `bench` (password $PW) and $DBS databases db_001..., medians.
PGBIN=/usr/lib/postgresql/15/bin
PW=bench-pw
BENCH_DIRS=()
PIDS=() # processes a benchmark started: bench_cleanup stops them

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { "$ROOT/.venv/bin/python" "$ROOT/scripts/freeport.py"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # CPU time of a process, in clock ticks
HZ=$(getconf CLK_TCK)

# latency PORT PATH KEY: p50 and p99 (ms) of 200 GETs of a path on one kept-alive connection,
# and the size of the last answer
latency() {
  "$ROOT/.venv/bin/python" - "$1" "$2" "$3" <<'PYEOF'
import http.client, sys, time
port, path, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
t = []
for _ in range(200):
    a = time.perf_counter()
    c.request("GET", path, headers={"X-API-Key": key})
    r = c.getresponse(); body = r.read()
    assert r.status == 200, (r.status, body[:200])
    t.append((time.perf_counter() - a) * 1000)
t.sort()
print(f"{t[99]:.2f} {t[197]:.2f} {len(body)}")
PYEOF
}

# bench_serve PORT LOG [VAR=VALUE...]: `$BIN serve` listening on PORT with these variables
# (and AWS_EC2_METADATA_DISABLED, PGFLEET_LOG_LEVEL=warn unless given), its stderr appended
# to LOG; once /healthz answers. Sets DPID.
bench_serve() {
  local port=$1 log=$2
  shift 2
  env AWS_EC2_METADATA_DISABLED=true PGFLEET_LOG_LEVEL=warn PGFLEET_LISTEN="127.0.0.1:$port" "$@" \
    "$BIN" serve 2>>"$log" &
  DPID=$!; PIDS+=($DPID)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && return 0; sleep 0.05; done
  echo "bench: pgfleet did not start on port $port; see $log" >&2
  exit 1
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${BENCH_DIRS[@]}"; do
    as_pg "$PGBIN/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$d"
  done
}

# bench_server "extra postgresql.conf lines": a started server; sets BENCH_DIR and BENCH_PORT
bench_server() {
  BENCH_DIR=$(mktemp -d /var/tmp/pgfleet-bench-XXXXXX); BENCH_DIRS+=("$BENCH_DIR")
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$BENCH_DIR"
  BENCH_PORT=$(free_port)
  as_pg "$PGBIN/initdb" -D "$BENCH_DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n%s\n" \
    "$BENCH_PORT" "$BENCH_DIR" "$1" >>"$BENCH_DIR/data/postgresql.auto.conf"
  echo "host all all 127.0.0.1/32 scram-sha-256" >>"$BENCH_DIR/data/pg_hba.conf"
  as_pg "$PGBIN/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/log" -w start >/dev/null
  bench_psql -d postgres -c "CREATE ROLE bench SUPERUSER LOGIN PASSWORD '$PW'" >/dev/null
  local args=()
  for i in $(seq -w 1 "$DBS"); do args+=(-c "CREATE DATABASE db_$i"); done
  if ((${#args[@]})); then bench_psql -d postgres "${args[@]}" >/dev/null; fi
}

# psql as postgres on the last server bench_server made
bench_psql() { as_pg "$PGBIN/psql" -X -q -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres "$@"; }

# bench_register HTTP_PORT API_KEY PG_PORT...: registers db_001.. db_$DBS of each server with
# the daemon (ids p<port>_<n>, password from PGFLEET_DB_BENCH_PW)
bench_register() {
  local hport=$1 key=$2 p i
  shift 2
  for p in "$@"; do
    for i in $(seq -w 1 "$DBS"); do
      curl -fs -o /dev/null -H "X-API-Key: $key" -H 'Content-Type: application/json' \
        -d "{\"id\":\"p${p}_$i\",\"name\":\"db_$i on $p\",\"host\":\"127.0.0.1\",\"port\":$p,\"dbname\":\"db_$i\",\"user\":\"bench\",\"credentials\":{\"source\":\"env\",\"env\":\"PGFLEET_DB_BENCH_PW\"}}" \
        "http://127.0.0.1:$hport/api/databases"
    done
  done
}
