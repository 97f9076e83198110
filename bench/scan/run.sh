#!/usr/bin/env bash
# Times `wasmward scan` (read + decode + every rule) on two large real modules
# against wabt's `wasm-validate` and `wasm-objdump -x` on the same files in the
# same run, and measures wasmward's peak RSS against the module size.
#
#   bench/scan/run.sh [WORKDIR]
#
# Modules (built here, not committed):
#   gobig.wasm  bench/scan/gobig: net/http + encoding/json + text/template, GOOS=wasip1 (~10 MB)
#   cmpd.wasm   bench/scan/cmpd/main.c + libmpdec, clang -O2 -g for wasm32-wasi (~0.4 MB);
#               libmpdec is taken from OPA's wasm sources (module
#               github.com/open-policy-agent/opa@v1.8.0, fetched with `go mod download`).
# Needs: go, clang + wasi-libc, wabt, hyperfine, jq, GNU time (/usr/bin/time).
# Prints a Markdown section for BENCHMARKS.md on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
runs=${RUNS:-20}

go build -o "$work/wasmward" ./cmd/wasmward
(cd bench/scan/gobig && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$work/gobig.wasm" .)
opa=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json github.com/open-policy-agent/opa@v1.8.0 | jq -r .Dir)
mpd="$opa/wasm/src/libmpdec"
clang --target=wasm32-wasi --sysroot=/usr -O2 -g -D_WASI_EMULATED_SIGNAL -DCONFIG_32 -DANSI -I"$mpd" \
  -o "$work/cmpd.wasm" bench/scan/cmpd/main.c "$mpd"/*.c -lwasi-emulated-signal

size() { stat -c %s "$1"; }
mean() { jq -r ".results[$2].mean" "$1"; }
cpu() { jq -r ".results[$2] | .user + .system" "$1"; }
# peak RSS in KiB: the median of 5 runs
rss() {
  for _ in 1 2 3 4 5; do
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}'
  done | sort -n | sed -n 3p
}

echo "## scan"
echo
echo "Reproduce: \`bench/scan/run.sh\` ($(nproc) CPUs, $(go version | cut -d' ' -f3), wabt $(wasm-validate --version), hyperfine $runs runs after 3 warm-ups, \`-N\`)."
echo
echo "Wall time is the hyperfine mean; CPU is user + system (steadier when the machine is shared)."
echo
echo "| module | size | wasmward scan | wasmward scan --validate | wasm-validate | wasm-objdump -x | validate / scan (wall, CPU) | objdump / scan (wall, CPU) | scan peak RSS | RSS / size |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in gobig cmpd; do
  f="$work/$m.wasm"
  hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$work/$m.json" \
    "$work/wasmward scan $f" "$work/wasmward scan --validate $f" "wasm-validate $f" "wasm-objdump -x $f" >&2
  j="$work/$m.json"
  s=$(mean "$j" 0); v=$(mean "$j" 1); w=$(mean "$j" 2); o=$(mean "$j" 3)
  sc=$(cpu "$j" 0); vc=$(cpu "$j" 1); wc=$(cpu "$j" 2); oc=$(cpu "$j" 3)
  r=$(rss "$work/wasmward" scan "$f")
  awk -v m="$m" -v sz="$(size "$f")" -v s="$s" -v v="$v" -v w="$w" -v o="$o" -v r="$r" \
      -v sc="$sc" -v vc="$vc" -v wc="$wc" -v oc="$oc" 'BEGIN {
    printf "| %s.wasm | %.1f MB | %.0f ms (CPU %.0f) | %.0f ms (CPU %.0f) | %.0f ms (CPU %.0f) | %.0f ms (CPU %.0f) | %.1fx, %.1fx | %.1fx, %.1fx | %.1f MiB | %.2fx |\n",
      m, sz/1e6, s*1000, sc*1000, v*1000, vc*1000, w*1000, wc*1000, o*1000, oc*1000, w/s, wc/sc, o/s, oc/sc, r/1024, r*1024/sz }'
done
