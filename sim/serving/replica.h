#pragma once
// One serving engine: queues, the paged KV pool, a scheduler and a cost model. It asks the
// scheduler for a plan, applies it (checking every allocation), costs the step and later
// completes it. Steps are completed either from the event queue or, when no other event
// can intervene before the step ends, in place (Replica::advance) with the same results.
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/cost_model.h"
#include "sim/metrics/metrics_sink.h"
#include "sim/serving/decode_pool.h"
#include "sim/serving/kv_capacity.h"
#include "sim/serving/kv_cache_manager.h"
#include "sim/serving/request_state.h"
#include "sim/serving/scheduler.h"

namespace kvsim {

struct ReplicaCounters {
  std::int64_t arrived = 0;
  std::int64_t finished = 0;
  std::int64_t rejected = 0;
  std::int64_t steps = 0;
  std::int64_t preempt_recompute = 0;
  std::int64_t preempt_swap = 0;
  std::int64_t swap_fallbacks = 0;
  std::int64_t swapped_bytes = 0;
  std::int64_t recomputed_tokens = 0;
  std::int64_t compacted_blocks = 0;  // pages freed by retention after prefill
  Duration busy_ns = 0;  // time with a step in flight
  Duration gpu_ns = 0;   // device share of those steps
};

class Replica {
 public:
  // `methods` is the compression table (index 0 the default); capacity.methods its layout.
  Replica(std::int32_t index, const ModelSpec& model, const EngineConfig& engine, const KvCapacity& capacity,
          const std::vector<CompressionSpec>& methods, const Scheduler& scheduler, const CostModel& cost,
          std::vector<MetricsSink*> sinks, std::int64_t livelock_steps);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Admits a request into the waiting queue, or rejects it with a reason if it can never
  // be served (it would never fit in KV). `method` indexes the compression table;
  // `length_multiplier` scales its output length (the method's length effect), before the
  // max_tokens and context caps.
  void enqueue(const RequestSpec& spec, std::uint8_t method, double length_multiplier, SimTime now);

  bool step_in_flight() const { return in_flight_; }
  // End of the last completed step (steps completed in place run ahead of the event queue).
  SimTime last_step_end() const { return last_step_end_; }
  // Plans and starts steps from `now`, completing them in place while they end before
  // `next_event` (no event can intervene). Returns the end time of the step left in
  // flight, or nullopt when idle.
  std::optional<SimTime> advance(SimTime now, SimTime next_event);
  // Completes the step in flight (its end time has come).
  void complete_step(SimTime now);

  // Laws: status conservation, block accounting, and (deep) per-request blocks == used.
  void check_invariants(bool deep) const;
  SampleRecord sample(SimTime now) const;

  const ReplicaCounters& counters() const { return counters_; }
  const KvCacheManager& kv() const { return kv_; }
  std::int64_t live_requests() const { return static_cast<std::int64_t>(slots_.size() - free_slots_.size()); }
  std::int64_t waiting_count() const { return static_cast<std::int64_t>(waiting_.size()); }

 private:
  class View;
  friend class View;

  std::optional<SimTime> start_step(SimTime now);
  void apply_plan(SimTime now);
  void build_shape();
  void preempt(std::int32_t slot, PreemptionMode mode, SimTime now);
  void finish(std::int32_t slot, SimTime now);
  void reject(std::int32_t slot, SimTime now, const std::string& reason);
  void emit_first_or_resumed_token(RequestState& r, SimTime now);
  std::int64_t pages(std::uint8_t method, std::int64_t tokens) const;
  bool needs_page(const RequestState& r, std::int64_t resident) const;
  std::int64_t max_pages_ever(const RequestState& r) const;
  void join_pool(std::int32_t slot);
  void leave_pool(std::int32_t slot);
  void record_decode_token_gaps(SimTime now);
  void link_running(std::int32_t slot);
  void unlink_running(std::int32_t slot);
  void remove_prefilling(std::int32_t slot);
  std::int32_t alloc_slot();
  void free_slot(std::int32_t slot);

  std::int32_t index_;
  const ModelSpec& model_;
  const EngineConfig& engine_;
  KvCapacity capacity_;
  const Scheduler& scheduler_;
  const CostModel& cost_;
  std::vector<MetricsSink*> sinks_;
  std::int64_t livelock_steps_;

  struct MethodRuntime {
    int tokens_per_page;
    std::int64_t cap;  // resident cap while decoding (kNoCap: none)
    Retention retention;
  };
  std::vector<MethodRuntime> methods_;
  std::int64_t residual_bytes_ = 0;  // fp16 residual window per running sequence
  KvCacheManager kv_;
  std::vector<RequestState> slots_;
  std::vector<std::int32_t> free_slots_;
  DecodePool pool_;
  std::deque<std::int32_t> waiting_;
  std::deque<std::int32_t> swapped_;
  std::vector<std::int32_t> prefilling_;
  std::int32_t run_head_ = -1;
  std::int32_t run_tail_ = -1;
  std::int32_t running_ = 0;
  std::int64_t admit_seq_ = 0;
  std::int64_t decode_steps_since_prefill_ = 0;
  std::int32_t static_batch_rows_ = 0;
  std::int64_t steps_without_token_ = 0;
  // Inter-token latency in O(1) per step: every pool member present at the previous decode
  // step last got a token at last_decode_end_; members that joined since (first token,
  // resume, swap-in) are listed with their own last token time.
  SimTime last_decode_end_ = -1;
  std::vector<std::int32_t> recent_joiners_;
  std::vector<std::int32_t> requeue_;  // recompute victims of the step being applied
  std::unique_ptr<View> view_;

  // The step in flight.
  bool in_flight_ = false;
  SimTime step_start_ = 0;
  SimTime step_end_ = 0;
  SimTime last_step_end_ = 0;
  BatchPlan plan_;
  BatchShape shape_;
  StepCost cost_result_;
  std::int32_t step_decode_rows_ = 0;
  std::int64_t step_swap_bytes_ = 0;
  std::int64_t step_decode_blocks_ = 0;  // allocated at start for the tokens the step writes

  ReplicaCounters counters_;
};

}  // namespace kvsim
