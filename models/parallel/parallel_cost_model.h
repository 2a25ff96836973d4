#pragma once
// Step times of a tensor- and pipeline-parallel replica, from the cost model of one GPU's
// shard (roofline or calibrated, built for shard_model()) plus the communication the split
// adds. Per step, with T-way tensor and P-way pipeline parallelism and L/P layers per stage:
//   every layer: two all-reduces of tokens x hidden activations (after attention's output
//     projection and after the MLP), of which comm_overlap x (at most the layer's compute)
//     hides behind compute;
//   once: the vocabulary-parallel embedding's all-reduce and the gather of the logits;
//   between stages: a send of hidden states and residual (P - 1 sends).
// Stages run one after another for the same batch (no micro-batch interleaving, a
// documented simplification), so the stage's device time counts P times; the LM head,
// sampling and swap copies run once. T = P = 1 returns the inner model's cost unchanged.
#include <memory>
#include <optional>
#include <string>

#include "models/cost/cost_model.h"
#include "models/parallel/collectives.h"
#include "models/parallel/parallelism.h"

namespace kvsim {

class ParallelCostModel final : public CostModel {
 public:
  ParallelCostModel(std::unique_ptr<CostModel> shard_cost, ModelSpec shard, ParallelismSpec p,
                    std::unique_ptr<CollectiveModel> collectives);
  StepCost step_cost(const BatchShape& shape) const override;
  std::string describe() const override;

 private:
  std::unique_ptr<CostModel> inner_;
  ModelSpec shard_;
  ParallelismSpec p_;
  std::unique_ptr<CollectiveModel> comm_;
};

// `shard_cost` wrapped for `p` (returned unchanged for one GPU), with the measured tables when
// given, else the ring model of `gpu`'s links.
std::unique_ptr<CostModel> wrap_parallel(std::unique_ptr<CostModel> shard_cost, const ModelSpec& shard,
                                         const ParallelismSpec& p, const GpuSpec& gpu, const CollectiveTables& tables);

}  // namespace kvsim
