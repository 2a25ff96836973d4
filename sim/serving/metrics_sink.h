#pragma once
// Observers of a run. Sinks never change the simulation; they see lifecycle hooks and
// produce their part of the outputs (summary, requests.csv, timeseries.csv, trace.json).
#include <cstdint>
#include <string>

#include "models/cost/step_cost.h"
#include "sim/core/time.h"
#include "traces/request_spec.h"

namespace kvsim {

struct StepRecord {
  std::int32_t replica = 0;
  SimTime start = 0;
  SimTime end = 0;
  std::int32_t decode_rows = 0;      // requests that received a decode token
  std::int32_t prefill_requests = 0;
  std::int64_t prefill_tokens = 0;
  std::int32_t first_tokens = 0;     // prefills that completed (emitted a token)
  std::int32_t batch_requests = 0;   // decode_rows + prefill_requests
  std::int64_t kv_used_blocks = 0;
  std::int64_t kv_capacity_blocks = 0;
  // For the achieved compression ratio: fp16 bytes the running requests' logical contexts
  // would take, and the bytes their pages (plus fp16 residual windows) really take.
  double logical_fp16_bytes = 0;
  double stored_bytes = 0;
  const StepCost* cost = nullptr;
};

struct RequestRecord {
  std::int32_t replica = 0;
  RequestSpec spec;
  SimTime first_scheduled = 0;
  SimTime first_token = 0;
  SimTime finish = 0;
  std::int32_t output_tokens = 0;     // generated
  std::int32_t baseline_output_tokens = 0;  // before the compression's length effect and caps
  std::uint8_t method = 0;
  std::int32_t preempt_recompute = 0;
  std::int32_t preempt_swap = 0;
  std::int64_t recomputed_tokens = 0;
};

enum class PreemptKind : std::uint8_t { kRecompute, kSwap };

struct SampleRecord {
  SimTime time = 0;
  std::int32_t replica = 0;
  std::int32_t running = 0;
  std::int32_t decoding = 0;
  std::int32_t waiting = 0;
  std::int32_t swapped = 0;
  std::int64_t kv_used_blocks = 0;
  std::int64_t kv_capacity_blocks = 0;
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void on_arrival(const RequestSpec&, SimTime) {}
  virtual void on_reject(const RequestSpec&, SimTime, const std::string& /*reason*/) {}
  virtual void on_preempt(std::int64_t /*request_id*/, PreemptKind, SimTime, std::int64_t /*bytes*/) {}
  // `count` tokens each arrived `gap` after the same request's previous token (inter-token
  // latency as the client sees it, stalls behind prefill steps and preemptions included).
  virtual void on_token_gap(Duration /*gap*/, std::uint64_t /*count*/) {}
  virtual void on_step(const StepRecord&) {}
  virtual void on_finish(const RequestRecord&) {}
  virtual void on_sample(const SampleRecord&) {}
};

}  // namespace kvsim
