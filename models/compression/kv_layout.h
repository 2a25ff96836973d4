#pragma once
// Memory semantics of a compression method: bytes per token, the fp16 residual window,
// and how many tokens retention keeps.
#include <cstdint>
#include <limits>

#include "models/compression/compression_spec.h"
#include "models/spec/model_spec.h"

namespace kvsim {

// K + V bytes of one token in one KV head, with scales, low-rank and outlier terms.
double kv_bytes_per_token_head(const KvFormat& f, int head_dim);
// All layers and KV heads, rounded up to whole bytes.
std::int64_t kv_bytes_per_token(const CompressionSpec& s, const ModelSpec& m);
// The fp16 residual window one sequence keeps beside its compressed pages (KIVI, GEAR).
std::int64_t residual_bytes_per_sequence(const CompressionSpec& s, const ModelSpec& m);
// Effective compression ratio of the stored format (fp16 bytes / compressed bytes).
double format_ratio(const CompressionSpec& s, const ModelSpec& m);

// Tokens kept after the retention policy compacts a freshly prefilled sequence of `n`.
std::int64_t kept_after_prefill(const Retention& r, std::int64_t n);
// The most tokens a sequence keeps while decoding (evict-every-step policies), else "none".
inline constexpr std::int64_t kNoCap = std::numeric_limits<std::int64_t>::max() / 4;
std::int64_t resident_cap(const Retention& r);

}  // namespace kvsim
