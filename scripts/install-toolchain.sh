#!/usr/bin/env bash
# Installs the Debian packages (and the npm package) that rebuild fixtures and run benchmarks.
# Tests need none of them: built modules are committed.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt binaryen wrk hyperfine chromium docker-registry curl >/dev/null
# node: V8's WebAssembly.validate in bench/scan/corpus.sh, and npm for jco below.
command -v node >/dev/null || $SUDO apt-get install -y -qq nodejs npm >/dev/null
# wasm-tools' parser and wit-component, for the WebAssembly 3.0 and component fixtures
# (";; assembler: wasm-tools" WAT files, internal/fixture/src/gen/comp_cmd).
if command -v npm >/dev/null; then $SUDO npm install -g --no-audit --no-fund @bytecodealliance/jco@1.35.0 >/dev/null; fi
