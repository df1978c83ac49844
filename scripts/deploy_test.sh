#!/usr/bin/env bash
# `make deploy-test`: builds the production image, starts it against a local environment of
# its own (PostgreSQL primary -> standby -> cascade, Redis, the AWS emulator; on ports of its
# own, so it runs beside `make run`), waits for /readyz and runs the smoke suite
# (tests/deploy/smoke.py). Then: it runs as non-root with a read-only root file system,
# its health check passes, SIGTERM stops it with exit 0 within the grace time, it restarts
# cleanly, and without an authentication method it refuses to start (exit 17).
# Prints a pass/fail summary; cleans up. Exit 0 only when every check passed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG=${IMAGE:-pgfleet:deploy-test}
E=$("$ROOT/scripts/container.sh" engine) || { echo "deploy-test: no container engine (podman or a Docker engine)" >&2; exit 3; }
PY="$ROOT/.venv/bin/python"

PASS=0 FAIL=0
result() { # name ok detail
  if [[ $2 == 0 ]]; then PASS=$((PASS + 1)); printf '  pass  %s %s\n' "$1" "${3:-}"; else FAIL=$((FAIL + 1)); printf '  FAIL  %s %s\n' "$1" "${3:-}"; fi
}

NAME=pgfleet-deploy-test-$$
DEVDIR=$(mktemp -d /var/tmp/pgfleet-deploy-XXXXXX)
{ read -r BASEPORT; read -r PORT; } < <("$PY" "$ROOT/scripts/freeport.py" 9 1)
export PGFLEET_DEVENV_DIR=$DEVDIR PGFLEET_DEVENV_PORT_BASE=$BASEPORT PGFLEET_PUBLIC_URL=http://127.0.0.1:$PORT
cleanup() {
  $E rm -f "$NAME" >/dev/null 2>&1 || true # one at a time: a missing name stops a list
  $E rm -f "$NAME-noauth" >/dev/null 2>&1 || true
  "$ROOT/scripts/devenv.sh" down >/dev/null 2>&1 || true
  rm -rf "$DEVDIR"
}
trap cleanup EXIT

t0=$(date +%s)
"$ROOT/scripts/container.sh" build "$TAG"
echo "deploy-test: image $TAG built in $(( $(date +%s) - t0 )) s; starting the local environment (ports $BASEPORT..$((BASEPORT + 8)))"
"$ROOT/scripts/devenv.sh" up >/dev/null
eval "$("$ROOT/scripts/devenv.sh" env | sed 's/^/export /')"
KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
USERPW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
# a password user in the emulator's Secrets Manager, made by the image's own CLI
printf '%s\n' "$USERPW" | $E run --rm -i --network host -e AWS_ENDPOINT_URL -e AWS_REGION -e AWS_ACCESS_KEY_ID \
  -e AWS_SECRET_ACCESS_KEY -e AWS_EC2_METADATA_DISABLED=true "$TAG" user add smoke-admin --role admin --password-stdin >/dev/null

run() { # name, extra args...
  local n=$1; shift
  $E run -d --name "$n" --network host --read-only --tmpfs /tmp \
    -e PGFLEET_LISTEN=0.0.0.0:$PORT -e PGFLEET_REDIS_URL -e AWS_ENDPOINT_URL -e AWS_REGION \
    -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_EC2_METADATA_DISABLED=true \
    -e PGFLEET_COLLECT_INTERVAL_SECONDS=2 "$@" "$TAG" >/dev/null
}
ready() { for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }

echo "deploy-test: checks"
run "$NAME" -e AUTH_KEY="$KEY"
ready && r=0 || r=1; result "ready on /readyz" $r "(port $PORT)"
"$PY" "$ROOT/tests/deploy/smoke.py" "http://127.0.0.1:$PORT" "$KEY" smoke-admin "$USERPW" \
  "$BASEPORT" "$((BASEPORT + 1))" && rc=0 || rc=$?
result "smoke suite" $rc
uid=$($E exec "$NAME" id -u 2>/dev/null || echo "?")
[[ $uid != 0 && $uid != "?" ]] && r=0 || r=1; result "runs as non-root" $r "(uid $uid)"
$E exec "$NAME" sh -c 'touch /usr/local/bin/x' >/dev/null 2>&1 && ro=1 || ro=0
result "read-only root file system" $ro
$E exec "$NAME" pgfleet health --ready >/dev/null 2>&1 && r=0 || r=1; result "health check (pgfleet health --ready)" $r
first=$($E logs "$NAME" 2>&1 | sed -n 1p || true)
"$PY" -c 'import json,sys; json.loads(sys.argv[1])' "$first" >/dev/null 2>&1 && r=0 || r=1
result "JSON logs on stdout" $r
s0=$(date +%s%N)
$E stop -t 10 "$NAME" >/dev/null
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
code=$($E inspect "$NAME" --format '{{.State.ExitCode}}')
[[ $code == 0 && $ms -lt 10000 ]] && r=0 || r=1; result "SIGTERM: exit 0 within the grace time" $r "(exit $code after $ms ms)"
$E start "$NAME" >/dev/null
ready && curl -fs -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/databases" | grep -q '"primary"' && r=0 || r=1
result "restarts cleanly, state kept in Redis" $r
$E rm -f "$NAME" >/dev/null
run "$NAME-noauth" -e PGFLEET_USERS_SECRET=pgfleet/no-users-$$
for _ in $(seq 1 50); do [[ $($E inspect "$NAME-noauth" --format '{{.State.Status}}') == exited ]] && break; sleep 0.2; done
code=$($E inspect "$NAME-noauth" --format '{{.State.ExitCode}}')
hint=$($E logs "$NAME-noauth" 2>&1 | grep -c "AUTH_KEY" || true)
[[ $code == 17 && $hint -gt 0 ]] && r=0 || r=1; result "no authentication: refuses to start" $r "(exit $code)"
size=$($E image inspect "$TAG" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')
echo "deploy-test: $PASS passed, $FAIL failed (image $size, $(( $(date +%s) - t0 )) s)"
[[ $FAIL == 0 ]]
