#pragma once
// Cost model v1: operator-level roofline from model x GPU with efficiency factors. Each
// operator takes max(flops / (peak * compute_efficiency), bytes / (bandwidth *
// memory_efficiency)); a fixed gap per kernel launch models the GPU idle time between
// kernels; CPU overhead is added serially (see OverheadSpec).
#include "models/cost/cost_model.h"
#include "models/cost/overhead.h"
#include "models/spec/gpu_spec.h"
#include "models/spec/model_spec.h"

namespace kvsim {

struct RooflineParams {
  double compute_efficiency = 0.70;   // share of dense fp16/bf16 peak a GEMM reaches
  double memory_efficiency = 0.85;    // share of HBM bandwidth a streaming kernel reaches
  double attention_compute_efficiency = 0.50;  // flash-attention prefill vs GEMM peak
  Duration kernel_gap_ns = 1500;      // per kernel launch on the GPU timeline
  int kernels_per_layer = 9;          // norm, qkv, rope, attn, o, norm, gate_up, act, down
  int decode_max_splits = 16;         // split-KV parallelism available to one sequence
  int prefill_tile_tokens = 128;      // query tile of flash attention (KV re-read per tile)
};

class RooflineCostModel final : public CostModel {
 public:
  RooflineCostModel(ModelSpec model, GpuSpec gpu, OverheadSpec overhead, RooflineParams params = {});
  StepCost step_cost(const BatchShape& shape) const override;
  std::string describe() const override;

  const RooflineParams& params() const { return params_; }

 private:
  OpCost roofline(double flops, double bytes, double peak_flops_per_ns, int layers) const;
  OpCost gemm(std::int64_t rows, std::int64_t in, std::int64_t out, int layers) const;

  ModelSpec model_;
  GpuSpec gpu_;
  OverheadSpec overhead_;
  RooflineParams params_;
  double gemm_flops_per_ns_;
  double attn_flops_per_ns_;
  double bytes_per_ns_;
};

}  // namespace kvsim
