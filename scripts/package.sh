#!/usr/bin/env bash
# Builds the Debian package: scripts/package.sh [BUILDDIR]  (default build-deb) -> BUILDDIR/*.deb
# Portable code (no -march=native; the hot loops dispatch at run time by CPU), Release, under /usr, config in /etc.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-deb}"
scripts/build.sh "$dir" -DSHMPOOL_NATIVE=OFF -DCMAKE_INSTALL_PREFIX=/usr
(cd "$dir" && cpack -G DEB)
ls "$dir"/*.deb
