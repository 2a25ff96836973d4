#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) from the committed corpus, growing it.
# Build first (tests/fuzz/CMakeLists.txt). Prints executions and time per target.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${BUILD:-$here/../../build/fuzz}"
secs="${1:-60}"
for t in ${TARGETS:-config trace bundle sweep overlay}; do
  mkdir -p "$here/corpus/$t"
  log="$(mktemp)"
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  execs=$(grep -m1 "stat::number_of_executed_units" "$log" | awk '{print $2}')
  echo "fuzz_$t: rc=$rc, $execs executions in ${secs} s, corpus $(ls "$here/corpus/$t" | wc -l) files"
  [ $rc -eq 0 ] || { grep -A30 "ERROR\|==.*==" "$log" | head -60; }
  rm -f "$log"
done
