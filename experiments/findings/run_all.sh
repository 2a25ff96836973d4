#!/usr/bin/env bash
# Regenerate every finding's CSVs and PNGs. Run from anywhere; paths are relative to the repo root.
#   experiments/findings/run_all.sh                  # uses build/release/sim/kvsim
#   KVSIM=/path/to/kvsim experiments/findings/run_all.sh
# Needs /usr/bin/python3 with matplotlib (Debian python3-matplotlib); set PY=... to use another.
# About 1 minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export KVSIM=${KVSIM:-build/release/sim/kvsim}
export PY=${PY:-/usr/bin/python3}
[ -x "$KVSIM" ] || { echo "run_all.sh: no kvsim binary at $KVSIM (set KVSIM=...)" >&2; exit 2; }
for f in 01-throughput-grid 02-quant-vs-evict 03-prefill-penalty 04-tp-effect 05-length-e2e 06-routing; do
  echo "== $f"
  experiments/findings/$f/run.sh
done
$PY experiments/findings/lib/summary.py experiments/findings > experiments/findings/summary.txt
echo "== numbers quoted in the notes: experiments/findings/summary.txt"
