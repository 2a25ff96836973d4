#pragma once
// The cost model of a replica group: its bundle's tables (calibrated, or transferred from
// another GPU) or the roofline, wrapped with the group's parallelism (collectives, pipeline).
#include <memory>
#include <vector>

#include "models/cost/cost_model.h"
#include "sim/serving/serving_setup.h"

namespace kvsim {

// What one GPU's cost model is built from (references must outlive the call only).
struct CostModelInputs {
  const ModelSpec& shard;                 // what one GPU holds
  const GpuSpec& gpu;
  const HostModel& host;
  const RooflineParams& params;
  const std::vector<CompressionSpec>& methods;
  const CalibratedCosts* calibration = nullptr;  // null: the roofline
  const GpuSpec* calibration_gpu = nullptr;      // where the bundle was measured (required with one)
  const ParallelismSpec& parallelism;
  const CollectiveTables& collectives;
};
// The one place a cost model is assembled (scenarios' groups and `kvsim step` both come here).
std::unique_ptr<CostModel> build_cost_model(const CostModelInputs& in);

std::unique_ptr<CostModel> make_group_cost_model(const ServingSetup& setup, const ReplicaGroup& group);
// The first replica group's (the one single-replica tools such as `kvsim step` describe).
std::unique_ptr<CostModel> make_cost_model(const ServingSetup& setup);

}  // namespace kvsim
