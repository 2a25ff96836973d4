#include "sim/serving/kv_capacity.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "models/compression/kv_layout.h"
#include "sim/core/error.h"

namespace kvsim {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
std::int64_t gib(double v) { return static_cast<std::int64_t>(std::llround(v * kGiB)); }
std::string fmt_gib(std::int64_t b) {
  std::ostringstream os;
  os.precision(2);
  os << std::fixed << static_cast<double>(b) / kGiB << " GiB";
  return os.str();
}
}  // namespace

std::int64_t estimate_activation_bytes(const ModelSpec& model, const EngineConfig& engine) {
  const std::int64_t tokens = std::min<std::int64_t>(engine.max_num_batched_tokens, 1 << 20);
  // gate/up output (2I), activation output (I), and four hidden-sized buffers, fp16.
  const std::int64_t per_token = 2 * (3 * std::int64_t{model.intermediate_size} + 4 * std::int64_t{model.hidden_size});
  const std::int64_t logits = std::int64_t{2} * 4 * std::min(engine.max_num_seqs, 1 << 16) * std::int64_t{model.vocab_size};
  return tokens * per_token + logits;
}

KvCapacity compute_kv_capacity(const ModelSpec& model, const GpuSpec& gpu, const EngineConfig& engine,
                               const std::vector<CompressionSpec>& methods, std::size_t page_method,
                               bool only_page_method) {
  KvCapacity c;
  c.memory_bytes = gpu.memory_bytes;
  c.weight_bytes = model.weight_bytes();
  const CompressionSpec fp16;
  const CompressionSpec& base = methods.empty() ? fp16 : methods.at(page_method);
  c.bytes_per_token = kv_bytes_per_token(base, model);
  // Page padding: engines align pages; 256 bytes covers the alignment of every kernel here.
  constexpr std::int64_t kAlign = 256;
  c.block_bytes = (c.bytes_per_token * engine.block_size + kAlign - 1) / kAlign * kAlign;
  std::int64_t residual = 0;
  const std::vector<CompressionSpec> all = methods.empty() ? std::vector<CompressionSpec>{fp16} : methods;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const CompressionSpec& m = all[i];
    MethodLayout l;
    l.name = m.name;
    l.bytes_per_token = kv_bytes_per_token(m, model);
    l.tokens_per_page = static_cast<int>(std::max<std::int64_t>(1, c.block_bytes / l.bytes_per_token));
    l.format_ratio = format_ratio(m, model);
    const std::int64_t cap = resident_cap(m.retention);
    l.cap_tokens = cap >= kNoCap ? 0 : cap;
    if (!only_page_method || i == page_method) residual = std::max(residual, residual_bytes_per_sequence(m, model));
    c.methods.push_back(l);
  }
  // The rethink-kv fork keeps max_batches + 3 fp16 "full" blocks for KIVI residuals.
  c.residual_pool_bytes = residual * (std::int64_t{engine.max_num_seqs} + 3);
  c.non_torch_bytes = gib(engine.non_torch_reserve_gib);
  c.num_cpu_blocks = static_cast<std::int64_t>(gib(engine.swap_space_gib) / c.block_bytes);

  if (engine.capacity_rule == CapacityRule::kVllm) {
    c.budget_bytes = static_cast<std::int64_t>(static_cast<double>(gpu.memory_bytes) * engine.gpu_memory_utilization);
    c.activation_bytes = engine.activation_reserve_gib ? gib(*engine.activation_reserve_gib)
                                                       : estimate_activation_bytes(model, engine);
    c.graph_bytes = gib(engine.graph_reserve_gib);
    c.kv_pool_bytes = c.budget_bytes - c.weight_bytes - c.activation_bytes - c.graph_bytes - c.non_torch_bytes;
    c.formula = "memory x " + std::to_string(engine.gpu_memory_utilization).substr(0, 4) +
                " - weights - activation - graph - non-torch";
  } else if (engine.capacity_rule == CapacityRule::kSglang) {
    // SGLang (model_runner.py:profile_max_num_token): the pool is what is left after the weights
    // once total x (1 - mem_fraction_static) is kept back for activations and CUDA graphs.
    c.budget_bytes = static_cast<std::int64_t>(static_cast<double>(gpu.memory_bytes) * engine.gpu_memory_utilization);
    c.activation_bytes = engine.activation_reserve_gib ? gib(*engine.activation_reserve_gib) : 0;
    c.graph_bytes = gib(engine.graph_reserve_gib);
    c.kv_pool_bytes = c.budget_bytes - c.weight_bytes - c.activation_bytes - c.graph_bytes - c.non_torch_bytes;
    c.formula = "memory x mem_fraction_static " + std::to_string(engine.gpu_memory_utilization).substr(0, 4) +
                " - weights - non-torch";
  } else {
    // LMDeploy: runtime cache of max_prefill_token_num x vocab x 7 bytes, halved until it
    // fits; then cache_max_entry_count of what is free after the weights.
    const std::int64_t free_after_weights = gpu.memory_bytes - c.weight_bytes - c.non_torch_bytes;
    std::int64_t prefill_tokens = engine.max_num_batched_tokens;
    std::int64_t runtime = prefill_tokens * model.vocab_size * 7;
    while (runtime > free_after_weights / 2 && prefill_tokens > 1) {
      prefill_tokens /= 2;
      runtime = prefill_tokens * model.vocab_size * 7;
    }
    c.budget_bytes = free_after_weights;
    c.activation_bytes = engine.activation_reserve_gib ? gib(*engine.activation_reserve_gib) : runtime;
    c.kv_pool_bytes = static_cast<std::int64_t>(static_cast<double>(free_after_weights - c.activation_bytes) *
                                                engine.gpu_memory_utilization);
    c.formula = "(memory - weights - non-torch - runtime cache) x cache_max_entry_count " +
                std::to_string(engine.gpu_memory_utilization).substr(0, 4);
  }

  if (engine.num_gpu_blocks) {
    c.num_gpu_blocks = *engine.num_gpu_blocks;
    c.explicit_blocks = true;
    c.formula = "explicit num_gpu_blocks";
    return c;
  }
  const std::int64_t weight_room = engine.capacity_rule == CapacityRule::kLmdeploy ? c.memory_bytes : c.budget_bytes;
  if (c.weight_bytes >= weight_room || c.budget_bytes <= 0) {
    throw InputError("model " + model.name + " weights (" + fmt_gib(c.weight_bytes) + ") do not fit in " + gpu.name +
                     " memory budget (" + fmt_gib(weight_room) + ")");
  }
  const std::int64_t paged = c.kv_pool_bytes - c.residual_pool_bytes;
  c.num_gpu_blocks = paged > 0 ? paged / c.block_bytes : 0;
  if (c.num_gpu_blocks < 1) {
    throw InputError("no memory left for the KV cache of " + model.name + " on " + gpu.name + ": budget " +
                     fmt_gib(c.budget_bytes) + " - weights " + fmt_gib(c.weight_bytes) + " - activation " +
                     fmt_gib(c.activation_bytes) + " - graph " + fmt_gib(c.graph_bytes) + " - non-torch " +
                     fmt_gib(c.non_torch_bytes) + " - residual pool " + fmt_gib(c.residual_pool_bytes) + " <= 0");
  }
  return c;
}

}  // namespace kvsim
