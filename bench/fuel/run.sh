#!/usr/bin/env bash
# Rebuilds the fuel benchmark's modules (when clang for wasm32-wasi is
# installed) and runs the benchmark. Extra arguments go to the runner, e.g.
#   bench/fuel/run.sh -rounds 9 -markdown
# See BENCHMARKS.md, "Fuel and deadline overhead".
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v clang >/dev/null && [ -e /usr/lib/wasm32-wasi/crt1-command.o ] || [ -n "${WASI_SYSROOT:-}" ]; then
  scripts/build-fixtures.sh float lz recurse sha256
else
  echo "clang/wasi-libc not found: running the committed modules in bench/fuel/wasm" >&2
fi
exec go run ./bench/fuel -rounds 5 "$@"
