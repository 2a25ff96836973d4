#!/usr/bin/env bash
# What kvsim runs on a lent GPU machine (docs/calibration.md, "Reproducing the H200 bundle").
#   calibration/run_device.sh smoke            dry-run checks + a quick grid + quick e2e
#   calibration/run_device.sh bundle SHAPE...  full grids, one bundle per shape
#   calibration/run_device.sh e2e MODEL...     end-to-end PyTorch ground truth
#   calibration/run_device.sh bundle_e2e S1,S2 MODEL...   bundles for the shapes, then e2e for the models
#   calibration/run_device.sh framework MODEL...          PyTorch small-op bench + per-kernel step profiles
#   calibration/run_device.sh sdpa_e2e MODEL...           PyTorch prefill SDPA bench, then e2e runs
#   calibration/run_device.sh torch_ops SHAPE...          PyTorch prefill SDPA and GEMM benches
#   calibration/run_device.sh probe MODEL SHAPES          GEMM power probe, then per-kernel profiles of the
#                                                         model's SHAPES (phase:batch:context,...) in eager
#                                                         steps and in back-to-back graph replays
# Results go to $OUT (or ./device-out) as one tar.gz per stage.
set -uo pipefail
stage="$1"; shift
out="${OUT:-./device-out}"
mkdir -p "$out" work
bin=./build/release/calibration/kvsim-calibrate
if ! "$bin" --help > /dev/null 2>&1; then
  echo "carried binary does not run here; building" >&2
  calibration/build.sh work/kvsim-calibrate && bin=work/kvsim-calibrate
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv | tee work/smi.txt
case "$stage" in
  smoke)
    "$bin" --model-shape llama-3-8b --out work/dry --dry-run 2>&1 | tail -20
    "$bin" --model-shape llama-3-8b --out work/quick --quick 2>&1 | tail -15
    PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_llama_e2e.py --model llama-3-8b --out work/e2e-quick --quick 2>&1 | tail -20
    ;;
  bundle)
    "$bin" --model-shape "$1" --out work/dry --dry-run > work/dry.log 2>&1; echo "dry-run rc=$?"; grep -c " ok$" work/dry.log; tail -5 work/dry.log
    for s in "$@"; do "$bin" --model-shape "$s" --out "work/bundle/$s" > "work/bundle-$s.log" 2>&1; echo "$s rc=$?"; tail -4 "work/bundle-$s.log"; done
    ;;
  bundle_e2e)
    # SHAPES (comma-separated) get full bundles, then the remaining args get e2e runs.
    shapes="$1"; shift
    first="${shapes%%,*}"
    "$bin" --model-shape "$first" --out work/dry --dry-run > work/dry.log 2>&1; echo "dry-run rc=$?"; grep -c " ok$" work/dry.log; tail -5 work/dry.log
    for shape in ${shapes//,/ }; do
      "$bin" --model-shape "$shape" --out "work/bundle/$shape" > "work/bundle-$shape.log" 2>&1; echo "$shape rc=$?"; tail -3 "work/bundle-$shape.log"
    done
    for m in "$@"; do PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_llama_e2e.py --model "$m" --out work/e2e 2>&1 | grep -v Warn | tail -45; done
    ;;
  framework)
    # PyTorch's own small-kernel cost in a CUDA graph (a framework microbenchmark), then a
    # per-kernel profile of the e2e model's steps (diagnosis only).
    PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_small_op_bench.py --out work/torch_small_op 2>&1 | grep -v Warn
    for m in "$@"; do PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_profile_step.py --model "$m" --out work/profile 2>&1 | grep -v Warn; done
    ;;
  torch_ops)
    # PyTorch's own prefill SDPA and GEMMs over the bundle grids (framework overlays).
    for m in "$@"; do PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_sdpa_bench.py --shape "$m" --out work/torch_sdpa 2>&1 | grep -v Warn | tail -2; done
    for m in "$@"; do case "$m" in llama-2-7b|llama-3-8b) PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_gemm_bench.py --shape "$m" --out work/torch_gemm 2>&1 | grep -v Warn;; esac; done
    ;;
  sdpa_e2e)
    # PyTorch's prefill SDPA over the bundle's grid for each model, then the e2e runs.
    for m in "$@"; do PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_sdpa_bench.py --shape "$m" --out work/torch_sdpa 2>&1 | grep -v Warn | tail -3; done
    for m in "$@"; do PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_llama_e2e.py --model "$m" --out work/e2e 2>&1 | grep -v Warn | tail -5; done
    ;;
  probe)
    PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_gemm_power_probe.py --out work/probe 2>&1 | grep -v Warn
    PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_profile_step.py --model "$1" --shapes "$2" --out work/profile_eager 2>&1 | grep -v Warn
    PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_profile_step.py --model "$1" --shapes "$2" --graph --out work/profile_graph 2>&1 | grep -v Warn
    ;;
  e2e)
    for m in "$@"; do PYTHONUNBUFFERED=1 python3 calibration/e2e/torch_llama_e2e.py --model "$m" --out work/e2e 2>&1 | tail -40; done
    ;;
esac
cp work/smi.txt work/ 2>/dev/null
# $OUT file names may hold only letters, digits, '.', '_' and '-'.
tar czf "$out/${stage//[^A-Za-z0-9._-]/_}.tar.gz" -C work . && ls -la "$out"
