#!/usr/bin/env bash
# Noisy-neighbour benchmark (docs/tenancy.md, BENCHMARKS.md "Tenants"), in
# one run on loopback: tenant B sends a steady light load (RATE req/s to the
# C hello handler) alone, then while tenant A floods CONNS connections of
# CPU-heavy (gw_evil ?spin) and memory-heavy (gw_evil ?memory, 64MiB cap)
# requests. Twice: with tenancy (A and B are tenants of weight 1, A has
# `instances: 1`; long guest work in the background, the default with
# tenants) and without (every route in the default tenant). RUNS times in a
# row. NOBG=1 adds a third configuration per run: tenancy with
# `background_cpu: false`, to show what the background buys. Prints, per run, a Markdown table of B's p50/p99/max,
# B's lost requests and A's answered requests, and the ratios of B's p99
# to B's p99 alone; then one row per run of the ratios.
#
# B's default, 200 req/s for 10 s per phase, is 2000 samples: its p99 is
# the 21st-largest latency, which one scheduling hiccup does not move (at
# 50 req/s for 5 s, 250 samples, it was the 3rd-largest). 200 hello
# requests a second take under a tenth of one core. The phases alternate
# CYCLES times (2 s alone, A's 2 s head start, 2 s flooded, 1 s to settle),
# so that both see the same background load of the machine.
#
#   bench/tenants/run.sh
#   RUNS=5 RATE=200 CONNS=64 ALONE=10s FLOOD=10s CYCLES=5 bench/tenants/run.sh
#   NOBG=1 bench/tenants/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${RATE:-200}
CONNS=${CONNS:-64}
ALONE=${ALONE:-10s}
FLOOD=${FLOOD:-10s}
RUNS=${RUNS:-1}
CYCLES=${CYCLES:-5}
PORT=${PORT:-18581}
ADMIN_PORT=${ADMIN_PORT:-19591}

for p in "$PORT" "$ADMIN_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "bench/tenants/run.sh: port $p on 127.0.0.1 is in use (set PORT and ADMIN_PORT)" >&2
    exit 1
  fi
done
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

config() { # config TENANCY(yes|no|nobg)
  local ta= tb= tenants=
  if [ "$1" = nobg ]; then
    echo "background_cpu: false"
  fi
  if [ "$1" != no ]; then
    ta="    tenant: a"
    tb="    tenant: b"
    tenants="tenants:
  - name: a
    quotas: {instances: 1, queue: 128, queue_timeout: 5s}
  - name: b"
  fi
  cat <<YAML
listen: 127.0.0.1:$PORT
admin_listen: 127.0.0.1:$ADMIN_PORT
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

# table MODE OUTPUT: the Markdown rows of one mode's two phases.
table() {
  echo "$2" | awk -v mode="$1" '
    $1=="alone" { a99=$3; printf "| %s: B alone | %s | %s | %s | %d | %d | - | 1.00 |\n", mode, $2, $3, $9, $4, $6 }
    $1=="flood" { printf "| %s: B + A flooding | %s | %s | %s | %d | %d | %d | %.2f |\n", mode, $2, $3, $9, $4, $6, $8, (a99>0 ? $3/a99 : 0) }'
}

summary=()
for run in $(seq "$RUNS"); do
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  declare -A out
  modes="tenancy single"
  [ -n "${NOBG:-}" ] && modes="$modes nobg"
  for mode in $modes; do
    case $mode in
      tenancy) config yes >"$tmp/gw.yaml" ;;
      single) config no >"$tmp/gw.yaml" ;;
      nobg) config nobg >"$tmp/gw.yaml" ;;
    esac
    "$tmp/wasmward" serve --config "$tmp/gw.yaml" --log-level warn 2>"$tmp/gw-$mode.log" & pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/b" >/dev/null && break; sleep 0.1; done
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench/tenants/run.sh: the gateway did not start:" >&2
      cat "$tmp/gw-$mode.log" >&2
      exit 1
    fi
    out[$mode]=$("$tmp/load" -url "http://127.0.0.1:$PORT" -rate "$RATE" -conns "$CONNS" -alone "$ALONE" -flood "$FLOOD" -cycles "$CYCLES" 2>"$tmp/load-$mode.err")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  done
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "run $run of $RUNS, $(date -u +%FT%TZ), $(nproc) cores, load average before: $before, after: $after"
  echo
  echo "| run | B p50 ms | B p99 ms | B max ms | B sent | B lost | A answered | B p99 / alone |"
  echo "|---|---|---|---|---|---|---|---|"
  table tenancy "${out[tenancy]}"
  table single "${out[single]}"
  [ -n "${out[nobg]:-}" ] && table "tenancy, background_cpu: false" "${out[nobg]}"
  echo
  # One line: tenancy alone $1-$9, tenancy flood $10-$18, single alone
  # $19-$27, single flood $28-$36 (fields of bench/tenants/main.go).
  # shellcheck disable=SC2086
  summary+=("$(echo ${out[tenancy]} ${out[single]} | awk -v run="$run" -v load="$before → $after" '
    { printf "| %d | %s | %s ms | %s ms | %.2f | %d of %d | %d of %d | %s |", run, load, $3, $12, ($3>0 ? $12/$3 : 0), $15, $13, $33, $31, ($21>0 && $32>0 ? sprintf("%.0f", $30/$21) : "-") }')")
  unset out
done
echo "| run | load average | tenancy: B p99 alone | tenancy: B p99 with A flooding | ratio | B lost | single: B lost | single: B p99 / alone |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
