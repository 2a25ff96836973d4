#!/usr/bin/env bash
# Regenerates every number in docs/validation.md from the committed ground truth (no GPU needed).
# Usage (repo root): experiments/validation/run.sh [KVSIM]
set -euo pipefail
K="${1:-build/release/sim/kvsim}"
here="experiments/validation"
python3 "$here/make_measured.py" "$K"
echo "== step times (CUDA-graph PyTorch Llama-3-8B on H200)"
"$K" validate -c "$here/steps.yaml" --measured "$here/steps_llama-3-8b.csv" --worst 5 --out "$here/result_steps.json" \
  | sed -n '/^  metric/,$p'
echo "== serving: HF continuous batching with vLLM V1's rules and the eager host preset (per-sequence attention)"
"$K" validate -c "$here/hf_cb.yaml" --measured "$here/serving_hf_cb.csv" --worst 3 --out "$here/result_hf_cb_defaults.json" \
  | sed -n '/^  metric/,$p'
echo "== fit of HF's attention kernel and host overhead from its own step trace (offline run)"
fit=$(python3 "$here/fit_overhead_steps.py" --kvsim "$K")
echo "$fit"
eff=$(echo "$fit" | sed -n 's/.*attention_compute_efficiency=\([0-9.]*\).*/\1/p')
ovh=$(echo "$fit" | sed -n "s/.*engine.overhead=\({[^}]*}\).*/\1/p")
echo "== serving with the step-trace fit"
"$K" validate -c "$here/hf_cb.yaml" --measured "$here/serving_hf_cb.csv" --set cost_model.attention=batch_masked \
  --set "cost_model.attention_compute_efficiency=$eff" --set "engine.overhead=$ovh" --worst 6 \
  --out "$here/result_hf_cb_fitted.json" | sed -n '/^  metric/,$p'
# The hf-cb engine profile alone (issue #14), nothing fitted on the target: scenario, measured
# results, result name, title.
profile_check() {
  echo "== $4"
  "$K" validate -c "$here/$1" --measured "$here/$2" --worst 3 --out "$here/$3" | sed -n '/^  metric  *points/,$p'
}
profile_check hf_cb_profile.yaml serving_hf_cb.csv result_hf_cb_profile.json \
  "serving: HF continuous batching (Llama-3-8B, H200), hf-cb profile"
profile_check hf_cb_sw256.yaml serving_hf_cb_sw256.csv result_hf_cb_sw256.json \
  "serving: 256-token sliding-window KV (Mistral-7B, H200) under HF continuous batching, hf-cb profile"
profile_check hf_cb_mistral_h100.yaml serving_hf_cb_mistral_h100.csv result_hf_cb_mistral_h100.json \
  "cross-GPU check: Mistral-7B under HF continuous batching on an H100, hf-cb profile (H200 constants)"
profile_check hf_cb_llama_h100.yaml serving_hf_cb_llama_h100.csv result_hf_cb_llama_h100.json \
  "cross-GPU check: Llama-3-8B under HF continuous batching on an H100, hf-cb profile (H200 constants)"
profile_check hf_cb_profile.yaml serving_hf_cb_repeat.csv result_hf_cb_repeat.json \
  "serving: the same engine and request set on the same H200, 8 minutes later (offline, 8 req/s), hf-cb profile"
# Step costs alone: every iteration of the engine's own step traces, priced by kvsim step --shapes.
echo "== step costs: HF CB iterations (H100 Llama-3-8B step traces) against kvsim step"
python3 "$here/step_trace_check.py" --kvsim "$K" --model llama-3-8b --gpu h100-sxm \
  calibration/e2e/results/h100/hf_cb_llama/steps_{offline,rate4,rate8,rate16}.csv
echo "== step costs: HF CB iterations (H200 Llama-3-8B step traces) against kvsim step"
python3 "$here/step_trace_check.py" --kvsim "$K" --model llama-3-8b --gpu h200 \
  calibration/e2e/results/h200/hf_cb_steps/steps_{offline,rate8}.csv
