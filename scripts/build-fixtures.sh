#!/usr/bin/env bash
# Rebuilds every test and example module from the sources in the repository.
#
#   internal/fixture/src/wat/NAME.wat     -> internal/fixture/wasm/NAME.wasm  (wat2wasm, wabt)
#   internal/fixture/src/c/NAME.c         -> internal/fixture/wasm/NAME.wasm  (clang --target=wasm32-wasi)
#   internal/fixture/src/go/NAME/main.go  -> internal/fixture/wasm/NAME.wasm  (GOOS=wasip1 GOARCH=wasm)
#   internal/fixture/src/gen/NAME/        -> what its //fixture:outputs line names (go run, after the rest)
#   examples/src/NAME_http.c              -> internal/quickstart/NAME_http.wasm  (the quickstart's handlers)
#   examples/src/NAME.c                   -> examples/NAME.wasm
#   internal/fixture/wasm/ev_count.wasm   -> examples/count.wasm  (the README's event processor)
#   bench/fuel/src/NAME.c                 -> bench/fuel/wasm/NAME.wasm  (the fuel benchmark's programs)
#
# This is the one way fixtures are built. It then records what it built in
# internal/fixture/manifest.txt (source and module SHA-256); a test fails when a
# committed module no longer matches its source.
#
# A C file may carry a line "// cflags: ..." with extra clang flags, a WAT file a line
# ";; wat2wasm: ..." with extra wat2wasm flags (for example --enable-threads).
# A WAT file with the line ";; assembler: wasm-tools" (WebAssembly 3.0 and component
# text that wabt 1.0.32 cannot assemble) is built with `jco parse` (wasm-tools' parser,
# from npm: npm install -g @bytecodealliance/jco@1.35.0; or set JCO to its path).
# Needs Debian's clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt (see scripts/install-toolchain.sh).
# Usage: scripts/build-fixtures.sh [NAME...]   (no names: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
out=internal/fixture/wasm
want=("$@")
selected() { [ ${#want[@]} -eq 0 ] && return 0; local n; for n in "${want[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
built=()

for f in internal/fixture/src/wat/*.wat; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .wat); selected "$n" || continue
  if grep -q '^;; assembler: wasm-tools' "$f"; then
    "${JCO:-jco}" parse "$f" -o "$out/$n.wasm"
    echo "built $out/$n.wasm"; built+=("$n")
    continue
  fi
  flags=$(sed -n 's/^;; wat2wasm: //p' "$f" | head -1)
  # shellcheck disable=SC2086
  wat2wasm $flags "$f" -o "$out/$n.wasm"
  echo "built $out/$n.wasm"; built+=("$n")
done

# Debian's wasi-libc lives where clang finds it without --sysroot; other
# installs (wasi-sdk) put it in a sysroot directory.
sysroot=()
for d in "${WASI_SYSROOT:-}" /opt/wasi-sdk/share/wasi-sysroot; do
  if [ -n "$d" ] && [ -d "$d" ]; then sysroot=(--sysroot="$d"); break; fi
done
cc_wasm() { # src dst [extra flags]
  local flags src=$1 dst=$2
  shift 2
  flags=$(sed -n 's|^// cflags: ||p' "$src" | head -1)
  # shellcheck disable=SC2086
  clang --target=wasm32-wasi "${sysroot[@]}" -O2 -Wall -Werror $flags "$@" -o "$dst" "$src"
}
for f in internal/fixture/src/c/*.c; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .c); selected "$n" || continue
  cc_wasm "$f" "$out/$n.wasm"
  echo "built $out/$n.wasm"; built+=("$n")
done
for f in examples/src/*.c; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .c); selected "$n" || continue
  dst="examples/$n.wasm"
  case "$n" in *_http) dst="internal/quickstart/$n.wasm" ;; esac
  cc_wasm "$f" "$dst"
  echo "built $dst"; built+=("$n")
done

# The README's event processor is the counting fixture.
if selected ev_count; then cp "$out/ev_count.wasm" examples/count.wasm; echo "built examples/count.wasm"; fi

for d in internal/fixture/src/go/*/; do
  [ -e "$d/main.go" ] || continue
  n=$(basename "$d"); selected "$n" || continue
  mode=() # a reactor (event processor) when it exports functions
  grep -q '^//go:wasmexport' "$d/main.go" && mode=(-buildmode=c-shared)
  (cd "$d" && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false "${mode[@]}" -o "$OLDPWD/$out/$n.wasm" .)
  echo "built $out/$n.wasm"; built+=("$n")
done

for f in bench/fuel/src/*.c; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .c); selected "$n" || continue
  cc_wasm "$f" "bench/fuel/wasm/$n.wasm" -Wl,--strip-debug -lm
  echo "built bench/fuel/wasm/$n.wasm"; built+=("$n")
done

# Generators derive modules from the ones built above.
for d in internal/fixture/src/gen/*/; do
  [ -e "$d/main.go" ] || continue
  n=$(basename "$d"); selected "$n" || continue
  go run "./$d"
  echo "built what $d writes"; built+=("$n")
done

if [ ${#built[@]} -gt 0 ]; then
  names=$(IFS=,; echo "${built[*]}")
  [ ${#want[@]} -eq 0 ] && names=all
  go test ./internal/fixture -run '^TestManifest$' -count=1 -update="$names" >/dev/null
  echo "recorded in internal/fixture/manifest.txt: $names"
fi
