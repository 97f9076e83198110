#!/usr/bin/env bash
# Times `wasmward scan` (read + decode + every rule) on two large modules built
# from this repository against wabt's `wasm-validate` and `wasm-objdump -x` on
# the same files in the same run, and measures wasmward's peak RSS against the
# module size.
#
#   bench/scan/run.sh [WORKDIR]        (RUNS=N overrides the 20 timed runs)
#
# Modules (built here, not committed):
#   gobig.wasm  bench/scan/gobig: net/http + encoding/json + text/template, GOOS=wasip1 (~10 MB)
#   cmpd.wasm   bench/scan/cmpd: our own C data toolkit (JSON, hashes, LZSS, a bytecode
#               interpreter; ~2000 lines), clang -O2 -g for wasm32-wasi (~0.25 MB, most of it DWARF)
# Needs: go, clang + wasi-libc, wabt, hyperfine, jq, GNU time (/usr/bin/time).
# Prints a Markdown section for BENCHMARKS.md on stdout.
#
# Times are medians (the box this runs on is shared and noisy; a mean follows
# the outliers), ratios are ratios of medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
runs=${RUNS:-20}

go build -o "$work/wasmward" ./cmd/wasmward
(cd bench/scan/gobig && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$work/gobig.wasm" .)
clang --target=wasm32-wasi -O2 -g -Wall -Wextra -Werror -o "$work/cmpd.wasm" bench/scan/cmpd/*.c

size() { stat -c %s "$1"; }
median() { jq -r ".results[$2].median" "$1"; }
# peak RSS in KiB: the median of 5 runs
rss() {
  for _ in 1 2 3 4 5; do
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}'
  done | sort -n | sed -n 3p
}

echo "## scan"
echo
echo "Reproduce: \`bench/scan/run.sh\` ($(nproc) CPUs, $(go version | cut -d' ' -f3), $(clang --version | head -1 | sed 's/ version / /'), wabt $(wasm-validate --version), hyperfine $runs runs after 3 warm-ups, \`-N\`)."
echo
echo "Times are hyperfine medians of wall time; ratios are ratios of the medians. Peak RSS is the median of 5 runs."
echo
echo "| module | size | wasmward scan | wasmward scan --validate | wasm-validate | wasm-objdump -x | validate / scan | objdump / scan | scan peak RSS | RSS / size |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in gobig cmpd; do
  f="$work/$m.wasm"
  hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$work/$m.json" \
    "$work/wasmward scan $f" "$work/wasmward scan --validate $f" "wasm-validate $f" "wasm-objdump -x $f" >&2
  j="$work/$m.json"
  s=$(median "$j" 0); v=$(median "$j" 1); w=$(median "$j" 2); o=$(median "$j" 3)
  r=$(rss "$work/wasmward" scan "$f")
  awk -v m="$m" -v sz="$(size "$f")" -v s="$s" -v v="$v" -v w="$w" -v o="$o" -v r="$r" 'BEGIN {
    printf "| %s.wasm | %.2f MB | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1fx | %.1fx | %.1f MiB | %.2fx |\n",
      m, sz/1e6, s*1000, v*1000, w*1000, o*1000, w/s, o/s, r/1024, r*1024/sz }'
done
