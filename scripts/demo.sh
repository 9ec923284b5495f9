#!/usr/bin/env bash
# The README's main command: set up, build, start shmpoold with its defaults, run the seed
# workloads through it (all workers, then one), print checksums and speed-ups, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec /usr/bin/python3 scripts/demo.py --build build "$@"
