#!/usr/bin/env bash
# Sets up, builds and runs every test twice: a Release build, then an ASan+UBSan build.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== Release build and tests"
scripts/build.sh build
(cd build && ctest --output-on-failure --timeout 900)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
scripts/build.sh build-asan -DSHMPOOL_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
# handle_segv=0: a worker that segfaults (the fault tests make some on purpose) dies by
# SIGSEGV as in a normal build, rather than by ASan's report and abort.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:handle_segv=0
export SHMPOOL_SANITIZED=1  # tests that cannot run under ASan (RLIMIT_DATA vs its shadow) say so
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 900)

echo "== libFuzzer targets, ${FUZZ_SECONDS:-60} s each (clang, ASan+UBSan)"
scripts/fuzz.sh
