#include "sim/core/quantile_sketch.h"

#include <algorithm>
#include <cmath>

namespace kvsim {

namespace {
// Values below this are counted as zero: nothing kvsim measures is meaningful below 1e-9
// of its unit, and it keeps the bucket range bounded.
constexpr double kMinPositive = 1e-9;
}  // namespace

QuantileSketch::QuantileSketch(double relative_accuracy)
    : alpha_(relative_accuracy),
      gamma_((1.0 + relative_accuracy) / (1.0 - relative_accuracy)),
      log_gamma_(std::log(gamma_)) {}

int QuantileSketch::index_of(double value) const {
  return static_cast<int>(std::ceil(std::log(value) / log_gamma_));
}

double QuantileSketch::value_of(int index) const {
  return 2.0 * std::pow(gamma_, index) / (gamma_ + 1.0);
}

void QuantileSketch::add(double value, std::uint64_t weight) {
  if (weight == 0) return;
  if (value < 0.0 || std::isnan(value)) value = 0.0;
  if (count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  count_ += weight;
  sum_ += value * static_cast<double>(weight);
  if (value < kMinPositive) {
    zero_count_ += weight;
    return;
  }
  const int idx = index_of(value);
  if (buckets_.empty()) {
    offset_ = idx;
    buckets_.assign(1, 0);
  } else if (idx < offset_) {
    buckets_.insert(buckets_.begin(), static_cast<std::size_t>(offset_ - idx), 0);
    offset_ = idx;
  } else if (idx >= offset_ + static_cast<int>(buckets_.size())) {
    buckets_.resize(static_cast<std::size_t>(idx - offset_ + 1), 0);
  }
  buckets_[static_cast<std::size_t>(idx - offset_)] += weight;
}

double QuantileSketch::quantile(double q) const {
  if (count_ == 0) return 0.0;
  if (q <= 0.0) return min_;
  if (q >= 1.0) return max_;
  // Rank of the sample (0-based, lower nearest rank), as DDSketch defines it.
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1));
  if (rank < zero_count_) return 0.0;
  std::uint64_t seen = zero_count_;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen > rank) {
      return std::clamp(value_of(offset_ + static_cast<int>(i)), min_, max_);
    }
  }
  return max_;
}

}  // namespace kvsim
