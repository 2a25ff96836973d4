#pragma once
// kvsim's engine presets, one file per engine family (sim/serving/engines/*.cpp): each preset is an
// EngineDefinition, its implementation profile (what the engine runs, every rule with its source)
// and its knobs, registered by name in engine_registry() (registry.cpp: one line per preset).
// Adding an engine is its own file plus one registration line (docs/architecture.md).
#include <functional>
#include <string>
#include <vector>

#include "sim/core/registry.h"
#include "sim/serving/engine_config.h"
#include "sim/serving/engine_profile.h"

namespace kvsim {

struct EngineDefinition {
  EngineProfile profile;
  // Sets the engine's own knobs on this GPU (the profile's rules as values: block size, batch
  // caps, memory share, scheduler; tests/serving/engine_profile_test.cpp checks the two agree).
  std::function<void(EngineConfig&, const GpuSpec&)> knobs;
  // Which steps the engine replays from captured CUDA graphs (HostModel::graph_*); runs after the
  // knobs, since it depends on the batch caps, and only for a graph-capable host. Empty: none.
  std::function<void(EngineConfig&, const GpuSpec&)> graph_capture;
};

using EngineRegistry = Registry<EngineDefinition()>;
// Every preset, in `kvsim list engines` order.
const EngineRegistry& engine_registry();
// The preset `name`; throws InputError naming the valid engines when it is unknown.
EngineDefinition engine_definition(const std::string& name);

// The presets, by family.
EngineDefinition vllm_v0_engine();
EngineDefinition vllm_v1_engine();
EngineDefinition sglang_engine();
EngineDefinition lmdeploy_pytorch_engine();
EngineDefinition lmdeploy_study_engine();
EngineDefinition hf_generate_engine(const std::string& name, const std::string& attention);  // hf-eager, hf-sdpa, static
EngineDefinition hf_cb_engine();

}  // namespace kvsim
