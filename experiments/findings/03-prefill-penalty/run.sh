#!/usr/bin/env bash
# Finding 3 (prefill side): prefill step time vs prompt length per method (kvsim step --phase prefill).
set -euo pipefail
cd "$(dirname "$0")/../../.."
KVSIM=${KVSIM:-build/release/sim/kvsim}
PY=${PY:-/usr/bin/python3}
D=experiments/findings/03-prefill-penalty
G="$PY experiments/findings/lib/stepgrid.py --kvsim $KVSIM --phase prefill"
M=fp16,kivi-4,kivi-2,gear-4,gear-8,h2o,snapkv,streamingllm

$G --out $D/prefill.csv --label h200-bundle --model llama-3-8b --gpu h200 --methods $M \
   --batches 1,4 --contexts 256,512,1024,2048,4096,8192
$G --out $D/prefill.csv --append --label h200-roofline --cost-model roofline --model llama-3-8b --gpu h200 \
   --methods $M --batches 1,4 --contexts 256,512,1024,2048,4096,8192
$G --out $D/prefill.csv --append --label a6000-roofline --model llama-2-7b --gpu rtx-a6000 --methods $M \
   --batches 1,4 --contexts 256,512,1024,2048,4096

$PY $D/plot.py $D
