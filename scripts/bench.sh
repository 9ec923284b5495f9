#!/usr/bin/env bash
# Benchmarks side by side (issue #5): setup, a Release build in build-bench, then bench/run.py
# (its own daemon on a private instance), writing docs/benchmarks.md and docs/img/*.png.
# scripts/bench.sh [--tiny] [--out FILE.md] [--img DIR] [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build-bench
exec /usr/bin/python3 bench/run.py --build build-bench "$@"
