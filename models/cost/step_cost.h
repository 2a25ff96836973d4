#pragma once
// The predicted time of one engine iteration, with a per-operator breakdown.
#include <array>
#include <cstdint>
#include <string_view>

#include "sim/core/time.h"

namespace kvsim {

enum class Op : std::uint8_t {
  kQkvProj,
  kOProj,
  kGateUpProj,
  kDownProj,
  kAttnPrefill,
  kAttnDecode,
  kNormRope,
  kActivation,
  kLmHead,
  kSampling,
  kKvQuantize,   // compression: quantize new K/V on write (and residual flushes)
  kKvDequant,    // compression: separate dequantize pass before fp16 attention
  kKvScores,     // compression: materialized attention scores (H2O, SnapKV observation window)
  kKvCompaction, // compression: top-k selection and gather of kept tokens into pages
  kKvLowRank,    // compression: GEAR low-rank and outlier terms
  kKernelGaps,   // launch gaps between kernels on the GPU timeline
  kSwap,         // KV copies over the host link
  kCommTp,       // tensor-parallel all-reduces and the logits gather (not hidden by overlap)
  kCommPp,       // pipeline-parallel stage-to-stage sends
  kCpuOverhead,  // scheduler, input preparation, framework (per step / request / token)
  kCount
};
inline constexpr std::size_t kNumOps = static_cast<std::size_t>(Op::kCount);

constexpr std::string_view op_name(Op op) {
  constexpr std::array<std::string_view, kNumOps> names = {
      "qkv_proj",    "o_proj",      "gate_up_proj", "down_proj",     "attn_prefill", "attn_decode",
      "norm_rope",   "activation",  "lm_head",      "sampling",      "kv_quantize",  "kv_dequant",
      "kv_scores",   "kv_compaction", "kv_lowrank", "kernel_gaps",   "swap",         "tp_comm",
      "pp_comm",     "cpu_overhead"};
  return names[static_cast<std::size_t>(op)];
}

struct OpCost {
  double flops = 0;
  double bytes = 0;
  Duration ns = 0;
  bool compute_bound = false;
};

struct StepCost {
  std::array<OpCost, kNumOps> ops{};
  Duration gpu_ns = 0;    // device work (everything but cpu_overhead)
  Duration cpu_ns = 0;    // host-side overhead not hidden behind the GPU
  Duration total_ns = 0;  // > 0 for any non-empty batch

  OpCost& operator[](Op op) { return ops[static_cast<std::size_t>(op)]; }
  const OpCost& operator[](Op op) const { return ops[static_cast<std::size_t>(op)]; }
};

}  // namespace kvsim
