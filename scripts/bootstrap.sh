#!/usr/bin/env bash
# Installs what pgfleet needs to build, test and run locally, and nothing twice:
# Debian packages, the Python venv with the test tools, and (when ui/package.json
# exists) the npm packages of the UI. Quiet when nothing is missing.
#
#   scripts/bootstrap.sh            everything for `make run` and `make test`
#   scripts/bootstrap.sh --check    only report what is missing (exit 1 if anything)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

# Debian packages: build tools and libraries, servers for the local environment
# and tests, tools for lint and benchmarks, a browser for the UI tests.
PACKAGES=(
  gcc meson ninja-build pkg-config python3 python3-venv curl ca-certificates openssl
  libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libpq-dev libcurl4-openssl-dev
  libssl-dev libxml2-dev zlib1g-dev libjansson-dev libcjose-dev libsodium-dev libcmocka-dev
  liblasso3-dev xmlsec1 prometheus-alertmanager podman runc debootstrap
  postgresql-15 postgresql-client-15 redis-server redis-tools
  valgrind clang-format cppcheck wrk bc procps time chromium jq
)

SUDO=()
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; return; fi
  if [[ ${#SUDO[@]} -eq 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "packages are missing (${MISSING[*]}) and installing them needs root: run as root, install sudo, or install them yourself: apt-get install ${MISSING[*]}"
    sudo -n true 2>/dev/null || say "sudo will ask for your password to install: ${MISSING[*]}"
    SUDO=(sudo)
  fi
  "${SUDO[@]}" "$@"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

command -v dpkg-query >/dev/null 2>&1 || die "this script installs with apt on Debian 12 (or Ubuntu 24.04); on other systems install the equivalents of: ${PACKAGES[*]} libhiredis-dev(>=1.0)"

# hiredis 1.x API: Debian 12 ships hiredis 0.14 (no TLS, no async timeouts), so
# take libhiredict from bookworm-backports, which carries hiredis-compatible shims.
hiredis_packages() {
  if installed libhiredict-shims-dev && installed libhiredict-dev; then
    echo "libhiredict-dev libhiredict-shims-dev"; return
  fi
  if installed libhiredis-dev && pkg-config --atleast-version=1.0 hiredis 2>/dev/null; then
    echo "libhiredis-dev"; return
  fi
  local cand
  cand=$(apt-cache policy libhiredis-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -n "$cand" && "$cand" != "(none)" ]] && dpkg --compare-versions "$cand" ge 1.0; then
    echo "libhiredis-dev"
  else
    echo "libhiredict-dev libhiredict-shims-dev"
  fi
}

ensure_backports() {
  . /etc/os-release
  [[ "${VERSION_CODENAME:-}" == "bookworm" ]] || return 0
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding bookworm-backports (for libhiredict, the hiredis 1.x API)"
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
      as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    APT_UPDATED=0
  fi
}

APT_UPDATED=0
apt_update() {
  [[ $APT_UPDATED -eq 1 ]] && return 0
  say "apt-get update"
  as_root apt-get update -qq >/tmp/pgfleet-apt-update.log 2>&1 ||
    die "apt-get update failed: no network, or the Debian mirrors are unreachable (see /tmp/pgfleet-apt-update.log)"
  APT_UPDATED=1
}

MISSING=()
for p in "${PACKAGES[@]}"; do installed "$p" || MISSING+=("$p"); done
HIREDIS_NEEDED=""
if ! { installed libhiredict-shims-dev && installed libhiredict-dev; } &&
   ! { installed libhiredis-dev && pkg-config --atleast-version=1.0 hiredis 2>/dev/null; }; then
  HIREDIS_NEEDED=yes
  MISSING+=("hiredis>=1.0")
fi

if [[ $CHECK_ONLY -eq 1 ]]; then
  if [[ ${#MISSING[@]} -gt 0 ]]; then say "missing: ${MISSING[*]}"; exit 1; fi
  exit 0
fi

if [[ ${#MISSING[@]} -gt 0 ]]; then
  if [[ -n "$HIREDIS_NEEDED" ]]; then
    ensure_backports
    apt_update
    MISSING=("${MISSING[@]/hiredis>=1.0/}")
    read -r -a HP <<<"$(hiredis_packages)"
    MISSING+=("${HP[@]}")
  fi
  # keep the package install from creating and starting a cluster on port 5432
  if ! installed postgresql-15 && [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    as_root mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  apt_update
  say "installing: ${MISSING[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${MISSING[*]} \
    >/tmp/pgfleet-apt-install.log 2>&1 ||
    die "apt-get install failed (see /tmp/pgfleet-apt-install.log)"
  # the redis package may start a system server on 6379; pgfleet uses its own ports
fi

# Python venv for the test servers and tools (moto, pytest, websockets ...)
VENV="$ROOT/.venv"
REQ="$ROOT/tests/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating the Python venv in .venv"
  python3 -m venv "$VENV" || die "python3 -m venv failed (is python3-venv installed?)"
fi
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  say "installing Python test tools into .venv (tests/requirements.txt)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >/tmp/pgfleet-pip.log 2>&1 ||
    die "pip install failed: no network, or PyPI unreachable (see /tmp/pgfleet-pip.log)"
  echo "$want" >"$STAMP"
fi

# npm packages: the UI build (once it has any) and the test OpenID provider
for dir in "$ROOT/ui" "$ROOT/scripts/idp"; do
  [[ -f "$dir/package.json" ]] || continue
  if ! command -v npm >/dev/null 2>&1; then
    MISSING=(nodejs npm)
    apt_update
    say "installing: nodejs npm"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null ||
      die "apt-get install nodejs npm failed"
  fi
  lock="$dir/package-lock.json"
  if [[ ! -d "$dir/node_modules" || "$lock" -nt "$dir/node_modules" ]]; then
    say "installing npm packages in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --silent) || die "npm ci in $dir failed (see above)"
    touch "$dir/node_modules"
  fi
done
