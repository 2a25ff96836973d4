#pragma once
#include <cstdint>

namespace kvsim {

// What a replica does: serves whole requests (mixed), or one side of disaggregated serving
// (prefill replicas hand each request's KV to a decode replica after its first token).
enum class ReplicaRole : std::uint8_t { kMixed, kPrefill, kDecode };

constexpr const char* role_name(ReplicaRole r) {
  return r == ReplicaRole::kPrefill ? "prefill" : r == ReplicaRole::kDecode ? "decode" : "mixed";
}

}  // namespace kvsim
