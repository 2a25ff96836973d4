#pragma once
#include <cstdint>

#include "sim/core/time.h"

namespace kvsim {

// An immutable request as the workload produces it. `output_tokens` is how many tokens the
// request will generate if nothing caps it (the simulator knows it; an engine would not).
struct RequestSpec {
  std::int64_t id = 0;
  SimTime arrival = 0;
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;
  std::int32_t max_tokens = 0;  // 0: no per-request cap
  std::int32_t priority = 0;    // lower value = more important (vLLM convention)
  std::int16_t method = -1;     // index into the workload's method_names(); -1: scenario's choice
  // Prompt tokens whose KV the engine's prefix cache already holds when the request arrives
  // (an earlier request with the same prefix left them): its prefill computes only the rest, over
  // these as cached context; they still occupy KV blocks. 0 <= cached < prompt_tokens.
  std::int32_t cached_prompt_tokens = 0;
};

}  // namespace kvsim
