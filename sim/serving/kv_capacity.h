#pragma once
// How many KV blocks an engine gets, by that engine's own formula (docs/kv-cache.md):
//   vLLM:     blocks = (memory * gpu_memory_utilization - weights - activation - graph - non_torch) / block_bytes
//   LMDeploy: blocks = (memory - weights - non_torch - runtime_cache) * cache_max_entry_count / block_bytes
// or an explicit num_gpu_blocks copied from an engine log.
#include <cstdint>
#include <string>

#include "sim/serving/engine_config.h"

namespace kvsim {

struct KvCapacity {
  std::int64_t memory_bytes = 0;
  std::int64_t budget_bytes = 0;        // memory x utilization (vLLM) or free after weights (LMDeploy)
  std::int64_t weight_bytes = 0;
  std::int64_t activation_bytes = 0;
  std::int64_t graph_bytes = 0;
  std::int64_t non_torch_bytes = 0;
  std::int64_t kv_pool_bytes = 0;
  std::int64_t bytes_per_token = 0;     // KV bytes of one token, all layers
  std::int64_t block_bytes = 0;
  std::int64_t num_gpu_blocks = 0;
  std::int64_t num_cpu_blocks = 0;      // swap space
  bool explicit_blocks = false;
  std::string formula;                  // the rule used, for the report

  std::int64_t tokens() const { return num_gpu_blocks * (block_bytes / std::max<std::int64_t>(1, bytes_per_token)); }
};

// Throws InputError when the weights alone do not fit or no block is left for the KV cache.
KvCapacity compute_kv_capacity(const ModelSpec& model, const GpuSpec& gpu, const EngineConfig& engine);

// Peak activation memory of the profile run (max_num_batched_tokens through one layer plus
// fp32 logits for max_num_seqs rows), used when activation_reserve_gib is unset.
std::int64_t estimate_activation_bytes(const ModelSpec& model, const EngineConfig& engine);

}  // namespace kvsim
