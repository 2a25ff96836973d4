#pragma once
// What a cost model sees of one engine iteration. Built by the replica from its batch plan.
#include <cstdint>
#include <vector>

namespace kvsim {

// One request's prefill work in this step (a whole prompt or a chunk of it, or a
// recompute of prompt + generated tokens after preemption).
struct PrefillChunk {
  std::int32_t new_tokens = 0;     // tokens computed in this step
  std::int32_t cached_tokens = 0;  // tokens already in KV before this step (earlier chunks)
  bool last_chunk = false;         // samples a token (needs LM head + sampling)
  std::uint8_t method = 0;         // compression method (index into the cost model's table)
};

// The decoding requests of a step that share one compression method, each attending over
// its own resident context. Per-request attention cost is affine in its own context, so
// the group's cost depends on the sum; the longest context enters through the straggler
// bound (spread, not just the mean).
struct DecodeGroup {
  std::uint8_t method = 0;
  std::int32_t count = 0;
  std::int64_t context_sum = 0;  // sum over requests of resident tokens attended (incl. the new one)
  std::int32_t context_max = 0;
};

struct BatchShape {
  std::vector<PrefillChunk> prefills;
  std::vector<DecodeGroup> decode;  // one entry per method present (usually one)
  std::int64_t swap_bytes = 0;  // host<->device KV copies the step waits for

  std::int64_t prefill_tokens() const {
    std::int64_t n = 0;
    for (const auto& c : prefills) n += c.new_tokens;
    return n;
  }
  std::int32_t decode_count() const {
    std::int32_t n = 0;
    for (const auto& g : decode) n += g.count;
    return n;
  }
  std::int64_t tokens() const { return prefill_tokens() + decode_count(); }
  std::int32_t requests() const { return static_cast<std::int32_t>(prefills.size()) + decode_count(); }
  // Rows that produce logits: every decode plus each prefill that finishes this step.
  std::int32_t sampled_rows() const {
    std::int32_t n = decode_count();
    for (const auto& c : prefills) n += c.last_chunk ? 1 : 0;
    return n;
  }
  bool empty() const { return prefills.empty() && decode_count() == 0 && swap_bytes == 0; }
  // Convenience for the common single-method decode batch.
  static DecodeGroup uniform_decode(std::int32_t count, std::int32_t context, std::uint8_t method = 0) {
    return {method, count, std::int64_t{count} * context, context};
  }
};

}  // namespace kvsim
