#!/usr/bin/env bash
# The local environment behind `make run`: real PostgreSQL servers replicating
# between them, Redis, and moto as the AWS emulator.
#
#   scripts/devenv.sh up | down | status | env
#   scripts/devenv.sh register PGFLEET_BINARY   (its databases, with the pgfleet at
#                                                $PGFLEET_URL; AUTH_KEY set)
#   scripts/devenv.sh provoke lag | cascade | slot | calm   (what fires the demo alerts)
#
# Fixed ports (all outside 5432-5499 and 6379, which a person's own servers may hold):
#   55432  pg primary       database "app", publication app_pub (wal_level=logical)
#   55433  pg standby       physical, from the primary (slot standby1_slot)
#   55434  pg cascade       physical, from the standby (cascading, slot cascade1_slot)
#   55435  pg reporting     second primary; database "app_reporting" subscribes to app_pub
#   56379  redis
#   55000  moto server      Secrets Manager holds pgfleet/dev/<server> for each server
#   55010  SAML IdP         pysaml2, shaped like IAM Identity Center (scripts/idp/saml_idp.py)
#   55011  OIDC provider    oidc-provider from npm (scripts/idp/oidc_provider.mjs)
#   55012  webhook sink     keeps what alert channels post (scripts/webhook_sink.py); its
#                           page at / lists them; signatures checked with pgfleet-dev-hook
#
# PGFLEET_DEVENV_PORT_BASE=N moves them to N..N+8 in the same order.
# The identity providers send people back to PGFLEET_PUBLIC_URL (default
# http://localhost:8000); their users (sso-admin|operator|viewer@example.com) and
# passwords are in $DIR/idp/passwords.json.
# Roles: pgfleet (LOGIN REPLICATION, member of pg_monitor, password pgfleet-dev) owns the data;
# replication uses the same role. State lives under $PGFLEET_DEVENV_DIR
# (default .devenv/, or /var/tmp/pgfleet-devenv when run as root, since PostgreSQL
# runs as the postgres user and must be able to reach it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
if [[ $(id -u) -eq 0 ]]; then
  DIR="${PGFLEET_DEVENV_DIR:-/var/tmp/pgfleet-devenv}"
else
  DIR="${PGFLEET_DEVENV_DIR:-$ROOT/.devenv}"
fi
# PGFLEET_DEVENV_PORT_BASE moves every port (tests use it to run beside `make run`)
if [[ -n "${PGFLEET_DEVENV_PORT_BASE:-}" ]]; then
  b=$PGFLEET_DEVENV_PORT_BASE
  PG_PRIMARY=$b PG_STANDBY=$((b + 1)) PG_CASCADE=$((b + 2)) PG_REPORTING=$((b + 3))
  REDIS_PORT=$((b + 4)) MOTO_PORT=$((b + 5)) SAML_PORT=$((b + 6)) OIDC_PORT=$((b + 7))
  HOOK_PORT=$((b + 8))
else
  PG_PRIMARY=55432 PG_STANDBY=55433 PG_CASCADE=55434 PG_REPORTING=55435
  REDIS_PORT=56379 MOTO_PORT=55000 SAML_PORT=55010 OIDC_PORT=55011 HOOK_PORT=55012
fi
HOOK_SECRET=pgfleet-dev-hook
PUBLIC_URL="${PGFLEET_PUBLIC_URL:-http://localhost:8000}"
STORE_ID=d-90672devenv
ROLE_MAP="pgfleet-admins=admin,pgfleet-operators=operator,pgfleet-viewers=viewer"
PGUSER_NAME=pgfleet PGPASS=pgfleet-dev
ADMIN_USER=pgfleet_admin ADMIN_PASS=pgfleet-dev-admin
REGION=us-east-1

say() { printf 'devenv: %s\n' "$*" >&2; }
die() { printf 'devenv: error: %s\n' "$*" >&2; exit 1; }

# PostgreSQL refuses to run as root: run its tools as postgres then.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_at() { # port db sql...
  local port=$1 db=$2; shift 2
  PGPASSWORD=$PGPASS psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PGUSER_NAME" -d "$db" "$@"
}

