#pragma once
// Cost model v1: operator-level roofline from model x GPU with efficiency factors. Each
// operator takes max(flops / (peak * compute_efficiency), bytes / (bandwidth *
// memory_efficiency)); a fixed gap per kernel launch models the GPU idle time between
// kernels; CPU overhead is added serially (see HostModel).
#include <memory>
#include <string>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/cost_model.h"
#include "models/cost/engine_kernels.h"
#include "models/cost/host_model.h"
#include "models/spec/gpu_spec.h"
#include "models/spec/model_spec.h"

namespace kvsim {

struct RooflineParams {
  double compute_efficiency = 0.70;   // share of dense fp16/bf16 peak a GEMM reaches
  double memory_efficiency = 0.85;    // share of HBM bandwidth a streaming kernel reaches
  double attention_compute_efficiency = 0.50;  // flash-attention prefill vs GEMM peak
  Duration kernel_gap_ns = 1500;      // per kernel launch on the GPU timeline
  int kernels_per_layer = 9;          // norm, qkv, rope, attn, o, norm, gate_up, act, down
  // Device time of one of an unfused framework's extra small kernels (beyond the ones costed
  // per operator), its gap to the next kernel included; 0: kvsim's own minimal kernel. A
  // framework's generic elementwise kernels (strided TensorIterator loops, casts, stacks) cost
  // more than kvsim's: PyTorch's measured 2.26 us each in a CUDA graph against 1.46 us
  // (calibration/e2e/torch_small_op_bench.py; docs/calibration.md section 4b).
  double extra_kernel_us = 0;
  // With a calibration bundle: which prefill_attention variant prices prefill attention.
  // "flash" is kvsim-calibrate's own kernel; a bundle overlay can add a framework's kernel
  // (calibration/e2e/torch_sdpa_bench.py writes variant "torch_sdpa").
  std::string prefill_kernel = "flash";
  // With a calibration bundle: which gemm.csv dtype prices the linear layers; empty: bf16 where
  // measured, else fp16. A framework overlay adds its own (torch_gemm_bench.py: torch_linear).
  std::string gemm_variant;
  int decode_max_splits = 16;         // split-KV parallelism available to one sequence
  int prefill_tile_tokens = 128;      // query tile of flash attention (KV re-read per tile)
  // The engine's attention over a batch: false (varlen / paged kernels: each sequence attends
  // over its own KV, the usual case), or true: one dense SDPA over the whole batch with a
  // block-diagonal mask, so every query token pays for every KV token of the batch (HF
  // transformers' paged|sdpa path; docs/validation.md measured it).
  bool batch_masked_attention = false;
  // Batch-masked attention priced from a measurement of the engine's own attention layer
  // (HF paged|sdpa: cache write, KV gather, GQA expansion, masked SDPA; the hf-cb profile cites
  // it): per layer, fixed + per KV token of the batch + per (query token x KV token) pair.
  // All 0: the FLOP roofline at attention_compute_efficiency.
  double masked_fixed_us = 0;
  double masked_ns_per_kv = 0;
  double masked_ps_per_pair = 0;
  // A step with one query token (one decoding request) runs a different SDPA kernel:
  // fixed + ns_per_kv * kv for it (0: the terms above).
  double masked_single_fixed_us = 0;
  double masked_single_ns_per_kv = 0;
  // The path HF continuous batching runs when the model declares a sliding window
  // (ModelSpec::sliding_window > 0): its sliding-attention cache group writes K and V with a
  // masked_scatter_ per layer and the decode fast path is off, so a decode-only iteration of a
  // batch-masked engine takes, per layer, fixed + ns_per_kv * (batch KV tokens) longer (mostly
  // device time; the rest is the engine's Python around the forward, priced here with it).
  // Measured on decode iterations only (calibration/e2e/fit_window_path.py); 0: no such path.
  double window_path_fixed_us = 0;
  double window_path_ns_per_kv = 0;
  // An engine's own measured kernels (the lmdeploy-0.6-study profile sets them): with a
  // calibration bundle, a method whose work.engine_kernel names one of them prices its decode
  // and prefill attention (and H2O's score step) from them instead of the bundle's kernels.
  std::shared_ptr<const EngineKernels> engine_kernels;
  bool masked_measured() const { return masked_fixed_us > 0 || masked_ns_per_kv > 0 || masked_ps_per_pair > 0; }
};

class RooflineCostModel final : public CostModel {
 public:
  // `methods` is the compression table the batch shapes index into (empty: fp16 only).
  RooflineCostModel(ModelSpec model, GpuSpec gpu, HostModel overhead, RooflineParams params = {},
                    std::vector<CompressionSpec> methods = {});
  StepCost step_cost(const BatchShape& shape) const override;
  std::string describe() const override;

  const RooflineParams& params() const { return params_; }

 private:
  OpCost roofline(double flops, double bytes, double peak_flops_per_ns, int layers) const;
  OpCost gemm(std::int64_t rows, std::int64_t in, std::int64_t out, int layers) const;
  void add_memory_op(StepCost& sc, Op op, double flops, double bytes) const;
  void decode_attention(StepCost& sc, const DecodeGroup& g) const;
  void prefill_compression(StepCost& sc, const PrefillChunk& c) const;

  // Per-method constants derived once from the table.
  struct MethodCost {
    CompressionSpec spec;
    double kv_bytes_layer = 0;     // compressed K+V bytes of one token in one layer
    double fp16_bytes_layer = 0;
    double residual_tokens = 0;    // fp16 tokens attended per sequence on average (KIVI/GEAR)
  };

  ModelSpec model_;
  GpuSpec gpu_;
  HostModel host_;
  RooflineParams params_;
  double gemm_flops_per_ns_;
  double attn_flops_per_ns_;
  double bytes_per_ns_;
  std::vector<MethodCost> methods_;
  // Memo of the token-count-only operators (an optimization: results are identical). Mutable
  // because step_cost is logically const; each Simulation owns its cost model, so it is
  // never shared between threads.
  struct TokenOps {
    bool valid = false;
    OpCost qkv, o, gate_up, down, norm, act;
  };
  static constexpr std::size_t kMemoTokens = 4096;
  mutable std::vector<TokenOps> token_ops_memo_ = std::vector<TokenOps>(kMemoTokens);
};

}  // namespace kvsim
