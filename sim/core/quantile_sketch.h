#pragma once
// Streaming quantiles with bounded relative error and memory independent of the number of
// samples (a DDSketch-style log-bucket histogram: Masson, Rim & Lee, VLDB 2019). Every
// reported quantile q satisfies |estimate - true| <= relative_accuracy * true for the
// sample at rank q, which is what lets a 10-million-request run keep flat memory.
#include <cstdint>
#include <vector>

namespace kvsim {

class QuantileSketch {
 public:
  explicit QuantileSketch(double relative_accuracy = 0.005);

  // Adds `value` (>= 0) with integer weight (a bulk-advanced run adds one step duration
  // for every request that received a token in it).
  void add(double value, std::uint64_t weight = 1);

  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  // q in [0, 1]. Returns 0 when empty. q=0 and q=1 are the exact min and max.
  double quantile(double q) const;
  double relative_accuracy() const { return alpha_; }
  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  int index_of(double value) const;
  double value_of(int index) const;

  double alpha_;
  double gamma_;
  double log_gamma_;
  std::vector<std::uint64_t> buckets_;
  int offset_ = 0;  // bucket index of buckets_[0]
  std::uint64_t zero_count_ = 0;
  std::uint64_t count_ = 0;
  double sum_ = 0.0;
  double min_ = 0.0;
  double max_ = 0.0;
};

}  // namespace kvsim
