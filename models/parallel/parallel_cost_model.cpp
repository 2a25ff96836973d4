#include "models/parallel/parallel_cost_model.h"

#include <algorithm>
#include <cmath>

namespace kvsim {

ParallelCostModel::ParallelCostModel(std::unique_ptr<CostModel> shard_cost, ModelSpec shard, ParallelismSpec p,
                                     std::unique_ptr<CollectiveModel> collectives)
    : inner_(std::move(shard_cost)), shard_(std::move(shard)), p_(std::move(p)), comm_(std::move(collectives)) {}

StepCost ParallelCostModel::step_cost(const BatchShape& shape) const {
  StepCost sc = inner_->step_cost(shape);
  if (p_.single() || shape.tokens() == 0) return sc;
  const double P = p_.pipeline;
  // Per-stage operators run once per stage; the LM head, sampling and swaps run once.
  Duration layer_ns = 0;
  for (std::size_t i = 0; i < kNumOps; ++i) {
    const Op op = static_cast<Op>(i);
    if (op == Op::kLmHead || op == Op::kSampling || op == Op::kSwap || op == Op::kCpuOverhead) continue;
    layer_ns += sc.ops[i].ns;
    sc.ops[i].ns = cost_ns(static_cast<double>(sc.ops[i].ns) * P);
    sc.ops[i].flops *= P;
    sc.ops[i].bytes *= P;
  }
  const double act_bytes = static_cast<double>(shape.tokens()) * shard_.hidden_size * 2.0;  // fp16 activations
  const int T = p_.tensor;
  if (T > 1) {
    const double L = shard_.num_layers;
    const double per_layer = static_cast<double>(comm_->all_reduce_ns(act_bytes, T)) * 2.0;
    const double hidden = std::min(p_.comm_overlap * per_layer, static_cast<double>(layer_ns) / L);
    const double logits = static_cast<double>(shape.sampled_rows()) * shard_.vocab_size * T * 2.0;
    OpCost& c = sc[Op::kCommTp];
    c.bytes = (2.0 * L * P + 1.0) * act_bytes + logits;
    c.ns = cost_ns(P * L * (per_layer - hidden)) + comm_->all_reduce_ns(act_bytes, T) + comm_->all_gather_ns(logits, T);
  }
  if (p_.pipeline > 1) {
    OpCost& c = sc[Op::kCommPp];
    c.bytes = (P - 1) * 2.0 * act_bytes;  // hidden states and residual
    c.ns = cost_ns((P - 1) * static_cast<double>(comm_->send_ns(2.0 * act_bytes)));
  }
  Duration gpu = 0;
  for (std::size_t i = 0; i < kNumOps; ++i) {
    if (static_cast<Op>(i) != Op::kCpuOverhead) gpu += sc.ops[i].ns;
  }
  sc.gpu_ns = gpu;
  sc.total_ns = std::max<Duration>(sc.gpu_ns + sc.cpu_ns, 1);
  return sc;
}

std::string ParallelCostModel::describe() const {
  if (p_.single()) return inner_->describe();
  return "TP " + std::to_string(p_.tensor) + " x PP " + std::to_string(p_.pipeline) + " over " + inner_->describe() +
         "; collectives: " + comm_->describe();
}

std::unique_ptr<CostModel> wrap_parallel(std::unique_ptr<CostModel> shard_cost, const ModelSpec& shard,
                                         const ParallelismSpec& p, const GpuSpec& gpu, const CollectiveTables& tables) {
  if (p.single()) return shard_cost;
  const RingCollectives ring = ring_collectives(p, gpu);
  std::unique_ptr<CollectiveModel> comm;
  if (tables.any()) comm = std::make_unique<TableCollectives>(tables, p.tensor, ring);
  else comm = std::make_unique<RingCollectives>(ring);
  return std::make_unique<ParallelCostModel>(std::move(shard_cost), shard, p, std::move(comm));
}

}  // namespace kvsim
