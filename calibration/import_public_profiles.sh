#!/usr/bin/env bash
# Regenerates the shipped imported bundles (calibration/data/public/) from the public profiles
# (docs/calibration.md, "Imported public profiles"). The profiles themselves are not shipped:
# PROFILES is a checkout of the files listed below (default ../shared/data/public-profiles,
# which holds byte-for-byte copies from microsoft/vidur and NetX-lab/Frontier at the commits
# named here).
#   calibration/import_public_profiles.sh [PROFILES] [OUT]     (OUT default calibration/data/public)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profiles="${1:-$here/../shared/data/public-profiles}"
out="${2:-$here/calibration/data/public}"
kvsim="${KVSIM:-$here/build/release/sim/kvsim}"
vidur=(--project Vidur --repository microsoft/vidur --commit 7d47513363ec447a741ac5e47241580b47724fbf)
frontier=(--project Frontier --repository NetX-lab/Frontier --commit a4b22df8211864bf229258ecdfbe680f048f2d77)

# model folder (Vidur's), kvsim name, layers
models=(
  "meta-llama/Llama-2-7b-hf llama-2-7b 32"
  "meta-llama/Llama-2-70b-hf llama-2-70b 80"
  "codellama/CodeLlama-34b-Instruct-hf codellama-34b 48"
  "Qwen/Qwen-72B qwen-72b 80"
  "internlm/internlm-20b internlm-20b 60"
  "meta-llama/Meta-Llama-3-8B llama-3-8b 32"
  "meta-llama/Meta-Llama-3-70B llama-3-70b 80"
)
for gpu in a100:a100-80gb a40:a40 h100:h100-sxm; do
  vgpu="${gpu%%:*}"; kgpu="${gpu##*:}"
  for m in "${models[@]}"; do
    read -r folder name layers <<< "$m"
    f="$profiles/vidur/compute/$vgpu/$folder/mlp.csv"
    [ -f "$f" ] || continue
    "$kvsim" calibrate import-profiles --force "${vidur[@]}" --gpu "$kgpu" --model "$name" --layers "$layers" \
      --mlp "$f" --mlp-path "data/profiling/compute/$vgpu/$folder/mlp.csv" --out "$out/$kgpu"
  done
done
# A800 (an A100 variant): Llama-2-7B linear layers and FlashInfer attention.
"$kvsim" calibrate import-profiles --force "${frontier[@]}" --gpu a800-80gb --model llama-2-7b --layers 32 \
  --mlp "$profiles/frontier/compute/a800/meta-llama/Llama-2-7b-hf/mlp.csv" \
  --mlp-path data/profiling/compute/a800/meta-llama/Llama-2-7b-hf/mlp.csv \
  --attention "$profiles/frontier/compute/a800/meta-llama/Llama-2-7b-hf/attention.csv" \
  --attention-path data/profiling/compute/a800/meta-llama/Llama-2-7b-hf/attention.csv \
  --ffn 11008 --vocab 32000 --out "$out/a800-80gb"
# Frontier's Qwen2-MoE example (Qwen1.5-MoE-A2.7B: 24 layers, hidden 2048, 16 heads; FFN and
# vocabulary only label the shape): FlashInfer attention on A100 and H100.
for gpu in a100:a100-80gb h100:h100-sxm; do
  vgpu="${gpu%%:*}"; kgpu="${gpu##*:}"
  "$kvsim" calibrate import-profiles --force "${frontier[@]}" --gpu "$kgpu" --model qwen2-moe-a2.7b --layers 24 \
    --attention "$profiles/frontier/compute/$vgpu/qwen2_moe_example/attention.csv" \
    --attention-path "data/profiling/compute/$vgpu/qwen2_moe_example/attention.csv" \
    --ffn 5632 --vocab 151936 --out "$out/$kgpu"
done
# Vidur's NCCL tables of DGX nodes (SXM GPUs on NVSwitch): all-reduce and sends within a node.
for gpu in a100:a100-80gb h100:h100-sxm; do
  vgpu="${gpu%%:*}"; kgpu="${gpu##*:}"
  for f in all_reduce send_recv; do
    "$kvsim" calibrate import-profiles --force "${vidur[@]}" --gpu "$kgpu" \
      --network "$profiles/vidur/network/${vgpu}_dgx/$f.csv" \
      --network-path "data/profiling/network/${vgpu}_dgx/$f.csv" --out "$out"
  done
done
