#pragma once
// How many KV blocks an engine gets, by that engine's own formula (docs/kv-cache.md):
//   vLLM:     blocks = (memory * gpu_memory_utilization - weights - activation - graph - non_torch) / block_bytes
//   LMDeploy: blocks = (memory - weights - non_torch - runtime_cache) * cache_max_entry_count / block_bytes
// or an explicit num_gpu_blocks copied from an engine log.
#include <cstdint>
#include <string>

#include <vector>

#include "models/compression/compression_spec.h"
#include "sim/serving/engine_config.h"

namespace kvsim {

// How one compression method packs tokens into the engine's pages.
struct MethodLayout {
  std::string name;
  std::int64_t bytes_per_token = 0;  // all layers, compressed, with metadata
  int tokens_per_page = 0;           // floor(page bytes / bytes per token)
  double format_ratio = 1.0;         // fp16 bytes / compressed bytes
  std::int64_t cap_tokens = 0;       // resident cap while decoding (0: none)
};

struct KvCapacity {
  std::int64_t memory_bytes = 0;
  std::int64_t budget_bytes = 0;        // memory x utilization (vLLM) or free after weights (LMDeploy)
  std::int64_t weight_bytes = 0;
  std::int64_t activation_bytes = 0;
  std::int64_t graph_bytes = 0;
  std::int64_t non_torch_bytes = 0;
  std::int64_t kv_pool_bytes = 0;
  std::int64_t bytes_per_token = 0;     // KV bytes of one token, all layers
  std::int64_t block_bytes = 0;         // page: block_size tokens of the default method, padded
  std::int64_t residual_pool_bytes = 0; // fp16 residual windows, (max_num_seqs + 3) sequences
  std::int64_t num_gpu_blocks = 0;
  std::int64_t num_cpu_blocks = 0;      // swap space
  bool explicit_blocks = false;
  std::string formula;                  // the rule used, for the report
  std::vector<MethodLayout> methods;    // index 0: the scenario's default method

  std::int64_t tokens() const { return num_gpu_blocks * (methods.empty() ? 0 : methods[0].tokens_per_page); }
};

// Throws InputError when the weights alone do not fit or no block is left for the KV cache.
// Pages are sized for `methods[page_method]` (block_size tokens, padded to 256 bytes; a
// replica whose requests all use one method sizes its pages for it); every other method
// packs as many whole tokens into a page as fit.
// `only_page_method`: the replica serves that method alone (a cluster group with a fixed
// method), so only its fp16 residual window is reserved.
KvCapacity compute_kv_capacity(const ModelSpec& model, const GpuSpec& gpu, const EngineConfig& engine,
                               const std::vector<CompressionSpec>& methods, std::size_t page_method = 0,
                               bool only_page_method = false);

// Peak activation memory of the profile run (max_num_batched_tokens through one layer plus
// fp32 logits for max_num_seqs rows), used when activation_reserve_gib is unset.
std::int64_t estimate_activation_bytes(const ModelSpec& model, const EngineConfig& engine);

}  // namespace kvsim
