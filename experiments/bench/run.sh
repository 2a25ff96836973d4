#!/usr/bin/env bash
# Performance benchmark (docs/performance.md). Runs each scenario N times (default 5) and
# prints the median wall time, the median peak RSS, and simulated work per wall second.
# Usage: experiments/bench/run.sh [build/release/sim/kvsim] [N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kvsim="${1:-$here/../../build/release/sim/kvsim}"
n="${2:-5}"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf "%-14s %10s %12s %12s %14s %16s\n" scenario requests wall_s_med rss_MB_med steps_per_s requests_per_s
for scenario in blis_100k sharegpt_1m; do
  walls=(); rss=(); steps=0; reqs=0
  for ((i = 0; i < n; i++)); do
    out=$( { /usr/bin/time -f "TIME %e %M" "$kvsim" run -c "$here/$scenario.yaml" --format json > /tmp/kvsim_bench.json; } 2>&1 )
    walls+=("$(echo "$out" | awk '/^TIME/ {print $2}')")
    rss+=("$(echo "$out" | awk '/^TIME/ {print $3/1024}')")
    steps=$(echo "$out" | awk '/kvsim run:/ {print $3}')
  done
  reqs=$(python3 -c "import json; print(json.load(open('/tmp/kvsim_bench.json'))['summary']['requests']['finished'])")
  w=$(printf "%s\n" "${walls[@]}" | median)
  r=$(printf "%s\n" "${rss[@]}" | median)
  printf "%-14s %10s %12s %12.1f %14.0f %16.0f\n" "$scenario" "$reqs" "$w" "$r" "$(awk "BEGIN{print $steps / $w}")" "$(awk "BEGIN{print $reqs / $w}")"
done

# Sweep and plan benchmarks (issue targets: 1,000-point sweep of 10,000-request scenarios in
# at most 60 s; plan over 5 methods in at most 30 s), median of N runs, all cores.
printf "\n%-14s %10s %12s\n" benchmark runs wall_s_med
for b in sweep plan; do
  walls=()
  for ((i = 0; i < n; i++)); do
    out_dir="$(mktemp -d)"
    start=$(date +%s.%N)
    if [ "$b" = sweep ]; then
      "$kvsim" sweep --no-progress -c "$here/sweep_base.yaml" --sweep "$here/sweep_1000.yaml" --out "$out_dir/r" > /dev/null
    else
      "$kvsim" plan -c "$here/sweep_base.yaml" --plan "$here/plan_5.yaml" > /dev/null 2>&1
    fi
    walls+=("$(awk "BEGIN{print $(date +%s.%N) - $start}")")
    rm -rf "$out_dir"
  done
  printf "%-14s %10s %12.2f\n" "$b" "$n" "$(printf "%s\n" "${walls[@]}" | median)"
done
