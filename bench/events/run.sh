#!/usr/bin/env bash
# Runs the event-processing benchmark (see BENCHMARKS.md, "Event
# processing"). Extra arguments go to the runner, e.g. -n 500000.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/events "$@"
