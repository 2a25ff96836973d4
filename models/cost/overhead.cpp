#include "models/cost/overhead.h"

#include "sim/core/error.h"

namespace kvsim {

// Defaults, documented in docs/cost-model.md. They are starting points to be replaced by
// calibration: the CUDA-graph figure is the ~1 ms per decode step reported for vLLM V1 and
// SGLang with graphs; the eager figure is the tens of ms seen for HF transformers eager
// decoding of 7-8B models, where Python dispatches every kernel.
OverheadSpec overhead_preset(const std::string& name) {
  if (name == "cuda-graph") return {name, 1 * kNsPerMs, 5 * kNsPerUs, 200};
  if (name == "eager") return {name, 25 * kNsPerMs, 50 * kNsPerUs, 1 * kNsPerUs};
  if (name == "none") return {name, 0, 0, 0};
  throw InputError("unknown overhead preset '" + name + "'" + did_you_mean(name, overhead_preset_names()) +
                   "; valid presets: " + join(overhead_preset_names(), ", "));
}

std::vector<std::string> overhead_preset_names() { return {"cuda-graph", "eager", "none"}; }

}  // namespace kvsim
