#pragma once
// An engine's scheduling and memory knobs. Presets carry each engine's real defaults
// (docs/engines.md cites them); a scenario may override any knob.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/cost/host_model.h"
#include "models/spec/gpu_spec.h"
#include "models/spec/model_spec.h"
#include "sim/core/config_reader.h"
#include "sim/serving/engine_profile.h"

namespace kvsim {

enum class PreemptionMode : std::uint8_t { kRecompute, kSwap };
// How KV capacity is derived from memory (each engine's own formula).
// kSglang: mem_fraction_static x total - weights - non-torch (model_runner.py:profile_max_num_token).
enum class CapacityRule : std::uint8_t { kVllm, kLmdeploy, kSglang };

struct EngineConfig {
  std::string preset;            // an engine_profile_names() entry
  std::string scheduler;         // registered scheduler name
  int block_size = 16;
  int max_num_seqs = 256;        // LMDeploy: max_batches; static: batch size
  int max_num_batched_tokens = 8192;  // LMDeploy: max_prefill_token_num
  int max_model_len = 0;         // 0: the model's max_context
  bool chunked_prefill = false;  // vLLM V0 option; V1 always chunks
  double gpu_memory_utilization = 0.90;  // LMDeploy: cache_max_entry_count (of free memory)
  std::optional<std::int64_t> num_gpu_blocks;  // explicit, e.g. copied from an engine log
  double watermark = 0.0;        // vLLM V0 admission watermark (fraction of blocks)
  PreemptionMode preemption_mode = PreemptionMode::kRecompute;
  double swap_space_gib = 4.0;   // CPU swap space per GPU (vLLM V0)
  int prefill_interval = 16;     // LMDeploy PyTorch
  int max_prefill_tokens = 16384;  // SGLang: input tokens of one prefill batch (rem_input_tokens)
  double schedule_conservativeness = 1.0;  // SGLang: scales init_new_token_ratio (0.7)
  CapacityRule capacity_rule = CapacityRule::kVllm;
  std::optional<double> activation_reserve_gib;  // unset: estimated from the profile-run shape
  double graph_reserve_gib = 0.0;     // CUDA-graph memory kept out of the KV pool
  double non_torch_reserve_gib = 0.5; // CUDA context, cuBLAS/NCCL workspaces
  HostModel host;
  EngineProfile profile;  // what the engine implements (description, sources, costing hints)

  int effective_max_model_len(const ModelSpec& m) const { return max_model_len > 0 ? max_model_len : m.max_context; }
};

std::vector<std::string> engine_preset_names();
// Throws InputError listing the presets when `name` is unknown. Some defaults depend on the
// GPU (vLLM V1 raises its budgets on >= 70 GiB GPUs other than A100).
EngineConfig engine_preset(const std::string& name, const GpuSpec& gpu);
std::string describe_engine_preset(const std::string& name);

// Decodes the `engine:` section on top of its preset.
EngineConfig decode_engine(ConfigReader r, const GpuSpec& gpu, const ModelSpec& model);

}  // namespace kvsim