pg_running() { as_pg "$PGBIN/pg_ctl" -D "$DIR/$1" status >/dev/null 2>&1; }

# alive PID: running, not a zombie (an ended process whose parent has not reaped it yet; here
# that is init, which may take a second or two, and a zombie holds no port any more)
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
# running PIDFILE: its process is alive
running() { [[ -f $1 ]] && alive "$(cat "$1")"; }

await_listen() { # port [pid]: 0 listening, 1 the process ended first, 2 not within 60 s
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if [[ -n "${2:-}" ]] && ! alive "$2"; then return 1; fi
    sleep 0.1
  done
  return 2
}

# These fixed ports lie in the kernel's ephemeral range (32768-60999): a client connection
# elsewhere may take one as its source port. As root they are reserved from it first
# (net.ipv4.ip_local_reserved_ports; kept after `down`); either way a start that finds its
# port held for a moment is tried again.
PORT_HELD_TRIES=5
in_ranges() { # port list ("a-b,c,..."): whether a range of the list holds the port
  local r
  local -a rs
  IFS=, read -ra rs <<<"$2"
  for r in "${rs[@]}"; do ((${r%-*} <= $1 && $1 <= ${r#*-})) && return 0; done
  return 1
}
reserve_ports() { # port...: those in the ephemeral range and not yet reserved (root only)
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports lo hi cur p
  local -a add=()
  [[ $(id -u) -eq 0 && -w $f ]] || return 0
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  cur=$(cat $f)
  for p; do ((lo <= p && p <= hi)) && ! in_ranges "$p" "$cur" && add+=("$p"); done
  ((${#add[@]})) || return 0
  if (IFS=,; echo "${cur:+$cur,}${add[*]}" >$f) 2>/dev/null; then
    say "reserved port(s) $(IFS=,; echo "${add[*]}") from the kernel's ephemeral range (net.ipv4.ip_local_reserved_ports), so no outgoing connection takes them"
  fi
}
port_was_held() { # log try port
  tail -n 20 "$1" 2>/dev/null | grep -qi "address already in use" || return 1
  say "port $3 is held by a connection for a moment (attempt $2); retrying"
  sleep 1
}

start_listener() { # what port name command...: in the background, log and pid under $DIR
  local what=$1 port=$2 name=$3 try pid r
  shift 3
  port_free_or_ours "$port" "$what"
  for try in $(seq 1 $PORT_HELD_TRIES); do
    nohup "$@" >"$DIR/log/$name.log" 2>&1 &
    pid=$!
    echo $pid >"$DIR/$name.pid"
    r=0
    await_listen "$port" $pid || r=$?
    [[ $r == 0 ]] && return 0
    [[ $r == 1 ]] && port_was_held "$DIR/log/$name.log" "$try" "$port" && continue
    break
  done
  [[ $r == 1 ]] && die "$what exited before listening on port $port; its log ($DIR/log/$name.log) ends with: $(tail -n 5 "$DIR/log/$name.log")"
  die "$what did not start listening on port $port within 60 s; see $DIR/log/$name.log"
}

port_free_or_ours() { # port what
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 ($2) is taken by another process; stop it, or run 'make stop' if it is an old devenv"
  fi
}

pg_start() { # name port
  local name=$1 port=$2 try
  if pg_running "$name"; then return 0; fi
  port_free_or_ours "$port" "postgres $name"
  for try in $(seq 1 $PORT_HELD_TRIES); do
    as_pg "$PGBIN/pg_ctl" -D "$DIR/$name" -l "$DIR/log/$name.log" -w -t 60 start >/dev/null 2>&1 && return 0
    port_was_held "$DIR/log/$name.log" "$try" "$port" || break
  done
  die "postgres $name failed to start; see $DIR/log/$name.log"
}

pg_conf() { # name port
  cat >>"$DIR/$1/postgresql.auto.conf" <<CONF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/sock'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '64MB'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
cluster_name = 'pgfleet-dev-$1'
CONF
}

pg_init() { # name port
  local name=$1 port=$2
  as_pg "$PGBIN/initdb" -D "$DIR/$name" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$DIR/log/$name-initdb.log" 2>&1 || die "initdb $name failed; see $DIR/log/$name-initdb.log"
  pg_conf "$name" "$port"
  cat >>"$DIR/$name/pg_hba.conf" <<HBA
host    all             all             127.0.0.1/32            scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
HBA
  pg_start "$name" "$port"
  as_pg "$PGBIN/psql" -X -q -h "$DIR/sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE $PGUSER_NAME LOGIN REPLICATION CREATEDB PASSWORD '$PGPASS'" \
    -c "GRANT pg_monitor TO $PGUSER_NAME" >/dev/null
}

pg_standby() { # name port upstream_port slot
  local name=$1 port=$2 up=$3 slot=$4
  local args=(-h 127.0.0.1 -p "$up" -U "$PGUSER_NAME" -D "$DIR/$name" -R -X stream -c fast)
  [[ -n "$slot" ]] && args+=(-C -S "$slot")
  as_pg env PGPASSWORD=$PGPASS "$PGBIN/pg_basebackup" "${args[@]}" >"$DIR/log/$name-basebackup.log" 2>&1 ||
    die "pg_basebackup for $name failed; see $DIR/log/$name-basebackup.log"
  # the copy carries the upstream's settings: ours come last and win
  sed -i "/^port = /d;/^cluster_name = /d" "$DIR/$name/postgresql.auto.conf"
  cat >>"$DIR/$name/postgresql.auto.conf" <<CONF
port = $port
cluster_name = 'pgfleet-dev-$name'
CONF
  pg_start "$name" "$port"
}

seed_primary() {
  psql_at $PG_PRIMARY postgres -c "CREATE DATABASE app" >/dev/null
  psql_at $PG_PRIMARY app <<'SQL' >/dev/null
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                        email text UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     customer_id bigint NOT NULL REFERENCES customers(id),
                     total numeric(12,2) NOT NULL, status text NOT NULL DEFAULT 'new',
                     created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO customers (name, email)
  SELECT 'customer ' || g, 'customer' || g || '@example.com' FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, total, status)
  SELECT 1 + (g % 100), round((random() * 500)::numeric, 2), (ARRAY['new','paid','shipped'])[1 + g % 3]
  FROM generate_series(1, 1000) g;
CREATE PUBLICATION app_pub FOR TABLE customers, orders;
SQL
}

seed_reporting() {
  psql_at $PG_REPORTING postgres -c "CREATE DATABASE app_reporting" >/dev/null
  psql_at $PG_REPORTING app_reporting <<SQL >/dev/null
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text UNIQUE,
                        created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric(12,2) NOT NULL,
                     status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
SQL
  # CREATE SUBSCRIPTION needs superuser on PostgreSQL 15
  as_pg env PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q -h "$DIR/sock" -p $PG_REPORTING -U postgres -d app_reporting -v ON_ERROR_STOP=1 \
    -c "CREATE SUBSCRIPTION app_sub CONNECTION 'host=127.0.0.1 port=$PG_PRIMARY dbname=app user=$PGUSER_NAME password=$PGPASS' PUBLICATION app_pub" \
    -c "GRANT SELECT (subconninfo) ON pg_subscription TO $PGUSER_NAME" >/dev/null
}

# app_archive on the reporting server: an empty copy of the app schema, the target
# for the stream `make run` suggests creating. CREATE SUBSCRIPTION needs a superuser
# on PostgreSQL 15, so that database is registered with its own admin role.
seed_archive() {
  local exists
  exists=$(as_pg "$PGBIN/psql" -X -At -h "$DIR/sock" -p $PG_REPORTING -U postgres -d postgres \
    -c "SELECT count(*) FROM pg_database WHERE datname = 'app_archive'")
  [[ "$exists" == "1" ]] && return 0
  as_pg "$PGBIN/psql" -X -q -h "$DIR/sock" -p $PG_REPORTING -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ADMIN_USER') THEN CREATE ROLE $ADMIN_USER LOGIN SUPERUSER PASSWORD '$ADMIN_PASS'; END IF; END \$\$" \
    -c "CREATE DATABASE app_archive OWNER $PGUSER_NAME" >/dev/null
  psql_at $PG_REPORTING app_archive <<SQL >/dev/null
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text UNIQUE,
                        created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric(12,2) NOT NULL,
                     status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
SQL
}

moto_up() {
  if running "$DIR/moto.pid"; then return 0; fi
  start_listener "moto server" $MOTO_PORT moto "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p $MOTO_PORT
  AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_REGION=$REGION AWS_DEFAULT_REGION=$REGION "$ROOT/.venv/bin/python" "$ROOT/scripts/seed_aws.py" \
    --password "$PGPASS" --user "$PGUSER_NAME" \
    primary:$PG_PRIMARY:app standby:$PG_STANDBY:app cascade:$PG_CASCADE:app reporting:$PG_REPORTING:app_reporting \
    archive:$PG_REPORTING:app_archive:$ADMIN_USER:$ADMIN_PASS \
    >"$DIR/log/seed_aws.log" 2>&1 || die "seeding moto failed; see $DIR/log/seed_aws.log"
}

# the identity providers of single sign-on: their users, then the servers
idp_up() {
  mkdir -p "$DIR/idp"
  AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_REGION=$REGION AWS_DEFAULT_REGION=$REGION \
    "$ROOT/.venv/bin/python" "$ROOT/scripts/idp/seed_users.py" "$DIR/idp" $STORE_ID \
    >"$DIR/log/seed_idp.log" 2>&1 || die "seeding the SSO users failed; see $DIR/log/seed_idp.log"
  [[ -s "$DIR/idp/oidc-secret" ]] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$DIR/idp/oidc-secret")
  if ! running "$DIR/saml_idp.pid"; then
    start_listener "SAML IdP" $SAML_PORT saml_idp "$ROOT/.venv/bin/python" "$ROOT/scripts/idp/saml_idp.py" \
      --port $SAML_PORT --users "$DIR/idp/saml-users.json" --dir "$DIR/idp"
  fi
  if ! running "$DIR/oidc.pid"; then
    command -v node >/dev/null || die "node is not installed; run scripts/bootstrap.sh"
    start_listener "OIDC provider" $OIDC_PORT oidc node "$ROOT/scripts/idp/oidc_provider.mjs" $OIDC_PORT \
      "$DIR/idp/oidc-users.json" pgfleet "$(cat "$DIR/idp/oidc-secret")" \
      "$PUBLIC_URL/auth/oidc/callback" "$PUBLIC_URL/login"
  fi
}

stop_pid() { # file...: SIGTERM to each, then up to 10 s until every one has ended
  local f pid busy pids=()
  for f; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$f"
  done
  for _ in $(seq 1 100); do
    busy=
    for pid in "${pids[@]}"; do alive "$pid" && busy=1; done
    [[ -z $busy ]] && return 0
    sleep 0.1
  done
}

redis_up() {
  if redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; then return 0; fi
  start_listener redis $REDIS_PORT redis redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$DIR"
}

# the receiver of the demo alert channel (make run creates the channel)
hook_up() {
  if running "$DIR/webhook_sink.pid"; then return 0; fi
  start_listener "webhook sink" $HOOK_PORT webhook_sink "$ROOT/.venv/bin/python" "$ROOT/scripts/webhook_sink.py" \
    --port $HOOK_PORT --secret $HOOK_SECRET
}

cmd_up() {
  reserve_ports $PG_PRIMARY $PG_STANDBY $PG_CASCADE $PG_REPORTING $REDIS_PORT $MOTO_PORT $SAML_PORT $OIDC_PORT $HOOK_PORT
  command -v "$PGBIN/initdb" >/dev/null || die "PostgreSQL 15 is not installed ($PGBIN); run scripts/bootstrap.sh"
  mkdir -p "$DIR/log" "$DIR/sock"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres:postgres "$DIR"; chmod 755 "$DIR"; fi
  if [[ ! -f "$DIR/primary/PG_VERSION" ]]; then
    say "creating the primary (port $PG_PRIMARY)"
    pg_init primary $PG_PRIMARY
    seed_primary
    say "creating the standby (port $PG_STANDBY) and the cascading standby (port $PG_CASCADE)"
    pg_standby standby $PG_STANDBY $PG_PRIMARY standby1_slot
    pg_standby cascade $PG_CASCADE $PG_STANDBY cascade1_slot
    say "creating the reporting primary (port $PG_REPORTING), subscribed to app_pub"
    pg_init reporting $PG_REPORTING
    seed_reporting
  else
    for s in primary:$PG_PRIMARY standby:$PG_STANDBY cascade:$PG_CASCADE reporting:$PG_REPORTING; do
      pg_start "${s%%:*}" "${s##*:}"
    done
  fi
  seed_archive
  redis_up
  moto_up
  idp_up
  hook_up
  say "up: postgres $PG_PRIMARY (primary) -> $PG_STANDBY (standby) -> $PG_CASCADE (cascade); $PG_PRIMARY/app =logical=> $PG_REPORTING/app_reporting; redis $REDIS_PORT; moto $MOTO_PORT; SAML IdP $SAML_PORT, OIDC provider $OIDC_PORT; webhook sink $HOOK_PORT"
}

cmd_down() {
  for s in cascade standby reporting primary; do
    if [[ -f "$DIR/$s/PG_VERSION" ]] && pg_running "$s"; then
      as_pg "$PGBIN/pg_ctl" -D "$DIR/$s" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
  if [[ -f "$DIR/redis.pid" ]]; then
    redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
    rm -f "$DIR/redis.pid"
  fi
  # each gone for real before the next 'up' binds its port again
  stop_pid "$DIR/moto.pid" "$DIR/saml_idp.pid" "$DIR/oidc.pid" "$DIR/webhook_sink.pid"
  say "down"
}

cmd_status() {
  local rc=0
  for s in primary:$PG_PRIMARY standby:$PG_STANDBY cascade:$PG_CASCADE reporting:$PG_REPORTING; do
    local n=${s%%:*} p=${s##*:}
    if [[ -f "$DIR/$n/PG_VERSION" ]] && pg_running "$n"; then
      printf '%-10s %-6s up   %s\n' "$n" "$p" "$(psql_at "$p" postgres -At -c "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END || ', ' || (SELECT count(*) FROM pg_stat_replication) || ' downstream(s)'" 2>/dev/null)"
    else
      printf '%-10s %-6s down\n' "$n" "$p"; rc=1
    fi
  done
  if redis-cli -p $REDIS_PORT ping >/dev/null 2>&1; then printf '%-10s %-6s up\n' redis $REDIS_PORT; else printf '%-10s %-6s down\n' redis $REDIS_PORT; rc=1; fi
  for s in moto:$MOTO_PORT saml_idp:$SAML_PORT oidc:$OIDC_PORT webhook_sink:$HOOK_PORT; do
    local n=${s%%:*} p=${s##*:}
    if running "$DIR/$n.pid"; then printf '%-10s %-6s up\n' "$n" "$p"; else printf '%-10s %-6s down\n' "$n" "$p"; rc=1; fi
  done
  return $rc
}

# provoke what alerting watches, so a new user sees an alert fire, notify and resolve
pg_su() { # port db sql
  as_pg "$PGBIN/psql" -X -q -At -h "$DIR/sock" -p "$1" -U postgres -d "$2" -v ON_ERROR_STOP=1 -c "$3"
}
write_load() { # MB of WAL on the primary
  pg_su $PG_PRIMARY app "CREATE TABLE IF NOT EXISTS provoke_load (id bigint, pad text);
    INSERT INTO provoke_load SELECT g, repeat('x', 900) FROM generate_series(1, $1 * 1000) g;
    DELETE FROM provoke_load" >/dev/null
}
cmd_provoke() {
  case "${1:-}" in
    lag)
      pg_su $PG_STANDBY postgres "SELECT pg_wal_replay_pause()" >/dev/null
      write_load 8
      say "replay paused on the standby ($PG_STANDBY) and 8 MB written on the primary: the standby's" \
          "lag grows past the demo-lag rule's 1 MB; it fires after 20 s (scripts/devenv.sh provoke calm resolves it)" ;;
    cascade)
      as_pg "$PGBIN/pg_ctl" -D "$DIR/cascade" -m fast -w stop >/dev/null
      say "the cascade ($PG_CASCADE) is stopped: database-down fires after 1 minute" ;;
    slot)
      pg_su $PG_PRIMARY app "SELECT 1 FROM pg_create_logical_replication_slot('provoke_slot', 'pgoutput')
        WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'provoke_slot')" >/dev/null
      write_load 40
      say "slot provoke_slot (inactive, nobody reads it) retains 40 MB of WAL on the primary: demo-slot fires after 20 s" ;;
    calm)
      pg_su $PG_STANDBY postgres "SELECT pg_wal_replay_resume()" >/dev/null || true
      pg_running cascade || pg_start cascade $PG_CASCADE
      pg_su $PG_PRIMARY app "SELECT pg_drop_replication_slot('provoke_slot') FROM pg_replication_slots
        WHERE slot_name = 'provoke_slot'; DROP TABLE IF EXISTS provoke_load" >/dev/null
      say "replay resumed, the cascade started, provoke_slot dropped: the alerts resolve" ;;
    *) echo "usage: scripts/devenv.sh provoke lag|cascade|slot|calm" >&2; exit 2 ;;
  esac
}

cmd_env() {
  cat <<ENV
PGFLEET_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
AWS_REGION=$REGION
AWS_DEFAULT_REGION=$REGION
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_EC2_METADATA_DISABLED=true
PGFLEET_PUBLIC_URL=$PUBLIC_URL
PGFLEET_SAML_IDP_METADATA=http://127.0.0.1:$SAML_PORT/metadata
PGFLEET_SSO_ROLE_MAP=$ROLE_MAP
PGFLEET_SSO_IDENTITY_STORE_ID=$STORE_ID
PGFLEET_OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT
PGFLEET_OIDC_CLIENT_ID=pgfleet
PGFLEET_OIDC_CLIENT_SECRET=$(cat "$DIR/idp/oidc-secret" 2>/dev/null)
PGFLEET_OIDC_SCOPES="openid email groups"
PGFLEET_OIDC_LABEL="OpenID Connect (test provider)"
PGFLEET_SAML_LABEL="AWS IAM Identity Center (test IdP)"
PGFLEET_DEVENV_HOOK_URL=http://127.0.0.1:$HOOK_PORT/hook
PGFLEET_DEVENV_HOOK_SECRET=$HOOK_SECRET
ENV
}

# sourced (scripts/fleet.sh builds its servers with the functions above): no command
# register_db BINARY id name port dbname user secret-id tags(a,b) rds-instance-id|- log-file|-:
# with the pgfleet at $PGFLEET_URL (AUTH_KEY); one already registered is left as it is
register_db() {
  local bin=$1 t out
  shift
  local args=(db add --id "$1" --name "$2" --host 127.0.0.1 --port "$3" --dbname "$4" --user "$5"
              --secret-id "$6" --region $REGION)
  for t in ${7//,/ }; do args+=(--tag "$t"); done
  [[ $8 == - ]] || args+=(--rds-instance-id "$8")
  [[ $9 == - ]] || args+=(--log-file "$9")
  out=$("$bin" "${args[@]}" 2>&1) ||
    grep -q "already registered" <<<"$out" || say "could not register $1: $out"
}

# the local servers (their passwords are in moto's Secrets Manager) and the empty target
# of a demo stream (primary/app -> reporting/app_archive, see the Streams section at /)
cmd_register() { # BINARY
  local name port db
  for s in primary:$PG_PRIMARY:app standby:$PG_STANDBY:app cascade:$PG_CASCADE:app reporting:$PG_REPORTING:app_reporting; do
    IFS=: read -r name port db <<<"$s"
    register_db "$1" "$name" "local $name" "$port" "$db" $PGUSER_NAME "pgfleet/dev/$name" local \
      "pgfleet-dev-$name" "$DIR/log/$name.log"
  done
  register_db "$1" archive "local archive (stream target)" $PG_REPORTING app_archive $ADMIN_USER \
    pgfleet/dev/archive local - -
}

[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  register) cmd_register "${2:?usage: scripts/devenv.sh register PGFLEET_BINARY}" ;;
  provoke) shift; cmd_provoke "$@" ;;
  *) echo "usage: scripts/devenv.sh up|down|status|env|register BINARY|provoke lag|cascade|slot|calm" >&2; exit 2 ;;
esac
