#!/usr/bin/env bash
# Gateway benchmark: wrk on loopback, in one run, against
#   native  a plain Go net/http hello handler (built here from bench/gateway/native),
#   c       the gateway serving the C hello handler (internal/fixture/src/c/gw_hello.c),
#   go      the same gateway serving the Go wasip1 hello handler (gw_hello_go),
#   goreactor the same gateway serving the Go hello handler built as a reactor
#           (gw_reactor_go: initialised once, a fresh instance of its snapshot per request),
# and prints a Markdown table of req/s, p50, p99 and the ratios to native.
#
#   bench/gateway/run.sh                 # 10s per target, 64 connections, wrk with 1 and then 2 threads
#   THREADS=2 bench/gateway/run.sh       # only the 2-thread run
#   DURATION=30s CONNS=64 bench/gateway/run.sh
#   PROFILE=1 bench/gateway/run.sh       # also a 5s CPU profile of the gateway under the C load
#   GW_GOGC=100 bench/gateway/run.sh     # GOGC for the gateway process (default: unset, so serve uses 400)
#   TARGETS="native c" bench/gateway/run.sh  # only these targets (default: native c go goreactor)
#   PROFILE=1 PROFILE_OUT=/tmp/x bench/gateway/run.sh  # keep the profile and the binary in /tmp/x
#
# Needs wrk. See BENCHMARKS.md, "Gateway".
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1 2}
WARMUP=${WARMUP:-2s}
TARGETS=${TARGETS:-native c go goreactor}
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/wasmward" ./cmd/wasmward
go build -o "$tmp/native" ./bench/gateway/native
cat >"$tmp/gw.yaml" <<YAML
listen: 127.0.0.1:18081
admin_listen: 127.0.0.1:19091
rate_limit: {requests_per_second: 0}
routes:
  - route: /c
    module: $PWD/internal/fixture/wasm/gw_hello.wasm
    max_concurrency: 1024
  - route: /go
    module: $PWD/internal/fixture/wasm/gw_hello_go.wasm
    max_concurrency: 1024
  - route: /goreactor
    module: $PWD/internal/fixture/wasm/gw_reactor_go.wasm
    max_concurrency: 1024
YAML

"$tmp/native" -listen 127.0.0.1:18080 & pids+=($!)
env ${GW_GOGC:+GOGC=$GW_GOGC} "$tmp/wasmward" serve --config "$tmp/gw.yaml" --log-level warn --pprof 2>"$tmp/gw.log" & pids+=($!)
for url in http://127.0.0.1:18080/ http://127.0.0.1:18081/c; do
  for _ in $(seq 1200); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
  curl -sf "$url" >/dev/null || { echo "not serving: $url" >&2; cat "$tmp/gw.log" >&2; exit 1; }
done

. "$(dirname "$0")/../lib/wrk.sh"

# bench NAME URL PID -> "req/s p50 p99 cpu_us_per_req" (latencies in ms)
bench() { wrk_measure "$t" "$CONNS" "$WARMUP" "$DURATION" "$2" "$3" "$tmp/$1.txt"; }

for t in $THREADS; do
  want() { [[ " $TARGETS " == *" $1 "* ]]; }
  n_rps=0 n_p50=0 n_p99=0 n_cpu=0 c_rps=0 c_p50=0 c_p99=0 c_cpu=0 g_rps=0 g_p50=0 g_p99=0 g_cpu=0 r_rps=0 r_p50=0 r_p99=0 r_cpu=0
  want native && read -r n_rps n_p50 n_p99 n_cpu < <(bench native http://127.0.0.1:18080/ "${pids[0]}")
  prof_pid=
  if [ -n "${PROFILE:-}" ]; then
    (sleep 2; curl -s "http://127.0.0.1:19091/debug/pprof/profile?seconds=5" >"$tmp/cpu.pprof") &
    prof_pid=$!
  fi
  want c && read -r c_rps c_p50 c_p99 c_cpu < <(bench c http://127.0.0.1:18081/c "${pids[1]}")
  want go && read -r g_rps g_p50 g_p99 g_cpu < <(bench go http://127.0.0.1:18081/go "${pids[1]}")
  want goreactor && read -r r_rps r_p50 r_p99 r_cpu < <(bench goreactor http://127.0.0.1:18081/goreactor "${pids[1]}")

  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else printf "-" }'; }
  times() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else printf "-" }'; }
  echo
  echo "wrk -t$t -c$CONNS -d$DURATION on $(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| target | req/s | p50 | p99 | req/s vs native | server CPU per request | CPU vs native |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| native Go net/http hello | $n_rps | $n_p50 ms | $n_p99 ms | 100% | $n_cpu µs | 1.0x |"
  echo "| gateway, C hello (gw_hello) | $c_rps | $c_p50 ms | $c_p99 ms | $(ratio "$c_rps" "$n_rps") | $c_cpu µs | $(times "$c_cpu" "$n_cpu") |"
  echo "| gateway, Go wasip1 hello (gw_hello_go) | $g_rps | $g_p50 ms | $g_p99 ms | $(ratio "$g_rps" "$n_rps") | $g_cpu µs | $(times "$g_cpu" "$n_cpu") |"
  echo "| gateway, Go reactor hello (gw_reactor_go) | $r_rps | $r_p50 ms | $r_p99 ms | $(ratio "$r_rps" "$n_rps") | $r_cpu µs | $(times "$r_cpu" "$n_cpu") |"
  echo
  echo "Go reactor vs Go command: $(times "$r_rps" "$g_rps") the req/s"
done
if [ -n "${PROFILE:-}" ]; then
  wait "$prof_pid" || true
  echo
  go tool pprof -top -nodecount=40 "$tmp/wasmward" "$tmp/cpu.pprof" 2>/dev/null | head -50
  if [ -n "${PROFILE_OUT:-}" ]; then
    mkdir -p "$PROFILE_OUT" && cp "$tmp/wasmward" "$tmp/cpu.pprof" "$PROFILE_OUT/"
  fi
fi
