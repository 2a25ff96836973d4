#pragma once
// CPU/framework overhead of an engine iteration: scheduling, input preparation, Python,
// kernel launches not captured in a CUDA graph. Real engines range from ~1 ms (CUDA-graph
// decode) to tens of ms (eager PyTorch) per step, which decides whether compression can
// help at small batch, so it is an explicit, overridable term.
#include <string>
#include <vector>

#include "sim/core/time.h"

namespace kvsim {

struct OverheadSpec {
  std::string preset;          // "cuda-graph", "eager", or "custom"
  Duration per_step_ns = 0;
  Duration per_request_ns = 0;  // per request in the batch
  Duration per_token_ns = 0;    // per token processed in the step

  Duration for_step(std::int64_t requests, std::int64_t tokens) const {
    return per_step_ns + per_request_ns * requests + per_token_ns * tokens;
  }
};

// Throws InputError listing the presets when `name` is unknown.
OverheadSpec overhead_preset(const std::string& name);
std::vector<std::string> overhead_preset_names();

}  // namespace kvsim
