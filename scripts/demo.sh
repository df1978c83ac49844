#!/usr/bin/env bash
# The narrated tour of `make demo` (scripts/run.sh --demo starts the local environment,
# the fleet of scripts/fleet.sh and pgfleet, then runs this). Each step says what it
# does, runs it in the terminal, and says where the web interface shows it.
#   DEMO_PACE=normal  pauses a few seconds after each step, to look (default)
#   DEMO_PACE=step    waits for Enter after each step
#   DEMO_PACE=fast    no pauses (make test runs the tour like this)
# Needs PGFLEET_BIN, PGFLEET_URL, AUTH_KEY, PGFLEET_DEMO_UI, PGFLEET_DEMO_HOOK_PAGE.
set -euo pipefail
DEMO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/fleet.sh
source "$DEMO_ROOT/scripts/fleet.sh"
load_params || die "no fleet here: run 'make demo'"
BIN=${PGFLEET_BIN:?} UI=${PGFLEET_DEMO_UI:?} HOOK_PAGE=${PGFLEET_DEMO_HOOK_PAGE:?}
: "${PGFLEET_URL:?}" "${AUTH_KEY:?}"
# the commands shown are the ones a user types
PATH="$(cd "$(dirname "$BIN")" && pwd):$PATH"
PACE=${DEMO_PACE:-normal}
[[ $PACE =~ ^(normal|step|fast)$ ]] || die "DEMO_PACE is normal, step or fast, not '$PACE'"
C0=$(cname 0) C1=$(cname 1)
P0=$(port_of 0 0) P1=$(port_of 1 0)
STEPS=7 STEP=0
if [[ -t 1 ]]; then B=$'\e[1m' D=$'\e[2m' N=$'\e[0m'; else B='' D='' N=''; fi

step() { STEP=$((STEP + 1)); printf '\n%s== %d/%d  %s%s\n' "$B" "$STEP" "$STEPS" "$*" "$N"; }
say() { printf '%s\n' "$*" | fold -s -w 92 | sed 's/^/   /'; }
look() { printf '   %slook:%s %s\n' "$B" "$N" "$*"; }
# a command as the user would type it, then its output
show() {
  printf '   %s$ %s%s\n' "$D" "$*" "$N"
  local rc=0
  "$@" 2>&1 | sed 's/^/     /' || rc=${PIPESTATUS[0]}
  return "$rc"
}
# a shell line (a pipe, variables), shown as typed
show_sh() {
  printf '   %s$ %s%s\n' "$D" "$1" "$N"
  bash -o pipefail -c "$1" 2>&1 | sed 's/^/     /'
}
pause() {
  case $PACE in
    fast) ;;
    step) read -r -p "   [Enter: next step] " _ </dev/tty || true ;;
    *) sleep "${1:-6}" ;;
  esac
}
api() { # method path [json body]: the answer on stdout; fails on HTTP >= 400
  curl -sS --fail-with-body -H "Authorization: Bearer $AUTH_KEY" -H 'Content-Type: application/json' \
    -X "$1" "$PGFLEET_URL$2" ${3:+--data-binary "$3"}
}
wait_until() { # seconds what command...: polls once a second
  local limit=$1 what=$2 t=0
  shift 2
  until "$@"; do
    t=$((t + 1))
    ((t < limit)) || die "the demo waited ${limit} s for $what; pgfleet's log: $DIR/log/pgfleet.log"
    sleep 1
  done
}
pg() { # port db sql: as pgfleet
  psql_at "$1" "$2" -At -c "$3"
}

# ---------------------------------------------------------------------------------------
step "The fleet, registered and watched"
say "$(wc -l <"$FDIR/servers.tsv") PostgreSQL servers in $CLUSTERS clusters (a primary, standbys and a cascading" \
  "standby each), pgbench writing to every primary, and the AWS emulator describing the $C0 cluster" \
  "as RDS instances and the $C1 cluster as an Aurora cluster. pgfleet was given every database."
all_ok() {
  local total ok
  total=$(api GET /api/databases | jq '.databases | length')
  ok=$(api GET '/api/databases?health=ok' | jq '.databases | length')
  [[ $total -gt 0 && $ok -eq $total ]]
}
wait_until 90 "every database to answer its health probe" all_ok
show "$DEMO_ROOT/scripts/fleet.sh" status
show_sh "pgfleet db list | sed -n 1,12p"  # (head would end the pipe early: SIGPIPE)
echo "     ..."
say "$(api GET /api/databases | jq '.databases | length') databases, all healthy."
look "$UI/#/databases (sign in as admin: the password is printed above)"
pause

