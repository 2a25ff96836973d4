#pragma once
// Deterministic random numbers. Each subsystem draws from its own named stream derived from
// the master seed, so adding draws in one subsystem never shifts another's sequence.
// Distributions are implemented here (not <random>'s), because the standard leaves their
// algorithms to the library: the same seed must give the same run with any toolchain.
#include <cstdint>
#include <string_view>
#include <vector>

namespace kvsim {

// xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next_u64();
  double uniform01();                       // [0, 1), 53 random bits
  double uniform(double lo, double hi);     // [lo, hi)
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi);  // [lo, hi], inclusive
  double exponential(double rate);          // mean 1/rate
  double normal();                          // standard normal (Box-Muller, no caching)
  double gamma(double shape, double scale); // Marsaglia-Tsang
  double lognormal(double mu, double sigma);

 private:
  std::uint64_t s_[4];
};

std::uint64_t splitmix64(std::uint64_t& state);
std::uint64_t fnv1a64(std::string_view text);

// Named streams from one master seed: stream(seed, "workload.arrivals").
class RngStreams {
 public:
  explicit RngStreams(std::uint64_t master_seed) : master_(master_seed) {}
  Rng stream(std::string_view name) const;
  std::uint64_t master_seed() const { return master_; }

 private:
  std::uint64_t master_;
};

}  // namespace kvsim
