#!/usr/bin/env bash
# Monitoring overhead: wrk on loopback against three gateway processes of
# the same binary serving the same C hello handler (gw_hello), in one run,
# rounds interleaved (base, monitored, monitored+traces, base, ...):
#   base        no alert rules, no soft thresholds, no tracing
#   monitored   alert rules and soft thresholds on every route (the alerts
#               block below), the status page's event stream open
#   traced      monitored, plus OpenTelemetry traces at the default
#               sample_ratio (0.01) exported to a local OTLP sink
# Metrics are always on (the gateway has no switch for them). Prints a
# Markdown table of median req/s, p99 and server CPU per request, and the
# ratios to base. Target: monitored and traced within 5% of base req/s.
#
#   bench/monitoring/run.sh                   # 5 rounds of 10s, 64 connections, 2 wrk threads
#   ROUNDS=9 DURATION=10s bench/monitoring/run.sh
#   PROFILE=1 bench/monitoring/run.sh         # also a CPU profile of the traced gateway
#
# Needs wrk. See BENCHMARKS.md, "Monitoring overhead".
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-2s}
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
go build -o "$tmp/otlpsink" ./bench/monitoring/otlpsink

# MONITORING is the monitored gateways' alerting configuration: soft
# thresholds and alert rules evaluated on every run's report (docs/alerts.md).
# The rules notify (no webhook here: the transition is logged and audited),
# so that the load never isolates the route under test.
MONITORING=${MONITORING:-$(cat <<'YAML'
soft_thresholds: {memory_percent: 80, duration: 1s, output_percent: 90, host_calls: {wasi_snapshot_preview1.fd_write: 1000}}
alerts:
  - name: repeated-violations
    when: {signal: violations, over: 1m, count: 3}
    severity: high
    action: notify
  - name: traps
    when: {signal: traps, over: 1m, count: 3}
    severity: high
    action: notify
  - name: slow
    when: {signal: p99_ms, over: 1m, above: 500}
    severity: warning
    action: notify
  - name: errors
    when: {signal: errors_5xx, over: 1m, count: 100}
    severity: warning
    action: notify
  - name: soft-breaches
    when: {signal: soft, over: 1m, count: 10}
    severity: info
    action: notify
YAML
)}

config() { # NAME PORT ADMIN EXTRA
  cat >"$tmp/$1.yaml" <<YAML
listen: 127.0.0.1:$2
admin_listen: 127.0.0.1:$3
rate_limit: {requests_per_second: 0}
$4
routes:
  - route: /c
    module: $PWD/internal/fixture/wasm/gw_hello.wasm
    max_concurrency: 1024
YAML
}
config base 18181 19191 ""
config monitored 18182 19192 "$MONITORING"
config traced 18183 19193 "$MONITORING
tracing: {endpoint: http://127.0.0.1:14318}"

"$tmp/otlpsink" -listen 127.0.0.1:14318 2>"$tmp/sink.log" & pids+=($!)
for n in base monitored traced; do
  "$tmp/wasmward" serve --config "$tmp/$n.yaml" --log-level warn --pprof 2>"$tmp/$n.log" & pids+=($!)
done
declare -A pid=([base]=${pids[1]} [monitored]=${pids[2]} [traced]=${pids[3]})
declare -A port=([base]=18181 [monitored]=18182 [traced]=18183)
declare -A admin=([base]=19191 [monitored]=19192 [traced]=19193)
for n in base monitored traced; do
  url=http://127.0.0.1:${port[$n]}/c
  for _ in $(seq 200); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
  curl -sf "$url" >/dev/null || { echo "not serving: $n" >&2; cat "$tmp/$n.log" >&2; exit 1; }
done
# The monitored gateways' status page stream stays open throughout.
for n in monitored traced; do
  curl -sN "http://127.0.0.1:${admin[$n]}/v1/events/stream" >/dev/null 2>&1 & pids+=($!)
done

. "$(dirname "$0")/../lib/wrk.sh"

# bench NAME ROUND -> appends "req/s p99_ms cpu_us_per_req" to $tmp/NAME.res
bench() {
  wrk_measure "$THREADS" "$CONNS" "$WARMUP" "$DURATION" "http://127.0.0.1:${port[$1]}/c" "${pid[$1]}" "$tmp/$1.$2.txt" |
    awk '{ print $1, $3, $4 }' >>"$tmp/$1.res"
}

prof_pid=
for r in $(seq "$ROUNDS"); do
  # Rotate the order each round so that no target always runs first.
  case $((r % 3)) in
  1) order="base monitored traced" ;;
  2) order="monitored traced base" ;;
  0) order="traced base monitored" ;;
  esac
  for n in $order; do
    if [ -n "${PROFILE:-}" ] && [ "$n" = traced ] && [ "$r" = 1 ]; then
      (sleep 3; curl -s "http://127.0.0.1:${admin[traced]}/debug/pprof/profile?seconds=5" >"$tmp/cpu.pprof") &
      prof_pid=$!
    fi
    bench "$n" "$r"
  done
  echo "round $r/$ROUNDS done" >&2
done

# median COLUMN FILE
median() { cut -d' ' -f"$1" "$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
declare -A rps p99 cpu
for n in base monitored traced; do
  rps[$n]=$(median 1 "$tmp/$n.res"); p99[$n]=$(median 2 "$tmp/$n.res"); cpu[$n]=$(median 3 "$tmp/$n.res")
done
echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS interleaved rounds, medians; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| gateway | req/s | p99 | server CPU per request | req/s vs base | CPU vs base |"
echo "|---|---:|---:|---:|---:|---:|"
for n in base monitored traced; do
  echo "| $n | ${rps[$n]} | ${p99[$n]} ms | ${cpu[$n]} µs | $(ratio "${rps[$n]}" "${rps[base]}") | $(ratio "${cpu[$n]}" "${cpu[base]}") |"
done
echo
echo "per round (req/s p99_ms cpu_us):"
for n in base monitored traced; do echo "  $n: $(tr '\n' ';' <"$tmp/$n.res")"; done
if [ -n "$prof_pid" ]; then
  wait "$prof_pid" || true
  echo
  go tool pprof -top -nodecount=30 "$tmp/wasmward" "$tmp/cpu.pprof" 2>/dev/null | head -40
  echo
  echo "monitoring and tracing in the profile (cumulative):"
  go tool pprof -top -cum -nodecount=400 "$tmp/wasmward" "$tmp/cpu.pprof" 2>/dev/null |
    grep -E 'internal/(monitor|alert|trace|statuspage)|opentelemetry|gateway\.\(\*Server\)\.(beginTrace|monitor)' | head -20 || true
fi
