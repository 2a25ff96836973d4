#!/usr/bin/env bash
# Finding 4: tensor parallelism shrinks the decode gain of compression (kvsim step --tensor T).
set -euo pipefail
cd "$(dirname "$0")/../../.."
KVSIM=${KVSIM:-build/release/sim/kvsim}
PY=${PY:-/usr/bin/python3}
D=experiments/findings/04-tp-effect
G="$PY experiments/findings/lib/stepgrid.py --kvsim $KVSIM --phase decode"
M=fp16,kivi-4,kivi-2,gear-4,int4,int8,h2o,streamingllm

# Llama-3-8B, roofline at every T (with 'auto' T=1 would use the bundle and T>1 the roofline: mixed).
$G --out $D/tp.csv --label l3-8b-roofline --cost-model roofline --model llama-3-8b --gpu h200 --methods $M \
   --tensors 1,2,4,8 --batches 16,64 --contexts 2048,8192
# Llama-2-7B (32 KV heads, so every T splits the KV heads), roofline.
$G --out $D/tp.csv --append --label l2-7b-roofline --cost-model roofline --model llama-2-7b --gpu h200 --methods $M \
   --tensors 1,2,4,8 --batches 16,64 --contexts 2048,4096
# Llama-3-70B: measured shard bundles at T=4 and T=8 (cost model auto), and the roofline at T=2,4,8.
$G --out $D/tp.csv --append --label l3-70b-bundle --model llama-3-70b --gpu h200 --methods $M \
   --tensors 4,8 --batches 16,64 --contexts 2048,8192
$G --out $D/tp.csv --append --label l3-70b-roofline --cost-model roofline --model llama-3-70b --gpu h200 --methods $M \
   --tensors 2,4,8 --batches 16,64 --contexts 2048,8192

$PY $D/plot.py $D
