#pragma once
// Simulated time: signed 64-bit integer nanoseconds. Integers keep event order exact and
// runs byte-deterministic; floating point appears only inside cost models and reports.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace kvsim {

using SimTime = std::int64_t;   // absolute, ns since simulation start
using Duration = std::int64_t;  // ns

inline constexpr SimTime kNsPerSecond = 1'000'000'000;
inline constexpr SimTime kNsPerMs = 1'000'000;
inline constexpr SimTime kNsPerUs = 1'000;
inline constexpr SimTime kTimeInfinity = std::numeric_limits<SimTime>::max();

inline double to_seconds(SimTime t) { return static_cast<double>(t) / 1e9; }
inline double to_ms(Duration d) { return static_cast<double>(d) / 1e6; }

// Rounds to the nearest ns. Callers validate the range; cost models clamp to >= 1 ns so
// that no step has zero duration (a zero step would stall the clock).
inline Duration seconds_to_ns(double s) { return static_cast<Duration>(std::llround(s * 1e9)); }

// A cost in ns (a cost model's double) as a Duration, rounded up and saturated at 1e16 ns
// (1e7 s, ten times the longest step a replica accepts; NaN goes there too). Converting a
// double beyond int64 is undefined behaviour, and a sum of a few saturated terms must still
// fit: an absurd input then yields a step the replica refuses with a message (kMaxStepS in
// sim/core/limits.h), never a wrapped-around latency.
inline constexpr double kSaturatedCostNs = 1e16;
inline Duration cost_ns(double ns) {
  if (!(ns < kSaturatedCostNs)) return static_cast<Duration>(kSaturatedCostNs);
  return static_cast<Duration>(std::ceil(std::max(0.0, ns)));
}

}  // namespace kvsim
