#pragma once
// Cost model from calibrated tables (preferred over the roofline when a bundle exists).
// Each operator the bundle measured takes its fitted time; operators it did not measure
// fall back to the roofline. In transfer mode (a bundle measured on another GPU) every
// calibrated time is scaled by the ratio of the two GPUs' roofline times for that same
// operator: bandwidth-bound operators scale with HBM bandwidth, compute-bound ones with
// peak FLOP/s.
#include <functional>
#include <memory>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/calibrated_costs.h"
#include "models/cost/roofline_cost_model.h"

namespace kvsim {

// The linear layers a gemm.csv variant must cover for the cost model to price a step with it,
// in the order the model applies them per layer (the LM head last).
const std::vector<std::string>& gemm_operators();

// What a bundle cannot serve of the framework-kernel choices in `params`: one message per
// problem, each starting with its key ("gemm_variant: ...", "prefill_kernel: ..."), naming
// the bundle and what it has. Empty when gemm_variant and prefill_kernel are both servable.
// Scenario loading and `kvsim step` report these with the file or flag before any run starts.
std::vector<std::string> framework_variant_problems(const CalibratedCosts& costs, const RooflineParams& params);

// The same choices when no bundle is in use: they would be silently ignored, so each set one
// is a problem ("gemm_variant: ...").
std::vector<std::string> framework_variants_without_bundle(const RooflineParams& params);

class TableCostModel final : public CostModel {
 public:
  // `measured_on` is the GPU the bundle was measured on; if it differs from `gpu`, this is
  // transfer mode.
  TableCostModel(ModelSpec model, GpuSpec gpu, GpuSpec measured_on, HostModel overhead, RooflineParams params,
                 std::vector<CompressionSpec> methods, CalibratedCosts costs);
  StepCost step_cost(const BatchShape& shape) const override;
  std::string describe() const override;
  bool transfer() const { return transfer_; }

 private:
  std::string decode_key(const CompressionSpec& m) const;
  const PiecewiseLogLog* elementwise(const std::string& needle) const;
  static double at(const PiecewiseLogLog* t, double x) { return t ? t->eval(x) : -1.0; }

  ModelSpec model_;
  GpuSpec gpu_;
  GpuSpec source_;
  std::vector<CompressionSpec> methods_;
  CalibratedCosts costs_;
  RooflineCostModel target_roofline_;
  RooflineCostModel source_roofline_;
  HostModel host_;
  RooflineParams params_;
  bool transfer_;
  // Tables resolved once (no string lookups on the per-step path); nullptr: not measured.
  const PiecewiseLogLog* gemm_[5] = {};  // qkv, o, gate_up, down, lm_head
  const PiecewiseLogLog* norm_ = nullptr;
  const PiecewiseLogLog* rotary_ = nullptr;
  const PiecewiseLogLog* residual_ = nullptr;
  const PiecewiseLogLog* silu_ = nullptr;
  const PiecewiseLogLog* softmax_ = nullptr;
  const Grid2D* prefill_ = nullptr;
  struct DecodeTable {
    const Grid2D* grid = nullptr;
    double spread = 0;
  };
  std::vector<DecodeTable> decode_;  // per method
  const PiecewiseLogLog* h2d_ = nullptr;
  const Grid2D* prefill_materialized_ = nullptr;
  const Grid2D* prefill_flash_ = nullptr;  // kvsim-calibrate's own flash kernel (H2O score pricing)
  // Compression operators measured by the bundle (least-squares fits on {1, tokens, context}).
  const LinearFit* compression(const std::string& op, const std::string& format) const;
  // The engine's own kernels for this method (RooflineParams::engine_kernels), or nullptr.
  const Grid2D* engine_decode(const CompressionSpec& m) const;
  const PiecewiseLogLog* engine_prefill(const CompressionSpec& m) const;
  std::string format_name(const CompressionSpec& m) const;  // fp16, fp8_e4m3, int8, int4, int2
  void compression_ops(const BatchShape& shape, StepCost& sc, const std::function<void(Op, double)>& set) const;
};

}  // namespace kvsim
