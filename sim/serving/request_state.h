#pragma once
// A live request's lifecycle state inside a replica. Exactly one status at a time:
// waiting -> running -> (finished | preempted back to waiting | swapped -> running ...).
#include <cstdint>

#include "traces/request_spec.h"

namespace kvsim {

enum class RequestStatus : std::uint8_t { kWaiting, kRunning, kSwapped, kFinished, kRejected };

struct RequestState {
  RequestSpec spec;
  std::int32_t target_output = 0;  // tokens it will generate (after length effect and caps)
  std::uint8_t method = 0;         // index into the scenario's compression table
  std::int32_t baseline_output = 0; // tokens it would generate uncompressed (same caps)
  RequestStatus status = RequestStatus::kWaiting;
  bool decoding = false;           // in the DecodePool; the fields below marked (*) are then stale
  std::int32_t generated = 0;      // (*) output tokens produced so far
  std::int64_t resident_tokens = 0; // (*) tokens whose K/V are stored (after eviction)
  std::int64_t blocks = 0;         // (*) GPU blocks held (or CPU blocks while swapped)
  std::int32_t prefill_target = 0; // tokens the current prefill must compute (prompt + generated)
  std::int32_t computed = 0;       // of prefill_target, computed so far (chunked prefill)
  // DecodePool bookkeeping: resident = res_key + pool steps (until capped), generated =
  // gen_key + pool steps.
  std::int64_t res_key = 0;
  std::int64_t gen_key = 0;
  bool capped = false;
  std::uint32_t epoch = 0;         // bumps whenever the request leaves the pool (lazy heap delete)
  // Running order (admission order; the back is the LIFO preemption victim).
  std::int32_t prev = -1;
  std::int32_t next = -1;
  std::int64_t admit_seq = 0;
  // Timing and accounting.
  SimTime first_scheduled = -1;
  SimTime first_token = -1;
  SimTime last_token = -1;
  SimTime preempted_at = -1;
  std::int32_t preempt_recompute = 0;
  std::int32_t preempt_swap = 0;
  std::int64_t recomputed_tokens = 0;
  // Arrived with its KV from a prefill replica (disaggregated serving): it waits in the
  // swapped queue until the scheduler brings it in, which allocates its pages here.
  bool remote_kv = false;
};

}  // namespace kvsim
