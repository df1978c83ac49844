#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets with clang (installing clang when
# missing) and runs each for FUZZ_SECONDS; crashes land in build-fuzz/crashes/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH=${FUZZ_SECONDS:-60}
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing clang and its fuzzer runtime" >&2
  SUDO=(); [[ $(id -u) -ne 0 ]] && SUDO=(sudo)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
if [[ ! -f build-fuzz/build.ninja ]]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Dsanitize=true -Dwerror=false >/dev/null
fi
ninja -C build-fuzz --quiet
mkdir -p build-fuzz/crashes
rc=0
for t in build-fuzz/fuzz_*; do
  [[ -f "$t" && -x "$t" ]] || continue
  name=$(basename "$t")
  mkdir -p "build-fuzz/corpus/$name"
  echo "== $name for ${SECONDS_EACH}s"
  "$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -artifact_prefix="build-fuzz/crashes/$name-" \
    "build-fuzz/corpus/$name" 2>&1 | grep -E "^#[0-9]+ +DONE|ERROR|SUMMARY|Done" || rc=1
done
exit $rc
