#pragma once
// Cost model from calibrated tables (preferred over the roofline when a bundle exists).
// Each operator the bundle measured takes its fitted time; operators it did not measure
// fall back to the roofline. In transfer mode (a bundle measured on another GPU) every
// calibrated time is scaled by the ratio of the two GPUs' roofline times for that same
// operator: bandwidth-bound operators scale with HBM bandwidth, compute-bound ones with
// peak FLOP/s.
#include <memory>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/calibrated_costs.h"
#include "models/cost/roofline_cost_model.h"

namespace kvsim {

class TableCostModel final : public CostModel {
 public:
  // `measured_on` is the GPU the bundle was measured on; if it differs from `gpu`, this is
  // transfer mode.
  TableCostModel(ModelSpec model, GpuSpec gpu, GpuSpec measured_on, OverheadSpec overhead, RooflineParams params,
                 std::vector<CompressionSpec> methods, CalibratedCosts costs);
  StepCost step_cost(const BatchShape& shape) const override;
  std::string describe() const override;
  bool transfer() const { return transfer_; }

 private:
  double gemm_us(const std::string& op, double rows) const;
  std::string decode_key(const CompressionSpec& m) const;
  double elementwise_us(const std::string& needle, double rows) const;

  ModelSpec model_;
  GpuSpec gpu_;
  GpuSpec source_;
  std::vector<CompressionSpec> methods_;
  CalibratedCosts costs_;
  RooflineCostModel target_roofline_;
  RooflineCostModel source_roofline_;
  OverheadSpec overhead_;
  RooflineParams params_;
  bool transfer_;
  std::string gemm_dtype_;
};

}  // namespace kvsim
