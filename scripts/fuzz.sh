#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for FUZZ_SECONDS (default
# 60) from its seed corpus in tests/fuzz/corpus; any crash, leak or sanitizer report fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMPOOL_FUZZ=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target npy_header_fuzz request_fuzz

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for target in npy_header_fuzz request_fuzz; do
  seeds=tests/fuzz/corpus/${target%_fuzz}
  seeds=${seeds/npy_header/npy}
  work="$dir/corpus-$target"  # new inputs go here, never into the repo's seeds
  mkdir -p "$work"
  log="$dir/$target.log"
  echo "== fuzzing $target for ${seconds}s (seeds: $(ls "$seeds" | wc -l) in $seeds)"
  if ! "$dir/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$dir/$target-" "$work" "$seeds" >"$log" 2>&1; then
    tail -50 "$log"
    echo "fuzz.sh: $target found a problem (log: $log; the input is in the working directory)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "   $target: $runs executions, corpus now $(ls "$work" | wc -l) inputs in $work"
done
