# Sourced by the bench/*/run.sh scripts: one wrk measurement of a server.
#
# wrk_measure THREADS CONNS WARMUP DURATION URL PID OUT
#   warms up for WARMUP, then runs wrk for DURATION with --latency, keeps its
#   output in OUT, reports Non-2xx and socket errors on stderr, and prints
#   "req/s p50_ms p99_ms cpu_us_per_req": the server's (PID's) CPU time per
#   request, which a box shared with other jobs disturbs far less than req/s
#   or latency.
wrk_measure() {
  local threads=$1 conns=$2 warmup=$3 duration=$4 url=$5 pid=$6 out=$7
  local hz t0 t1 errors
  hz=$(getconf CLK_TCK)
  wrk -t"$threads" -c"$conns" -d"$warmup" "$url" >/dev/null
  t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  wrk -t"$threads" -c"$conns" -d"$duration" --latency "$url" >"$out"
  t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  errors=$(grep -E 'Non-2xx|Socket errors' "$out" || true)
  [ -z "$errors" ] || echo "$(basename "$out" .txt): $errors" >&2
  awk -v ticks=$((t1 - t0)) -v hz="$hz" '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      return v
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%.0f %.2f %.2f %.1f\n", rps, p50, p99, (n > 0 ? 1e6 * ticks / hz / n : 0) }' "$out"
}
