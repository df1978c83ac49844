#!/usr/bin/env bash
# The container engine and the image, for `make deploy-test` and `make deploy`.
#   scripts/container.sh engine        prints the engine command (docker, or podman with the
#                                      settings that work here); exit 1 when there is none
#   scripts/container.sh base          makes sure debian:bookworm-slim exists: pulled, or built
#                                      from Debian's packages with debootstrap and imported
#   scripts/container.sh build TAG     builds the image (Containerfile) as TAG
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE=debian:bookworm-slim
say() { printf 'container: %s\n' "$*" >&2; }
die() { printf 'container: error: %s\n' "$*" >&2; exit 1; }

engine() {
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo docker; return 0
  fi
  command -v podman >/dev/null 2>&1 || return 1
  # podman as it runs on these machines: runc, cgroupfs, no default ulimits, host network
  local conf="${XDG_RUNTIME_DIR:-/tmp}/pgfleet-containers.conf"
  [[ -f "$conf" ]] || printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n' >"$conf"
  echo "env CONTAINERS_CONF=$conf podman --runtime runc"
}

base() {
  local e
  e=$(engine) || die "no container engine (install podman, or run a Docker engine)"
  if $e image inspect "$BASE" >/dev/null 2>&1; then return 0; fi
  say "pulling $BASE"
  if timeout 60 $e pull "$BASE" >/dev/null 2>&1; then return 0; fi
  command -v debootstrap >/dev/null 2>&1 || die "$BASE cannot be pulled and debootstrap is missing (apt-get install debootstrap)"
  say "no registry reachable: building $BASE from Debian's packages (debootstrap, about a minute)"
  local dir
  dir=$(mktemp -d /var/tmp/pgfleet-rootfs-XXXXXX)
  debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$dir.log" 2>&1 ||
    { rm -rf "$dir"; die "debootstrap failed (see $dir.log)"; }
  # slim: no documentation, manuals, locales or apt lists (what the official -slim drops)
  rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/lib/apt/lists/* \
    "$dir"/var/cache/apt/*.bin "$dir"/usr/share/locale/*
  tar -C "$dir" -c . | $e import - "$BASE" >/dev/null
  rm -rf "$dir" "$dir.log"
}

build() {
  local tag=${1:?usage: scripts/container.sh build TAG} e
  e=$(engine) || die "no container engine (install podman, or run a Docker engine)"
  base
  say "building $tag (the first build takes minutes; later ones use the layer cache)"
  local ca=()
  # npm in the build reaches the registry through whatever this machine trusts (a TLS-inspecting
  # proxy's CA included): podman mounts the host's bundle for it
  if [[ $e == *podman* && -f /etc/ssl/certs/ca-certificates.crt ]]; then
    ca=(-v /etc/ssl/certs:/etc/ssl/host-certs:ro --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/host-certs/ca-certificates.crt)
  fi
  $e build --network host --pull=never "${ca[@]}" -t "$tag" -f "$ROOT/Containerfile" "$ROOT" >"${TMPDIR:-/tmp}/pgfleet-image-build.log" 2>&1 ||
    { tail -n 30 "${TMPDIR:-/tmp}/pgfleet-image-build.log" >&2; die "the image build failed (log: ${TMPDIR:-/tmp}/pgfleet-image-build.log)"; }
  say "built $tag: $($e image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
}

case "${1:-}" in
  engine) engine || exit 1 ;;
  base) base ;;
  build) shift; build "$@" ;;
  *) echo "usage: scripts/container.sh engine|base|build TAG" >&2; exit 2 ;;
esac
