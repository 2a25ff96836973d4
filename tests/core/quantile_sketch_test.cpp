#include "sim/core/quantile_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sim/core/rng.h"

namespace kvsim {
namespace {

TEST(QuantileSketch, QuantilesWithinRelativeAccuracyOfExactRanks) {
  QuantileSketch sk(0.005);
  Rng rng(7);
  std::vector<double> xs;
  for (int i = 0; i < 100000; ++i) {
    const double v = rng.lognormal(0.0, 1.5);
    xs.push_back(v);
    sk.add(v);
  }
  std::sort(xs.begin(), xs.end());
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999}) {
    const double exact = xs[static_cast<std::size_t>(q * (xs.size() - 1))];
    EXPECT_NEAR(sk.quantile(q), exact, exact * 0.0051) << "q=" << q;
  }
  EXPECT_DOUBLE_EQ(sk.quantile(0.0), xs.front());
  EXPECT_DOUBLE_EQ(sk.quantile(1.0), xs.back());
  EXPECT_EQ(sk.count(), 100000u);
}

TEST(QuantileSketch, MemoryIsBoundedByValueRangeNotCount) {
  QuantileSketch sk(0.005);
  for (int i = 0; i < 1000000; ++i) sk.add(1.0 + (i % 1000) * 0.01);
  EXPECT_LT(sk.bucket_count(), 300u);  // log(11)/log(1.01) ~ 241 buckets
}

TEST(QuantileSketch, WeightedAddEqualsRepeatedAdd) {
  QuantileSketch a, b;
  a.add(2.0, 5);
  a.add(3.0, 1);
  for (int i = 0; i < 5; ++i) b.add(2.0);
  b.add(3.0);
  EXPECT_EQ(a.count(), b.count());
  EXPECT_DOUBLE_EQ(a.quantile(0.5), b.quantile(0.5));
  EXPECT_DOUBLE_EQ(a.mean(), b.mean());
}

TEST(QuantileSketch, EmptyAndZeros) {
  QuantileSketch sk;
  EXPECT_EQ(sk.quantile(0.5), 0.0);
  sk.add(0.0, 3);
  sk.add(4.0);
  EXPECT_EQ(sk.quantile(0.5), 0.0);
  EXPECT_DOUBLE_EQ(sk.max(), 4.0);
}

}  // namespace
}  // namespace kvsim
