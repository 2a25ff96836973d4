#!/usr/bin/env bash
# Kills `kvsim sweep` with SIGKILL at random moments, resumes it each time, and checks that
# the final results hold every point exactly once, with rows identical to an uninterrupted
# run (no lost, duplicated or torn rows). Usage: kill_resume.sh KVSIM_BINARY [ROUNDS]
set -euo pipefail
kvsim="$1"
rounds="${2:-6}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/base.yaml" <<'YAML'
seed: 11
workload: {num_requests: 20000, arrival: {kind: poisson, rate_per_s: 30}}
run: {sample_interval_s: 0}
YAML
cat > "$work/grid.yaml" <<'YAML'
axes:
  compression: [fp16, int4, h2o, kivi-4]
  workload.arrival.rate_per_s: [10, 20, 30, 40, 50]
repetitions: 3
YAML
"$kvsim" sweep --no-progress -j 2 -c "$work/base.yaml" --sweep "$work/grid.yaml" --out "$work/ref" > /dev/null
# Deterministic "random" kill delays (seeded), so a failure reproduces.
RANDOM=42
resume=""
killed_at=""
for ((i = 0; i < rounds; i++)); do
  "$kvsim" sweep --no-progress -j 2 $resume -c "$work/base.yaml" --sweep "$work/grid.yaml" --out "$work/run" > /dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  [ -f "$work/run/sweep.csv" ] && killed_at+=" $(($(wc -l < "$work/run/sweep.csv") - 2))"
  resume="--resume"
done
"$kvsim" sweep --no-progress -j 2 $resume -c "$work/base.yaml" --sweep "$work/grid.yaml" --out "$work/run" > /dev/null
rows() { tail -n +3 "$1" | sort; }
if ! diff <(rows "$work/ref/sweep.csv") <(rows "$work/run/sweep.csv") > "$work/diff"; then
  echo "kill_resume: sweep.csv differs from the uninterrupted run:"; head -20 "$work/diff"; exit 1
fi
if ! diff <(sort "$work/ref/sweep.jsonl") <(sort "$work/run/sweep.jsonl") > /dev/null; then
  echo "kill_resume: sweep.jsonl differs from the uninterrupted run"; exit 1
fi
dups=$(tail -n +3 "$work/run/sweep.csv" | cut -d, -f1 | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || { echo "kill_resume: $dups duplicated points"; exit 1; }
n=$(tail -n +3 "$work/run/sweep.csv" | wc -l)
[ "$n" -eq 60 ] || { echo "kill_resume: expected 60 rows, found $n"; exit 1; }
echo "kill_resume: ok ($rounds kills with rows on disk after each:$killed_at; 60 points, identical to the uninterrupted run)"
