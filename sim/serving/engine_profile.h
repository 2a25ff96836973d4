#pragma once
// What an engine *implements*: which kernels each operator runs, how the host issues them, how
// the engine sizes its KV pool, and its scheduler's own defaults, each with the source it was
// read from. An EngineConfig (the knobs) is built from a profile; a report and `kvsim list
// engines` print it, so a user sees what priced a number and which parts are assumed.
//
// A profile changes pricing through `costing` only (the cost model's attention semantics and
// how a quantized KV cache is read); everything else is description, kept next to the knobs
// so the two cannot drift apart (tests/serving/engine_profile_test.cpp checks each rule
// against the preset built from it).
#include <string>
#include <vector>

#include "models/cost/host_model.h"

namespace kvsim {

// How the engine reads a quantized KV cache in decode attention.
enum class DequantPath : std::uint8_t {
  kFused,    // inside the attention kernel (vLLM fp8 in FlashAttention, LMDeploy int4/int8 pages)
  kUnfused,  // a separate dequantize pass that writes fp16 before attention (HF QuantizedCache)
};

struct EngineCosting {
  // One dense SDPA over the whole batch with a block-diagonal mask (HF paged|sdpa), instead of
  // per-sequence varlen/paged kernels.
  bool batch_masked_attention = false;
  DequantPath dequant = DequantPath::kFused;
  // Share of the bf16 dense peak the engine's attention reaches, where it was measured for that
  // engine's kernel (0: the cost model's default). HF's masked SDPA: 0.31 (rules cite it).
  double attention_compute_efficiency = 0;
  // The engine's batch-masked attention layer as measured (RooflineParams::masked_*; 0: none).
  double masked_fixed_us = 0, masked_ns_per_kv = 0, masked_ps_per_pair = 0;
  double masked_single_fixed_us = 0, masked_single_ns_per_kv = 0;
  // The catalog GPU the attention layer was measured on. On another GPU the per-KV-token terms
  // (gathers and copies: memory-bound) scale with the HBM bandwidth ratio and the per-pair term
  // (the SDPA's FLOPs) with the bf16 peak ratio; the fixed term stays (launch-bound).
  std::string masked_measured_on;
};

struct EngineProfile {
  std::string name;          // preset name
  std::string engine;        // engine and version the rules were read from
  std::string gemm;          // GEMM path and dtype
  std::string prefill_attention;
  std::string decode_attention;
  std::string quantized_kv;  // how a quantized KV format is stored and read
  std::string compression;   // eviction / score passes / compaction, as this engine runs them
  std::string issue;         // CUDA graphs or eager; what the host does per step
  std::string sampling;      // sampling and detokenization
  std::string memory_rule;   // how the KV pool is sized
  std::string host_preset;   // HostModel preset the engine uses
  EngineCosting costing;
  // Scheduler and memory defaults as "key = value", with their sources (kvsim's knob names).
  std::vector<SourcedValue> rules;
  // Where this profile is only an approximation of the engine (not modelled, or modelled by
  // another engine's rules), so a reader knows what to distrust.
  std::vector<std::string> approximations;
};

std::vector<std::string> engine_profile_names();
// Throws InputError listing the profiles when `name` is unknown.
EngineProfile engine_profile(const std::string& name);
// Multi-line text for `kvsim list engines <name>`.
std::string format_engine_profile(const EngineProfile& p);

}  // namespace kvsim
