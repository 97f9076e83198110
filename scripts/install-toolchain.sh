#!/usr/bin/env bash
# Installs the Debian packages that rebuild fixtures and run benchmarks.
# Tests need none of them: built modules are committed.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt binaryen wrk hyperfine >/dev/null
