#!/usr/bin/env bash
# Fetches the real-module corpus pinned in internal/corpus/manifest.tsv into
# the corpus cache, where internal/corpus's tests find it:
#
#   $WASMWARD_CORPUS, else ${XDG_CACHE_HOME:-$HOME/.cache}/wasmward-corpus
#
# npm packages come from `npm pack PACKAGE@VERSION`, Go modules from
# `go mod download -json MODULE@VERSION`; only the files the manifest names
# are kept, each at CACHE/SOURCE/PACKAGE@VERSION/PATH ("/" in the package
# name becomes "_"). Every file's sha256 is checked against the manifest,
# also for files already in the cache.
#
# Exit status: 0 all present and verified; 1 a sha256 mismatch or a bad
# manifest (never ignore it: the pinned bytes changed); 3 a registry was
# unreachable or a package could not be fetched (the files that were
# fetched are kept; the tests skip what is missing). About 150 MB is
# downloaded on the first run; the cache then holds about 470 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=internal/corpus/manifest.tsv
cache=${WASMWARD_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmward-corpus}
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mismatch=0 unreachable=0 fetched=0 present=0

dest() { printf '%s/%s/%s/%s' "$cache" "$1" "${2//\//_}" "$3"; }

# verify FILE SHA256: 0 when it matches
verify() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# unpack SOURCE PACKAGE@VERSION DIR: fills DIR with the package's files
unpack() {
  local src=$1 pv=$2 dir=$3
  mkdir -p "$dir"
  case $src in
  npm | npm-tool)
    local tgz
    tgz=$(cd "$tmp" && npm pack --silent "$pv" 2>"$tmp/npm.err" | tail -1) || { cat "$tmp/npm.err" >&2; return 1; }
    tar -xzf "$tmp/$tgz" -C "$dir" && rm -f "$tmp/$tgz"
    ;;
  go)
    local out d
    # Outside any module, so the repository's go.mod plays no part.
    out=$(cd "$tmp" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$pv" 2>&1) || { echo "$out" >&2; return 1; }
    d=$(printf '%s' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$d" ] && [ -d "$d" ] || { echo "go mod download $pv: no directory in: $out" >&2; return 1; }
    ln -s "$d" "$dir/mod"
    ;;
  *)
    echo "$manifest: unknown source $src" >&2
    return 2
    ;;
  esac
}

declare -A unpacked=()
while IFS=$'\t' read -r src pv path sha size validate contains; do
  case $src in '' | '#'*) continue ;; esac
  if [ -z "$sha" ] || [ ${#sha} -ne 64 ]; then
    echo "$manifest: bad line for $pv $path" >&2
    exit 1
  fi
  out=$(dest "$src" "$pv" "$path")
  if [ -f "$out" ]; then
    if verify "$out" "$sha"; then
      present=$((present + 1))
      continue
    fi
    echo "SHA256 MISMATCH in the cache: $out (want $sha); refetching" >&2
    rm -f "$out"
  fi
  key="$src $pv"
  dir="$tmp/pkg/${pv//\//_}"
  if [ -z "${unpacked[$key]:-}" ]; then
    echo "fetching $pv ($src)" >&2
    if unpack "$src" "$pv" "$dir"; then
      unpacked[$key]=ok
    else
      rc=$?
      [ $rc -eq 2 ] && exit 1
      unpacked[$key]=failed
    fi
  fi
  if [ "${unpacked[$key]}" = failed ]; then
    echo "WARNING: could not fetch $pv; $path is missing from the corpus" >&2
    unreachable=$((unreachable + 1))
    continue
  fi
  file="$dir/$path"
  [ "$src" = go ] && file="$dir/mod/$path"
  if [ ! -f "$file" ]; then
    echo "ERROR: $pv has no $path" >&2
    mismatch=$((mismatch + 1))
    continue
  fi
  if ! verify "$file" "$sha"; then
    echo "ERROR: SHA256 MISMATCH: $pv $path is $(sha256sum "$file" | cut -d' ' -f1), the manifest pins $sha" >&2
    mismatch=$((mismatch + 1))
    continue
  fi
  mkdir -p "$(dirname "$out")"
  cp "$file" "$out.part" && chmod a-w "$out.part"
  [ "$src" = npm-tool ] && chmod a+x "$out.part"
  mv "$out.part" "$out"
  fetched=$((fetched + 1))
done <"$manifest"

echo "corpus in $cache: $present already present, $fetched fetched, $unreachable missing, $mismatch bad" >&2
if [ $mismatch -gt 0 ]; then
  echo "ERROR: $mismatch corpus file(s) do not match the pinned sha256" >&2
  exit 1
fi
if [ $unreachable -gt 0 ]; then
  echo "WARNING: $unreachable corpus file(s) could not be fetched (registry unreachable?); the corpus tests skip them" >&2
  exit 3
fi