# ---------------------------------------------------------------------------------------
step "Discovery: the replication topology"
say "pgfleet discover connects once to each server it is given and ties together what they" \
  "report: standbys and cascades through their WAL senders and slots, subscriptions to their" \
  "publishers in other clusters, slots and the WAL they hold. With AUTH_KEY set it names the" \
  "databases registered in the server."
FLEET_SERVERS=$(while IFS=$'\t' read -r _ _ _ port _; do printf 'postgresql://%s@127.0.0.1:%s/postgres ' "$PGUSER_NAME" "$port"; done <"$FDIR/servers.tsv")
export FLEET_SERVERS=${FLEET_SERVERS% }
say "FLEET_SERVERS holds the $(wc -l <"$FDIR/servers.tsv") servers as libpq URIs (${FLEET_SERVERS%% *} ...)."
show_sh "PGPASSWORD=$PGPASS pgfleet discover \$FLEET_SERVERS"
# the daemon's graph: every standby's edge, both streams, and RDS merged in
topo_whole() {
  topo=$(api GET /api/replication/discover)
  jq -e --argjson phys $(($(wc -l <"$FDIR/servers.tsv") - CLUSTERS)) \
    '([.edges[] | select(.kind == "physical")] | length) >= $phys and
     ([.edges[] | select(.kind == "logical")] | length) >= 2 and ([.nodes[] | select(.rds)] | length) > 0' \
    <<<"$topo" >/dev/null
}
wait_until 90 "the daemon's topology to hold the whole fleet" topo_whole
say "The daemon keeps the same graph live, merged with what RDS reports:" \
  "$(jq -r '[.nodes[] | select(.rds)] | length' <<<"$topo") servers carry an RDS instance," \
  "$(jq -r '[.nodes[] | select(.rds.cluster_id)] | length' <<<"$topo") of them in the Aurora cluster;" \
  "$(jq -r '[.edges[] | select(.kind == "physical")] | length' <<<"$topo") physical and" \
  "$(jq -r '[.edges[] | select(.kind == "logical")] | length' <<<"$topo") logical edges."
look "$UI/#/topology: the graph, lag on every edge, updated every 5 s over the WebSocket"
pause 8

# ---------------------------------------------------------------------------------------
step "A new logical stream, pre-flight first"
say "Copy customers and orders of $C0 tenant 2 into ${C0}_archive on the $C1 cluster. The pre-flight" \
  "check runs first and names exactly what is missing:"
stream_args=(--source "$C0-tenant-2" --target "$C0-archive" --table public.customers --table public.orders)
if show pgfleet stream validate "${stream_args[@]}"; then die "the pre-flight was expected to fail: the target has no tables yet"; fi
say "The target has no tables. Its hint says how to fix that: the source's definition, with pg_dump:"
show_sh "PGPASSWORD=$PGPASS pg_dump -s -t customers -t orders -h 127.0.0.1 -p $P0 -U $PGUSER_NAME ${C0}_tenant_2 | PGPASSWORD=$PGPASS psql -X -q -o /dev/null -h 127.0.0.1 -p $P1 -U $PGUSER_NAME ${C0}_archive"
show pgfleet stream validate "${stream_args[@]}"
say "No error left. The one warning (sequences are not replicated) does not matter for a copy" \
  "nobody inserts into, so --force accepts it:"
created=$(show pgfleet stream create "${stream_args[@]}" --force)
printf '%s\n' "$created"
[[ $created =~ (stream_[0-9a-z]+) ]] || die "stream create did not print the stream's id"
sid=${BASH_REMATCH[1]}
streaming() { api GET "/api/replication/streams/$sid" | jq -e '.state == "streaming" and .sync.ready == .sync.tables' >/dev/null; }
wait_until 120 "the stream to finish its initial copy" streaming
show pgfleet stream list
say "Rows in orders: source $(pg "$P0" "${C0}_tenant_2" "SELECT count(*) FROM orders")," \
  "copy $(pg "$P1" "${C0}_archive" "SELECT count(*) FROM orders")."
look "$UI/#/streams: the stream, its tables' copy states, and its lag"
pause 8

# ---------------------------------------------------------------------------------------
step "A migration across the fleet, dry run first"
ids=$(api GET '/api/databases?tag=shop' | jq -c '[.databases[].id]')
ntargets=$(jq length <<<"$ids")
sql=$'CREATE INDEX orders_status_idx ON orders (status);\nALTER TABLE orders ADD COLUMN shipped_at timestamptz;'
say "Every database with the shop schema ($ntargets: tenants, the reporting copy, the archive, the" \
  "migration target) gets an index and a column, each in one transaction:"
