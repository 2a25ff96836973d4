#!/usr/bin/env bash
# Finding 2: quantization (little decode speedup at a fixed batch, but capacity -> bigger batches)
# vs eviction (decode time flat in context).
set -euo pipefail
cd "$(dirname "$0")/../../.."
KVSIM=${KVSIM:-build/release/sim/kvsim}
PY=${PY:-/usr/bin/python3}
D=experiments/findings/02-quant-vs-evict
G="$PY experiments/findings/lib/stepgrid.py --kvsim $KVSIM --phase decode"
M=fp16,kivi-4,kivi-2,gear-4,gear-8,int4,int8,fp8,h2o,streamingllm,snapkv

# A. Fixed-batch decode step time vs context (kvsim step).
$G --out $D/step_fixed_batch.csv --label h200-bundle --model llama-3-8b --gpu h200 --methods $M \
   --batches 16,64 --contexts 1024,2048,4096,6144,8192
$G --out $D/step_fixed_batch.csv --append --label a100-roofline --model llama-2-7b --gpu a100-80gb --methods $M \
   --batches 16,64 --contexts 512,1024,2048,3072,4096

# B. Capacity on a memory-bound offline batch (kvsim sweep), length effect off.
rm -rf $D/sweep_a100 $D/sweep_h200
$KVSIM sweep -c $D/scenario.yaml --sweep $D/sweep.yaml --out $D/sweep_a100 -j 2 --no-progress
$KVSIM sweep -c $D/scenario_h200.yaml --sweep $D/sweep_h200.yaml --out $D/sweep_h200 -j 2 --no-progress
rm -f $D/sweep_a100/manifest.json $D/sweep_h200/manifest.json   # absolute paths + wall time only

$PY $D/plot.py $D
