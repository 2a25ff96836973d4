#include "sim/serving/engines/engines.h"

namespace kvsim {

// One line per preset (`kvsim list engines` prints them in this order).
const EngineRegistry& engine_registry() {
  static const EngineRegistry r("engine", {
      {"hf-cb", "HF transformers continuous batching (5.17)", {}, hf_cb_engine},
      {"hf-eager", "HF transformers generate, eager attention", {}, [] { return hf_generate_engine("hf-eager", "eager"); }},
      {"hf-sdpa", "HF transformers generate, SDPA attention", {}, [] { return hf_generate_engine("hf-sdpa", "sdpa"); }},
      {"lmdeploy-0.6-study", "the study's LMDeploy 0.6 PyTorch-engine fork, as the study ran it", {}, lmdeploy_study_engine},
      {"lmdeploy-pytorch", "LMDeploy PyTorch engine (0.6)", {}, lmdeploy_pytorch_engine},
      {"sglang", "SGLang (srt, 0.4-era defaults)", {}, sglang_engine},
      {"static", "a static padded batch (HF generate's rules, eager attention)", {}, [] { return hf_generate_engine("static", "eager"); }},
      {"vllm-v0", "vLLM V0 (<= 0.6)", {}, vllm_v0_engine},
      {"vllm-v1", "vLLM V1 (>= 0.8)", {}, vllm_v1_engine},
  });
  return r;
}

std::vector<std::string> engine_profile_names() { return engine_registry().names(); }

EngineDefinition engine_definition(const std::string& name) {
  const auto* entry = engine_registry().find(name);
  if (!entry) {
    throw InputError("unknown engine '" + name + "'" + did_you_mean(name, engine_profile_names()) +
                     "; valid engines: " + join(engine_profile_names(), ", "));
  }
  return entry->make();
}

EngineProfile engine_profile(const std::string& name) { return engine_definition(name).profile; }

}  // namespace kvsim
