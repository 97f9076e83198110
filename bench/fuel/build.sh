#!/usr/bin/env bash
# Rebuilds the fuel benchmark's programs: bench/fuel/src/NAME.c -> bench/fuel/wasm/NAME.wasm.
# The built modules are committed, so running the benchmark needs only Go.
# Needs Debian's clang lld wasi-libc libclang-rt-14-dev-wasm32 (scripts/install-toolchain.sh).
set -euo pipefail
cd "$(dirname "$0")"
# Debian's wasi-libc lives where clang finds it without --sysroot; other
# installs (wasi-sdk) put it in a sysroot directory.
sysroot=()
for d in "${WASI_SYSROOT:-}" /usr/share/wasi-sysroot /opt/wasi-sdk/share/wasi-sysroot; do
  if [ -n "$d" ] && [ -d "$d" ]; then sysroot=(--sysroot="$d"); break; fi
done
mkdir -p wasm
for f in src/*.c; do
  n=$(basename "$f" .c)
  clang --target=wasm32-wasi "${sysroot[@]}" -O2 -Wall -Werror -Wl,--strip-debug -o "wasm/$n.wasm" "$f" -lm
  echo "built bench/fuel/wasm/$n.wasm"
done
