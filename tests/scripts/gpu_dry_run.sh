#!/usr/bin/env bash
# GPU test: every calibration kernel checked against its CPU reference at tiny sizes
# (kvsim-calibrate --dry-run). Skips (exit 77) with a message when no GPU or no binary.
bin="$1"
if [ ! -x "$bin" ]; then echo "SKIP: kvsim-calibrate was not built (no nvcc)"; exit 77; fi
if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > /dev/null 2>&1; then
  echo "SKIP: no NVIDIA GPU on this machine (calibration kernels are checked on a GPU machine)"; exit 77
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bin" --model-shape llama-3-8b --out "$out" --dry-run
