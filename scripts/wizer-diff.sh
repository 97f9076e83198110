#!/usr/bin/env bash
# Differential check of `wasmward snapshot` against the real wizer (the
# binary npm's @bytecodealliance/wizer ships): on the same input modules, both
# tools make a snapshot; both snapshots then run under wasmward on a set of
# inputs and must print the same stdout and exit with the same status; where
# their bytes differ, the sections that differ are printed (a difference in
# bytes alone is reported, not a failure: docs/snapshot.md lists the known
# ones). Modules wizer refuses must be refused by wasmward too.
#
# wizer is installed with npm into ~/.cache/wasmward-tools/wizer-VERSION (or
# set WIZER=/path/to/wizer). When npm or its registry is unreachable, the
# check is SKIPPED, loudly, with exit status 0; any difference in behaviour,
# once wizer is there, fails (exit 1).
# Usage: scripts/wizer-diff.sh      (WIZER_VERSION overrides 11.0.3)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${WIZER_VERSION:-11.0.3}
tools=${WASMWARD_TOOLS:-$HOME/.cache/wasmward-tools}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

skip() {
  echo "WARNING: wizer-diff SKIPPED: $*" >&2
  echo "WARNING: the snapshot differential against wizer did NOT run" >&2
  exit 0
}
fail() { echo "FAIL: $*" >&2; failed=1; }

wizer=${WIZER:-}
if [ -z "$wizer" ]; then
  dir="$tools/wizer-$version"
  find_bin() { find "$dir/node_modules/@bytecodealliance" -mindepth 2 -maxdepth 2 -type f -name wizer -perm -u+x 2>/dev/null | head -1 || true; }
  wizer=$(find_bin)
  if [ -z "$wizer" ]; then
    command -v npm >/dev/null || skip "npm is not installed"
    mkdir -p "$dir"
    if ! timeout 300 npm install --prefix "$dir" --no-audit --no-fund --no-save "@bytecodealliance/wizer@$version" >"$work/npm.log" 2>&1; then
      tail -3 "$work/npm.log" >&2
      skip "npm could not install @bytecodealliance/wizer@$version (registry unreachable?)"
    fi
    wizer=$(find_bin)
    [ -n "$wizer" ] || skip "@bytecodealliance/wizer@$version has no wizer binary for this platform"
  fi
fi
echo "wizer: $wizer (@bytecodealliance/wizer@$version)"
go build -o "$work/wasmward" ./cmd/wasmward
go build -o "$work/wizerdiff" ./scripts/wizerdiff
ww="$work/wasmward"
fx=internal/fixture/wasm
failed=0

# run MODULE ARGS...: stdout and exit status of a wasmward run, in one string.
run() {
  local m=$1 rc=0 out
  shift
  out=$("$ww" run --fuel 100000000000 "$m" "$@" 2>/dev/null) || rc=$?
  printf '%s\nexit=%s' "$out" "$rc"
}

# NAME INIT-EXPORT then the run inputs, one per argument ("" is no
# arguments; words are split; "--invoke F" runs one export).
check() {
  local name=$1 init=$2
  shift 2
  echo "== $name (init export $init)"
  "$ww" snapshot "$fx/$name.wasm" -o "$work/$name.ww.wasm" >/dev/null || { fail "$name: wasmward snapshot failed"; return; }
  "$wizer" -f "$init" "$fx/$name.wasm" -o "$work/$name.wz.wasm" 2>"$work/wizer.err" || { fail "$name: wizer failed: $(head -1 "$work/wizer.err")"; return; }
  local input n=0
  for input in "$@"; do
    local a b
    if [[ $input == --invoke* ]]; then
      # shellcheck disable=SC2086
      a=$("$ww" run $input "$work/$name.ww.wasm" 2>&1; echo "exit=$?")
      # shellcheck disable=SC2086
      b=$("$ww" run $input "$work/$name.wz.wasm" 2>&1; echo "exit=$?")
    else
      # shellcheck disable=SC2086
      a=$(run "$work/$name.ww.wasm" $input)
      # shellcheck disable=SC2086
      b=$(run "$work/$name.wz.wasm" $input)
    fi
    n=$((n + 1))
    if [ "$a" != "$b" ]; then
      fail "$name: input '$input': wasmward's snapshot gave [$a], wizer's [$b]"
    fi
  done
  echo "  $n runs: same stdout and exit status"
  local rc=0
  "$work/wizerdiff" "$work/$name.ww.wasm" "$work/$name.wz.wasm" || rc=$?
  [ "$rc" -le 1 ] || fail "$name: cannot compare the snapshots' sections"
}

check snap_heavy wizer.initialize "" "0 148932" "99999999"
check snap_counter wizer-initialize "" "5" "2000" "1 2 3"
check snap_table wizer.initialize "abc" "x wasmward" "The quick brown fox"
check snap_state wizer.initialize "--invoke counters" "--invoke wide" "--invoke floats" "--invoke pages" \
  "--invoke bytes" "--invoke passive" "--invoke const" "--invoke indirect -- 1" "--invoke indirect -- 5"

# Both refuse what cannot be captured.
for name in snap_tableset snap_importmem; do
  echo "== $name (both must refuse)"
  rc=0
  "$ww" snapshot "$fx/$name.wasm" -o "$work/$name.ww.wasm" 2>"$work/ww.err" || rc=$?
  [ "$rc" -eq 126 ] || fail "$name: wasmward snapshot exit $rc, want 126 (refused)"
  echo "  wasmward: $(head -1 "$work/ww.err")"
  if "$wizer" -f wizer.initialize "$fx/$name.wasm" -o "$work/$name.wz.wasm" 2>"$work/wizer.err"; then
    fail "$name: wizer accepted it"
  fi
  echo "  wizer:    $(grep -m1 '^Error' "$work/wizer.err" || head -1 "$work/wizer.err")"
done

if [ "$failed" -ne 0 ]; then
  echo "wizer-diff: FAILED" >&2
  exit 1
fi
echo "wizer-diff: wasmward snapshot and wizer $version agree on every run"
