#!/usr/bin/env bash
# Noisy-neighbour benchmark (docs/tenancy.md, BENCHMARKS.md "Tenants"), in
# one run on loopback: tenant B sends a steady light load (RATE req/s to the
# C hello handler) alone, then while tenant A floods CONNS connections of
# CPU-heavy (gw_evil ?spin) and memory-heavy (gw_evil ?memory, 64MiB cap)
# requests. Twice: with tenancy (A and B are tenants of weight 1, A has
# `instances: 1`) and without (every route in the default tenant). Prints
# a Markdown table of B's p50/p99, B's lost requests and A's answered
# requests, and the ratios of B's p99 to B's p99 alone.
#
#   bench/tenants/run.sh
#   RATE=50 CONNS=64 ALONE=10s FLOOD=15s bench/tenants/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${RATE:-50}
CONNS=${CONNS:-64}
ALONE=${ALONE:-10s}
FLOOD=${FLOOD:-15s}

tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/wasmward" ./cmd/wasmward
go build -o "$tmp/load" ./bench/tenants
evil=$PWD/internal/fixture/wasm/gw_evil.wasm
hello=$PWD/internal/fixture/wasm/gw_hello.wasm

config() { # config TENANCY(yes|no)
  local ta= tb= tenants=
  if [ "$1" = yes ]; then
    ta="    tenant: a"
    tb="    tenant: b"
    tenants="tenants:
  - name: a
    quotas: {instances: 1, queue: 128, queue_timeout: 5s}
  - name: b"
  fi
  cat <<YAML
listen: 127.0.0.1:18181
admin_listen: 127.0.0.1:19191
rate_limit: {requests_per_second: 0}
memory_budget: 1GiB
request: {timeout: 30s}
$tenants
routes:
  - route: /a/cpu
    module: $evil
$ta
    max_concurrency: 256
    policy: {limits: {memory: 16MiB, timeout: 20s}}
  - route: /a/mem
    module: $evil
$ta
    max_concurrency: 256
    policy: {limits: {memory: 64MiB, timeout: 20s}}
  - route: /b
    module: $hello
$tb
    max_concurrency: 256
YAML
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
declare -A out
for mode in tenancy single; do
  if [ $mode = tenancy ]; then config yes >"$tmp/gw.yaml"; else config no >"$tmp/gw.yaml"; fi
  "$tmp/wasmward" serve --config "$tmp/gw.yaml" --log-level warn 2>"$tmp/gw-$mode.log" & pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18181/b >/dev/null && break; sleep 0.1; done
  out[$mode]=$("$tmp/load" -url http://127.0.0.1:18181 -rate "$RATE" -conns "$CONNS" -alone "$ALONE" -flood "$FLOOD" 2>"$tmp/load-$mode.err")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo "$mode: $(grep -c . "$tmp/load-$mode.err" || true) B errors logged"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | B p50 ms | B p99 ms | B sent | B lost | A answered | B p99 / alone |"
echo "|---|---|---|---|---|---|---|"
for mode in tenancy single; do
  echo "${out[$mode]}" | awk -v mode=$mode '
    $1=="alone" { a99=$3; printf "| %s: B alone | %s | %s | %d | %d | - | 1.00 |\n", mode, $2, $3, $4, $6 }
    $1=="flood" { printf "| %s: B + A flooding | %s | %s | %d | %d | %d | %.2f |\n", mode, $2, $3, $4, $6, $8, (a99>0 ? $3/a99 : 0) }'
done
