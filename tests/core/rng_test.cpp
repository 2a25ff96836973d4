#include "sim/core/rng.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kvsim {
namespace {

TEST(Rng, SameSeedSameSequenceDifferentSeedDiffers) {
  Rng a(1), b(1), c(2);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
  }
}

TEST(RngStreams, NamedStreamsAreIsolatedAndReproducible) {
  RngStreams s(42);
  Rng a = s.stream("workload.arrivals");
  Rng a2 = s.stream("workload.arrivals");
  Rng b = s.stream("workload.prompt_tokens");
  EXPECT_EQ(a.next_u64(), a2.next_u64());
  EXPECT_NE(s.stream("workload.arrivals").next_u64(), b.next_u64());
  EXPECT_NE(RngStreams(43).stream("x").next_u64(), RngStreams(42).stream("x").next_u64());
}

// Sample moments of each distribution against the closed form, over many draws.
struct MomentCase {
  const char* name;
  double want_mean;
  double want_var;
  double (*draw)(Rng&);
};

TEST(Rng, DistributionMomentsMatchClosedForms) {
  const MomentCase cases[] = {
      {"uniform01", 0.5, 1.0 / 12, [](Rng& r) { return r.uniform01(); }},
      {"exponential(2)", 0.5, 0.25, [](Rng& r) { return r.exponential(2.0); }},
      {"normal", 0.0, 1.0, [](Rng& r) { return r.normal(); }},
      {"gamma(4, 0.5)", 2.0, 1.0, [](Rng& r) { return r.gamma(4.0, 0.5); }},
      {"gamma(0.25, 4)", 1.0, 4.0, [](Rng& r) { return r.gamma(0.25, 4.0); }},
      {"lognormal(0, 0.5)", std::exp(0.125), (std::exp(0.25) - 1) * std::exp(0.25),
       [](Rng& r) { return r.lognormal(0.0, 0.5); }},
  };
  for (const auto& c : cases) {
    Rng rng(123);
    const int n = 400000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
      const double x = c.draw(rng);
      sum += x;
      sq += x * x;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    // 5 standard errors of the mean; variance within 5 %.
    EXPECT_NEAR(mean, c.want_mean, 5 * std::sqrt(c.want_var / n) + 1e-12) << c.name;
    EXPECT_NEAR(var, c.want_var, 0.05 * c.want_var + 1e-9) << c.name;
  }
}

TEST(Rng, UniformIntCoversInclusiveRange) {
  Rng r(5);
  int seen[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4000; ++i) {
    const auto v = r.uniform_int(3, 6);
    ASSERT_GE(v, 3);
    ASSERT_LE(v, 6);
    ++seen[v - 3];
  }
  for (int s : seen) EXPECT_GT(s, 800);
}

}  // namespace
}  // namespace kvsim
