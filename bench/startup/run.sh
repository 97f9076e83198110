#!/usr/bin/env bash
# serve start-up, cold (empty compile cache) against warm (authenticated
# cache filled), for a configuration of 20 routes of real modules: the
# real-module corpus's WASI commands (TinyGo, Rust, Zig; fetched by
# scripts/fetch-corpus.sh) and the project's Go and C handlers and
# programs. Time from process start to the first 200 of admin /readyz.
#
#   bench/startup/run.sh            # 7 cold and 7 warm starts, alternating
#   ROUNDS=11 bench/startup/run.sh
#   BIN=/tmp/old-wasmward bench/startup/run.sh   # another build, same routes
#
# In process (no process start, steadier on a loaded machine):
#   go test ./sandbox -run '^$' -bench Startup -benchtime 3x
#
# See BENCHMARKS.md, "serve start-up".
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-7}
corpus=${WASMWARD_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmward-corpus}
wz=$corpus/go/github.com_tetratelabs_wazero@v1.12.0
[ -f "$wz/imports/wasi_snapshot_preview1/testdata/zig-cc/wasi.wasm" ] || { echo "the corpus is not fetched: scripts/fetch-corpus.sh" >&2; exit 2; }
fx=internal/fixture/wasm
modules=(
  "$wz/imports/wasi_snapshot_preview1/testdata/tinygo/wasi.wasm"
  "$wz/imports/wasi_snapshot_preview1/testdata/cargo-wasi/wasi.wasm"
  "$wz/imports/wasi_snapshot_preview1/testdata/zig-cc/wasi.wasm"
  "$wz/internal/testing/dwarftestdata/testdata/tinygo/main.wasm"
  $fx/gw_hello_go.wasm $fx/gw_echo_go.wasm $fx/conf_go.wasm $fx/wasm_gohello.wasm $fx/sbom_dep.wasm
  $fx/gw_hello.wasm $fx/gw_echo.wasm $fx/gw_counter.wasm $fx/sb_tool.wasm $fx/conf_wasi.wasm $fx/conf_misc.wasm
  bench/fuel/wasm/sha256.wasm bench/fuel/wasm/lz.wasm bench/fuel/wasm/recurse.wasm bench/fuel/wasm/float.wasm
  examples/hello.wasm
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=${BIN:-$tmp/wasmward}
[ -n "${BIN:-}" ] || go build -o "$bin" ./cmd/wasmward
echo "$(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
go run ./bench/startup -bin "$bin" -rounds "$ROUNDS" "${modules[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
