#!/usr/bin/env bash
# Rebuilds every test and example module from the sources in the repository.
#
#   internal/fixture/src/wat/NAME.wat     -> internal/fixture/wasm/NAME.wasm  (wat2wasm, wabt)
#   internal/fixture/src/c/NAME.c         -> internal/fixture/wasm/NAME.wasm  (clang --target=wasm32-wasi)
#   internal/fixture/src/go/NAME/main.go  -> internal/fixture/wasm/NAME.wasm  (GOOS=wasip1 GOARCH=wasm)
#   examples/src/NAME_http.c              -> internal/quickstart/NAME_http.wasm  (the quickstart's handlers)
#   examples/src/NAME.c                   -> examples/NAME.wasm
#
# A C file may carry a line "// cflags: ..." with extra clang flags, a WAT file a line
# ";; wat2wasm: ..." with extra wat2wasm flags (for example --enable-threads).
# Needs Debian's clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt (see scripts/install-toolchain.sh).
# Usage: scripts/build-fixtures.sh [NAME...]   (no names: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
out=internal/fixture/wasm
want=("$@")
selected() { [ ${#want[@]} -eq 0 ] && return 0; local n; for n in "${want[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

for f in internal/fixture/src/wat/*.wat; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .wat); selected "$n" || continue
  flags=$(sed -n 's/^;; wat2wasm: //p' "$f" | head -1)
  # shellcheck disable=SC2086
  wat2wasm $flags "$f" -o "$out/$n.wasm"
  echo "built $out/$n.wasm"
done

cc_wasm() { # src dst
  local flags
  flags=$(sed -n 's|^// cflags: ||p' "$1" | head -1)
  # shellcheck disable=SC2086
  clang --target=wasm32-wasi -O2 -Wall -Werror $flags -o "$2" "$1"
}
for f in internal/fixture/src/c/*.c; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .c); selected "$n" || continue
  cc_wasm "$f" "$out/$n.wasm"
  echo "built $out/$n.wasm"
done
for f in examples/src/*.c; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .c); selected "$n" || continue
  dst="examples/$n.wasm"
  case "$n" in *_http) dst="internal/quickstart/$n.wasm" ;; esac
  cc_wasm "$f" "$dst"
  echo "built $dst"
done

for d in internal/fixture/src/go/*/; do
  [ -e "$d/main.go" ] || continue
  n=$(basename "$d"); selected "$n" || continue
  (cd "$d" && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$OLDPWD/$out/$n.wasm" .)
  echo "built $out/$n.wasm"
done