printf '%s\n' "$sql" | sed 's/^/       /'
migrate() { # dry_run: runs it, waits, prints one line per target; sets MIG to the execution
  local body id
  body=$(jq -nc --arg sql "$sql" --argjson ids "$ids" --argjson dry "$1" \
    '{name: "2026-12-orders-shipped-at", sql: $sql, database_ids: $ids, dry_run: $dry,
      continue_on_error: true, parallel: 4}')
  id=$(api POST /api/migrations/execute "$body" | jq -r .execution_id)
  finished() { MIG=$(api GET "/api/migrations/$id"); jq -e '.status != "running" and .status != "cancelling"' >/dev/null <<<"$MIG"; }
  wait_until 180 "the migration $id" finished
  jq -r '.targets[] | "\(.target)\t\(.status)\t\(.error // "")"' <<<"$MIG" | awk -F'\t' '{ printf "     %-20s %-12s %s\n", $1, $2, $3 }'
  say "execution $id: $(jq -r .status <<<"$MIG")"
}
say "The dry run runs everything on every target, then rolls back:"
migrate true
say "It found drift: someone added orders.shipped_at by hand on $C1 tenant $TENANTS. Go ahead anyway" \
  "(continue on error): that one target rolls back, every other one commits."
migrate false
failed=$(jq -r '[.targets[] | select(.status == "failed") | .target] | join(", ")' <<<"$MIG")
indexes() { pg "$1" "$2" "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_status_idx'"; }
say "Failed and rolled back: $failed. Its index was created, then rolled back with the rest:" \
  "orders_status_idx there: $(indexes "$P1" "${C1}_tenant_$TENANTS"), on $C0 tenant 1: $(indexes "$P0" "${C0}_tenant_1")."
look "$UI/#/migrations: both executions, per target, with the error"
pause 8

# ---------------------------------------------------------------------------------------
step "An alert: replay paused on a standby"
stb=$(port_of 0 1)
say "Replay is paused on fleet-$C0-standby1 (port $stb) and 8 MB are written on the primary: the" \
  "standby's lag passes the demo-lag rule's 1 MB; the rule fires after 20 s and notifies the" \
  "local-webhook channel."
su_sql "$stb" postgres "SELECT pg_wal_replay_pause()" >/dev/null
pg "$P0" "${C0}_bench" "CREATE TABLE IF NOT EXISTS demo_burst (id bigint, pad text);
  INSERT INTO demo_burst SELECT g, repeat('x', 900) FROM generate_series(1, 8000) g; DELETE FROM demo_burst" >/dev/null
alert_in() { # state
  api GET /api/alerts | jq -e --arg s "$1" --arg p ":$stb" \
    '[.alerts[] | select(.rule == "demo-lag" and .state == $s and ((.labels | tostring) | contains($p)))] | length > 0' >/dev/null
}
wait_until 60 "the lag alert to be pending" alert_in pending
say "pending: over the threshold, waiting out the rule's 20 s"
wait_until 90 "the lag alert to fire" alert_in firing
show pgfleet alerts list
notified() { # a message about this standby whose signature the sink checked
  curl -s "${HOOK_PAGE%/}/messages" | jq -e --arg p ":$stb" \
    '[.[] | select(.signature == "ok" and ((.body | tostring) | contains($p)))] | length > 0' >/dev/null
}
wait_until 30 "the webhook notification" notified
say "The webhook received it, signed (the sink checks X-Pgfleet-Signature)."
aid=$(api GET /api/alerts | jq -r --arg p ":$stb" '[.alerts[] | select(.rule == "demo-lag" and ((.labels | tostring) | contains($p)))][0].id')
show pgfleet alerts ack "$aid"
look "$UI/#/alerts (the alert, its guidance and SQL) and $HOOK_PAGE (what the webhook received)"
say "Replay resumes; the alert resolves once the lag has stayed under the threshold for 20 s."
su_sql "$stb" postgres "SELECT pg_wal_replay_resume()" >/dev/null
resolved() { ! alert_in firing && ! alert_in pending; }
wait_until 120 "the lag alert to resolve" resolved
show pgfleet alerts history --rule demo-lag --limit 4
pause

# ---------------------------------------------------------------------------------------
step "The audit trail"
say "Every change above, who made it and from where (the API key here; a person's name when" \
  "signed in):"
show pgfleet audit --limit 6
look "$UI/#/audit"
pause

# ---------------------------------------------------------------------------------------
step "Explore"
say "Everything stays up: the fleet keeps writing, pgfleet keeps watching. Sign in at $UI/login" \
  "with the users printed at the start (or single sign-on through the two test identity" \
  "providers); scripts/devenv.sh provoke lag|slot|cascade|calm provokes more alerts;" \
  "scripts/fleet.sh status shows the fleet. 'make stop' ends it all."
printf '\ndemo: the tour is complete\n'
