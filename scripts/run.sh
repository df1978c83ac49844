#!/usr/bin/env bash
# `make run`: starts the local environment and serves pgfleet on
# http://localhost:8000 until Ctrl-C; then stops everything it started.
# `make demo`: the same plus the fleet of scripts/fleet.sh (FLEET_SIZE, default
# "default"), pgfleet in the background, and the narrated tour of scripts/demo.sh
# (DEMO_PACE=normal|step|fast); everything stays up until `make stop`.
#   scripts/run.sh BINARY          run in the foreground
#   scripts/run.sh --demo BINARY   the demo
#   scripts/run.sh --stop          stop a run or a demo (make stop)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $(id -u) -eq 0 ]]; then DIR="${PGFLEET_DEVENV_DIR:-/var/tmp/pgfleet-devenv}"; else DIR="${PGFLEET_DEVENV_DIR:-$ROOT/.devenv}"; fi
PIDFILE="$DIR/pgfleet.pid"

stop_all() {
  if [[ -f "$PIDFILE" ]]; then
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PIDFILE"
  fi
  "$ROOT/scripts/fleet.sh" down 2>/dev/null || true
  "$ROOT/scripts/devenv.sh" down
}

if [[ "${1:-}" == "--stop" ]]; then stop_all; exit 0; fi
DEMO=
if [[ "${1:-}" == "--demo" ]]; then DEMO=1; shift; fi
BIN=${1:?usage: scripts/run.sh [--demo] BINARY | --stop}
if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "run: pgfleet is already running here (pid $(cat "$PIDFILE"), from make run or make demo): 'make stop' first" >&2
  exit 1
fi

"$ROOT/scripts/devenv.sh" up
# the tour changes the fleet (a stream, a migration): each demo starts from a fresh one
if [[ -n $DEMO ]]; then "$ROOT/scripts/fleet.sh" down --purge && "$ROOT/scripts/fleet.sh" up; fi
mkdir -p "$DIR"
if [[ -z "${AUTH_KEY:-}" ]]; then
  [[ -s "$DIR/auth_key" ]] || (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$DIR/auth_key")
  AUTH_KEY=$(cat "$DIR/auth_key")
fi
export AUTH_KEY
eval "$("$ROOT/scripts/devenv.sh" env | sed 's/^/export /')"
export PGFLEET_LISTEN="${PGFLEET_LISTEN:-127.0.0.1:8000}"
export PGFLEET_LOG_FORMAT="${PGFLEET_LOG_FORMAT:-text}"
# the local servers write their logs here: pgfleet may follow files in it, and nowhere else
export PGFLEET_LOG_DIRS="${PGFLEET_LOG_DIRS:-$DIR/log}"

if [[ -z $DEMO ]]; then
  trap 'stop_all' EXIT
else # the demo leaves everything up to explore, also when a step fails
  trap 'echo "demo: everything it started is still running; make stop ends it" >&2' EXIT
fi
trap 'exit 130' INT TERM

# three users in the emulator's Secrets Manager (pgfleet/users), one per role;
# their passwords are made once and kept in $DIR/passwords (mode 600)
if [[ ! -s "$DIR/passwords" ]]; then
  (umask 077; for u in admin operator viewer; do
     echo "$u $(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; done >"$DIR/passwords")
fi
while read -r user pw; do
  printf '%s\n' "$pw" | "$BIN" user add "$user" --role "$user" --password-stdin >/dev/null 2>&1 ||
    printf '%s\n' "$pw" | "$BIN" user passwd "$user" --role "$user" --password-stdin >/dev/null ||
    echo "run: could not set up user $user" >&2
done <"$DIR/passwords"

URL="http://localhost:${PGFLEET_LISTEN##*:}"
cat <<MSG

  pgfleet:   $URL/login
MSG
while read -r user pw; do printf '  %-10s %-10s password %s\n' "$([[ $user == admin ]] && echo users: || echo)" "$user" "$pw"; done <"$DIR/passwords"
"$ROOT/.venv/bin/python" - "$DIR/idp/passwords.json" <<'PY'
import json, sys
users = json.load(open(sys.argv[1]))
print("  single sign-on, through the local test IdPs (both buttons on the sign-in page):")
for u, pw in sorted(users.items()):
    print(f"             {u:26} password {pw}")
PY
cat <<MSG
  alerts:    scripts/devenv.sh provoke lag   (then: calm; also cascade, slot); see them at
             $URL/#/alerts, notifications at ${PGFLEET_DEVENV_HOOK_URL%/hook}/
  API key:   $URL/login#key=$AUTH_KEY
  try:       curl -H "Authorization: Bearer $AUTH_KEY" $URL/api/models/test
  stop:      $([[ -z $DEMO ]] && echo "Ctrl-C (or 'make stop' from another shell)" || echo "make stop")

MSG
if [[ -z $DEMO ]]; then
  "$BIN" serve &
else
  echo "  pgfleet's log: $DIR/log/pgfleet.log"
  nohup "$BIN" serve >>"$DIR/log/pgfleet.log" 2>&1 &
fi
PID=$!
echo $PID >"$PIDFILE"

# register the local servers and, for the demo, the fleet's databases
export PGFLEET_URL="http://127.0.0.1:${PGFLEET_LISTEN##*:}"
for _ in $(seq 1 50); do curl -fs "$PGFLEET_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$ROOT/scripts/devenv.sh" register "$BIN"
if [[ -n $DEMO ]]; then "$ROOT/scripts/fleet.sh" register "$BIN"; fi
# alerting: a webhook channel to the local sink (its page lists what arrives) and rules with
# short durations; `scripts/devenv.sh provoke lag|cascade|slot|calm` makes them fire and resolve
api() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AUTH_KEY" \
          -H 'Content-Type: application/json' -X "$1" "$PGFLEET_URL$2" --data-binary @-; }
for body in \
  "{\"name\":\"local-webhook\",\"type\":\"webhook\",\"url\":\"$PGFLEET_DEVENV_HOOK_URL\",\"secret\":\"$PGFLEET_DEVENV_HOOK_SECRET\"}"; do
  st=$(api POST /api/alerts/channels <<<"$body")
  [[ $st == 201 || $st == 409 ]] || echo "run: could not create the demo alert channel (HTTP $st)" >&2
done
for body in \
  '{"name":"demo-lag","kind":"replication_lag","severity":"warning","for":"20s","resolve_after":"20s","threshold_bytes":1048576,"channels":["local-webhook"]}' \
  '{"name":"demo-slot","kind":"slot_retention","severity":"warning","for":"20s","resolve_after":"20s","threshold_bytes":33554432,"channels":["local-webhook"]}'; do
  st=$(api POST /api/alerts/rules <<<"$body")
  [[ $st == 201 || $st == 409 ]] || echo "run: could not create a demo alert rule (HTTP $st)" >&2
done
if [[ -z $DEMO ]]; then wait $PID || true; exit 0; fi
PGFLEET_DEMO_UI=$URL PGFLEET_DEMO_HOOK_PAGE=${PGFLEET_DEVENV_HOOK_URL%/hook}/ PGFLEET_BIN=$BIN \
  "$ROOT/scripts/demo.sh"
