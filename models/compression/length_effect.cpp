#include "models/compression/length_effect.h"

#include <algorithm>

#include "sim/core/error.h"
#include "sim/core/csv.h"

namespace kvsim {

std::vector<double> read_length_pairs(const std::string& path) {
  CsvFile csv(path);
  const int b = csv.column("baseline_tokens"), c = csv.column("compressed_tokens");
  if (b < 0 || c < 0) {
    throw InputError(path + ":" + std::to_string(csv.line()) +
                     ": expected columns baseline_tokens,compressed_tokens (got " + join(csv.header(), ",") + ")");
  }
  std::vector<double> out;
  std::vector<std::string> row;
  while (csv.next(row)) {
    const auto x = parse_int(row[static_cast<std::size_t>(b)]);
    const auto y = parse_int(row[static_cast<std::size_t>(c)]);
    if (!x || !y || *x < 1 || *y < 1) {
      throw InputError(path + ":" + std::to_string(csv.line()) + ": lengths must be integers >= 1");
    }
    out.push_back(static_cast<double>(*y) / static_cast<double>(*x));
  }
  if (out.empty()) throw InputError(path + ": no length pairs");
  return out;
}

LengthEffectSampler::LengthEffectSampler(const LengthEffect& e) : enabled_(e.enabled) {
  if (!enabled_) return;
  if (!e.pairs_file.empty()) {
    ratios_ = read_length_pairs(e.pairs_file);
    return;
  }
  const double a = e.longer_1_5x, b = e.shorter_2x;
  if (a < 0 || b < 0 || a + b > 1) throw InputError("length effect: shares must be >= 0 and sum to <= 1");
  const double mid = (1.0 - a - b) / 2.0;  // each of (0.5, 1] and (1, 1.5)
  p_short2x_ = b;
  p_short_ = b + mid;
  p_long_ = b + 2 * mid;
  // E[r | r > 1] = (mid * 1.25 + a * (1.5 + tail)) / (mid + a) = mean_ratio_longer
  if (a > 0) {
    tail_ = (e.mean_ratio_longer * (mid + a) - 1.25 * mid) / a - 1.5;
    if (tail_ < 0) throw InputError("length effect: mean_ratio_longer too small for the >= 1.5x share");
  }
}

double LengthEffectSampler::sample(Rng& rng) const {
  if (!enabled_) return 1.0;
  if (!ratios_.empty()) {
    return ratios_[static_cast<std::size_t>(rng.uniform_int(0, static_cast<std::int64_t>(ratios_.size()) - 1))];
  }
  const double u = rng.uniform01();
  if (u < p_short2x_) return rng.uniform(0.2, 0.5);
  if (u < p_short_) return rng.uniform(0.5, 1.0);
  if (u < p_long_) return 1.0 + 0.5 * (1.0 - rng.uniform01());  // (1, 1.5]
  return 1.5 + (tail_ > 0 ? rng.exponential(1.0 / tail_) : 0.0);
}

}  // namespace kvsim
