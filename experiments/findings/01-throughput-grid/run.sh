#!/usr/bin/env bash
# Finding 1: decode throughput vs batch x context per method (kvsim step grid).
# Usage (from anywhere): experiments/findings/01-throughput-grid/run.sh   [KVSIM=path/to/kvsim]
set -euo pipefail
cd "$(dirname "$0")/../../.."                      # repo root
KVSIM=${KVSIM:-build/release/sim/kvsim}
PY=${PY:-/usr/bin/python3}
D=experiments/findings/01-throughput-grid
G="$PY experiments/findings/lib/stepgrid.py --kvsim $KVSIM --phase decode"
M=fp16,kivi-4,kivi-2,h2o,streamingllm

# 1. Production-like: Llama-3-8B on H200, vLLM V1 (CUDA graphs), measured H200 bundle (cost model auto).
$G --out $D/step_grid.csv --label h200-bundle --model llama-3-8b --gpu h200 --methods $M \
   --batches 1,2,4,8,16,32,64 --contexts 512,1024,2048,4096,8192
# 2. Same grid, uncalibrated roofline (placeholder attention efficiencies for quantized kernels).
$G --out $D/step_grid.csv --append --label h200-roofline --cost-model roofline --model llama-3-8b --gpu h200 \
   --methods $M --batches 1,2,4,8,16,32,64 --contexts 512,1024,2048,4096,8192
# 3. The study's own range (batch 1-16, Llama-2-7B, RTX A6000): roofline only (no A6000 bundle).
$G --out $D/step_grid.csv --append --label a6000-roofline --model llama-2-7b --gpu rtx-a6000 --methods $M \
   --batches 1,2,4,8,16 --contexts 256,512,1024,2048,4096
# 4. "Eager" framework: same H200 grid at batch 1-16 with the eager CPU overhead preset (25 ms/step).
$G --out $D/step_grid.csv --append --label h200-bundle-eager --model llama-3-8b --gpu h200 --methods $M \
   --batches 1,2,4,8,16 --contexts 512,1024,2048,4096,8192 --extra "--overhead eager"

$PY $D/plot.py $D
