#include "sim/serving/cost_model_factory.h"

#include "models/cost/roofline_cost_model.h"
#include "models/cost/table_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/parallel/parallel_cost_model.h"
#include "sim/core/error.h"

namespace kvsim {

std::unique_ptr<CostModel> build_cost_model(const CostModelInputs& in) {
  std::unique_ptr<CostModel> shard;
  if (in.calibration) {
    if (!in.calibration_gpu) throw InvariantViolation("build_cost_model: a bundle without the GPU it was measured on");
    shard = std::make_unique<TableCostModel>(in.shard, in.gpu, *in.calibration_gpu, in.host, in.params, in.methods,
                                             *in.calibration);
  } else {
    shard = std::make_unique<RooflineCostModel>(in.shard, in.gpu, in.host, in.params, in.methods);
  }
  return wrap_parallel(std::move(shard), in.shard, in.parallelism, in.gpu, in.collectives);
}

std::unique_ptr<CostModel> make_group_cost_model(const ServingSetup& s, const ReplicaGroup& g) {
  // resolve_group (sim/config) already reported any framework-kernel choice the bundle cannot
  // serve, with the file and group.
  return build_cost_model({g.shard, g.gpu, g.engine.host, s.roofline, s.methods,
                           g.calibration ? &*g.calibration : nullptr, &g.calibration_gpu, g.parallelism,
                           g.collective_tables});
}

std::unique_ptr<CostModel> make_cost_model(const ServingSetup& s) {
  return make_group_cost_model(s, s.cluster.groups.front());
}

}  // namespace kvsim
