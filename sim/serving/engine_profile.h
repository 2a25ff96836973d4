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

#include "models/compression/compression_spec.h"
#include "models/cost/host_model.h"
#include "models/cost/roofline_cost_model.h"
#include "models/spec/catalog.h"
#include "models/spec/model_spec.h"

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
  // The engine's batch-masked attention layer as measured, one fit per GPU it was timed on
  // (RooflineParams::masked_*; empty: none). On a GPU with its own fit that fit prices it. On
  // another GPU the first fit moves there: the per-pair term (the SDPA's FLOPs) scales with the
  // bf16 peak ratio and the fixed term stays (launch-bound). The per-KV-token terms are not
  // bandwidth-bound (with few query rows the masked SDPA runs one CTA per head, each streaming
  // the batch's KV, well below HBM bandwidth): of their time, the share
  // `masked_bandwidth_share` scales with the HBM bandwidth ratio and the rest with the SM-clock
  // ratio (masked_kv_scale()).
  struct MaskedLayerFit {
    std::string gpu;  // catalog GPU name
    double fixed_us = 0, ns_per_kv = 0, ps_per_pair = 0;
    double single_fixed_us = 0, single_ns_per_kv = 0;  // one query token: a faster kernel
    std::string source;
  };
  std::vector<MaskedLayerFit> masked_layers;
  // The extra per-layer cost of a decode-only forward when the model declares a sliding window
  // (RooflineParams::window_path_*), one fit per GPU it was timed on. On another GPU the first fit
  // moves there like the attention layer's per-KV terms (SM-clock ratio; the fixed term kept).
  struct WindowPathFit {
    std::string gpu;
    double fixed_us = 0, ns_per_kv = 0;
    std::string source;
  };
  std::vector<WindowPathFit> window_paths;
  double masked_bandwidth_share = 1;
  std::string masked_bandwidth_share_source;
};

// How much slower the per-KV-token time of a measured attention layer runs on `to` than on
// `from`: share x (HBM bandwidth ratio) + (1 - share) x (SM boost-clock ratio; 1 when the catalog
// lacks a clock).
double masked_kv_scale(const GpuSpec& from, const GpuSpec& to, double bandwidth_share);

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
  // Measured kernel tables of the engine's own implementation ("study-lmdeploy": the study's
  // fork, models/cost/engine_kernels.h); empty: kvsim's kernels (bundle or roofline).
  std::string kernel_tables;
  // Scheduler and memory defaults as "key = value", with their sources (kvsim's knob names).
  std::vector<SourcedValue> rules;
  // Where this profile is only an approximation of the engine (not modelled, or modelled by
  // another engine's rules), so a reader knows what to distrust.
  std::vector<std::string> approximations;
};

// The fork kernel family a method runs as in the study's LMDeploy fork: "fp16" (none, H2O,
// StreamingLLM and other evictions: the fp16 kernel over the kept tokens), "gear_int4" (GEAR and
// LMDeploy's stock int4), "kivi_int4" (KIVI-4); "" for what the fork does not run (fp8, int8,
// 2-bit), which keeps kvsim's kernels.
std::string study_kernel_for(const CompressionSpec& m);

// An engine that runs its own measured kernels (the study's fork) prices each method it runs
// with them (sets p.engine_kernels and each method's work.engine_kernel); a no-op otherwise,
// and where the kernels were not measured for `model`.
void apply_engine_kernels(const EngineProfile& profile, const ModelSpec& model, std::vector<CompressionSpec>& methods,
                          RooflineParams& p);

// Sets the cost-model parameters the profile's costing implies on `gpu`: attention semantics, the
// engine's measured attention layer (moved from the GPU it was measured on by the roofline's
// ratios: per-KV terms by HBM bandwidth, the per-pair term by bf16 peak, the fixed term kept).
void apply_engine_costing(const EngineCosting& c, const GpuSpec& gpu, const Catalog& catalog, RooflineParams& p);

std::vector<std::string> engine_profile_names();
// Throws InputError listing the profiles when `name` is unknown.
EngineProfile engine_profile(const std::string& name);
// Multi-line text for `kvsim list engines <name>`.
// `host`: the engine's host model as resolved for a GPU (its graph capture depends on the GPU
// and the batch caps); null prints the profile's host preset alone.
std::string format_engine_profile(const EngineProfile& p, const HostModel* host = nullptr,
                                  const std::string& gpu = "");

}  // namespace kvsim
