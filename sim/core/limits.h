#pragma once
// kvsim's outer limits, in one place: the documented ranges of inputs (docs/reliability.md,
// "Documented ranges") are built from these, so that no valid input can overflow simulated
// time (int64 nanoseconds, 9.2e9 s) or an int32 token count.
#include <cstdint>

namespace kvsim {

// Simulated time a run may reach: 1e9 s (31.7 years) leaves a factor 9 to int64 ns overflow
// for the steps that follow the last arrival.
inline constexpr double kSimTimeLimitS = 1e9;
inline constexpr std::int64_t kSimTimeLimitNs = 1'000'000'000'000'000'000;
// Steps may run past the last arrival to drain the queue, up to twice the limit; a run that
// gets there is reported (int64 ns would overflow at 9.2e9 s).
inline constexpr std::int64_t kDrainLimitNs = 2 * kSimTimeLimitNs;
// One engine step may take at most this long (11.6 days); a longer one means a cost input
// outside its physical range, and is reported as such instead of silently saturating.
inline constexpr double kMaxStepS = 1e6;
// Token counts (prompts, outputs, budgets, contexts): 1e8 is 100x the longest context of any
// model kvsim ships and stays far inside int32 arithmetic on sums of a few of them.
inline constexpr double kMaxTokens = 1e8;

}  // namespace kvsim
