#pragma once
// Samples output-length multipliers (compressed / baseline) for one method, from the
// fitted mixture or from user-supplied (baseline, compressed) length pairs.
#include <string>
#include <vector>

#include "models/compression/compression_spec.h"
#include "sim/core/rng.h"

namespace kvsim {

class LengthEffectSampler {
 public:
  // Throws InputError if the pairs file is malformed or the statistics are impossible.
  explicit LengthEffectSampler(const LengthEffect& e);
  bool enabled() const { return enabled_; }
  double sample(Rng& rng) const;
  // The fitted mean excess over 1.5 of the ">= 1.5x longer" component.
  double long_tail_mean_excess() const { return tail_; }

 private:
  bool enabled_ = false;
  double p_short2x_ = 0, p_short_ = 0, p_long_ = 0;  // cumulative boundaries
  double tail_ = 0;
  std::vector<double> ratios_;  // from pairs
};

// Reads a CSV with columns baseline_tokens, compressed_tokens (both >= 1).
std::vector<double> read_length_pairs(const std::string& path);

}  // namespace kvsim
