#include "models/compression/kv_layout.h"

#include <algorithm>
#include <cmath>

namespace kvsim {

double kv_bytes_per_token_head(const KvFormat& f, int d) {
  auto one = [&](double bits) {
    double b = d * bits / 8.0;
    if (f.per_head_scales) b += f.scale_bytes;            // one (scale, zero) per token-head
    else if (f.group_size > 0) b += static_cast<double>(d) * f.scale_bytes / f.group_size;
    if (f.lowrank_fraction > 0) {
      const double r = f.lowrank_rank(d);
      // P row (r fp16) per token + Q (D x r fp16) amortized over a residual-sized chunk.
      const double chunk = f.residual_tokens > 0 ? f.residual_tokens : 64.0;
      b += 2.0 * r + 2.0 * d * r / chunk;
    }
    b += f.outlier_fraction * d * (2.0 + f.outlier_index_bytes);
    return b;
  };
  return one(f.key_bits) + one(f.value_bits);
}

std::int64_t kv_bytes_per_token(const CompressionSpec& s, const ModelSpec& m) {
  const double per_head = kv_bytes_per_token_head(s.format, m.head_dim);
  return static_cast<std::int64_t>(std::ceil(per_head * m.num_layers * m.num_kv_heads - 1e-9));
}

std::int64_t residual_bytes_per_sequence(const CompressionSpec& s, const ModelSpec& m) {
  return std::int64_t{s.format.residual_tokens} * m.kv_bytes_per_token();
}

double format_ratio(const CompressionSpec& s, const ModelSpec& m) {
  return static_cast<double>(m.kv_bytes_per_token()) / static_cast<double>(kv_bytes_per_token(s, m));
}

std::int64_t kept_after_prefill(const Retention& r, std::int64_t n) {
  if (!r.evicts()) return n;
  if (r.keep_fraction > 0) return std::min(n, std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(n * r.keep_fraction))));
  return std::min<std::int64_t>(n, r.budget_tokens);
}

std::int64_t resident_cap(const Retention& r) {
  return r.evicts() && r.every_step && r.budget_tokens > 0 ? r.budget_tokens : kNoCap;
}

}  // namespace kvsim
