#!/usr/bin/env bash
# Accuracy regression: kvsim's step predictions against the committed end-to-end ground truth must
# stay within the 10 %, with the shipped bundles and PyTorch's microbenchmarked kernels:
# H200 (five PyTorch Llama runs, docs/calibration.md section 4b; worst 8.6 % on 2026-11-29) and
# H100 SXM (three PyTorch Llama-2-7B runs, its own bundle and microbenchmarks; worst 9.9 % on 2026-12-07).
# A change to the cost model, the fitter or a bundle that degrades it fails here. No GPU needed.
# Usage: e2e_accuracy.sh KVSIM SOURCE_DIR [MAX_ERROR]   (exit 77 = skipped: no python3)
kvsim="$1"; src="$2"; max="${3:-0.10}"
if ! command -v python3 > /dev/null 2>&1; then echo "SKIP: python3 not found (setup.sh installs it)"; exit 77; fi
cd "$src" || exit 2
runs=(calibration/e2e/results/h200/e2e-linear-runs/run*/e2e_*.csv)
[ -f "${runs[0]}" ] || { echo "no e2e runs under calibration/e2e/results/h200/e2e-linear-runs"; exit 2; }
# Only the installed bundles of this checkout, whatever the environment says.
KVSIM_CALIBRATION_DIR="$src/calibration/data" python3 calibration/e2e/compare.py --kvsim "$kvsim" \
  --max-error "$max" "${runs[@]}" 2> >(grep -v "^skipped" >&2) | tail -6
rc=${PIPESTATUS[0]}
h100=(calibration/e2e/results/h100/e2e-linear-runs/run*/e2e_*.csv)
[ -f "${h100[0]}" ] || { echo "no e2e runs under calibration/e2e/results/h100/e2e-linear-runs"; exit 2; }
echo "-- H100 SXM"
KVSIM_CALIBRATION_DIR="$src/calibration/data" python3 calibration/e2e/compare.py --kvsim "$kvsim" --gpu h100-sxm \
  --framework calibration/e2e/results/h100 --bundles calibration/data/h100-sxm \
  --max-error "$max" "${h100[@]}" 2> >(grep -v "^skipped" >&2) | tail -6
rc_h100=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && [ "$rc_h100" -eq 0 ] || { echo "FAIL: a point is off by more than $max (or compare.py failed, rc=$rc/$rc_h100)"; exit 1; }
