#!/usr/bin/env bash
# Times `wasmward scan` and `wasmward sbom` on the largest modules of the
# real-module corpus (scripts/fetch-corpus.sh) against wabt's
# `wasm-validate --enable-all` and V8's WebAssembly.validate (node
# bench/scan/v8validate.mjs; the time includes node's start, ~40 ms), in
# one run, and prints a Markdown table for
# BENCHMARKS.md. Times are hyperfine medians (the box is shared); ratios are
# ratios of medians.
#
#   bench/scan/corpus.sh [N]     (N largest modules, default 3; RUNS=n, default 5)
#
# Needs: go, hyperfine, jq, wabt, node, and the corpus in its cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-3}
runs=${RUNS:-5}
cache=${WASMWARD_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmward-corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/wasmward" ./cmd/wasmward

echo "Reproduce: \`bench/scan/corpus.sh $n\` ($(nproc) CPUs, $(go version | cut -d' ' -f3), wabt $(wasm-validate --version), node $(node --version), hyperfine $runs runs after 1 warm-up, \`-N\`)."
echo
echo "| module | size | wasmward scan | wasmward sbom | wasm-validate --enable-all | V8 validate | validate / scan | validate / sbom | V8 / scan |"
echo "|---|---|---|---|---|---|---|---|---|"
grep -v '^#' internal/corpus/manifest.tsv | awk -F'\t' '$1 != "npm-tool" && $6 == "ok"' | sort -t$'\t' -k5,5nr | head -n "$n" |
  while IFS=$'\t' read -r src pv path sha size validate contains; do
    f="$cache/$src/${pv//\//_}/$path"
    [ -f "$f" ] || { echo "missing $f: run scripts/fetch-corpus.sh" >&2; exit 1; }
    j="$work/$(basename "$f").json"
    # A rejected module would time an early exit: refuse it.
    node bench/scan/v8validate.mjs "$f"
    hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$j" \
      "$work/wasmward scan $f" "$work/wasmward sbom $f" "wasm-validate --enable-all $f" "node bench/scan/v8validate.mjs $f" >&2
    s=$(jq -r '.results[0].median' "$j"); b=$(jq -r '.results[1].median' "$j"); v=$(jq -r '.results[2].median' "$j"); e=$(jq -r '.results[3].median' "$j")
    awk -v m="$pv/$(basename "$path")" -v sz="$size" -v s="$s" -v b="$b" -v v="$v" -v e="$e" 'BEGIN {
      printf "| %s | %.1f MB | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.1fx | %.1fx | %.1fx |\n", m, sz/1e6, s*1000, b*1000, v*1000, e*1000, v/s, v/b, e/s }'
  done
