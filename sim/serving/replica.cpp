// Replica: construction, page arithmetic, counters, the invariant checks and sampling.
// Request lifecycle: replica_lifecycle.cpp; one step (plan, cost, complete): replica_step.cpp.
#include "sim/serving/replica.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "models/compression/kv_layout.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/serving/replica_view.h"

namespace kvsim {

namespace {
std::vector<PoolGroupSpec> pool_groups(const KvCapacity& capacity, const std::vector<CompressionSpec>& methods) {
  std::vector<PoolGroupSpec> out;
  for (std::size_t i = 0; i < methods.size(); ++i) {
    out.push_back({capacity.methods.at(i).tokens_per_page, resident_cap(methods[i].retention)});
  }
  return out;
}
}  // namespace

Replica::Replica(std::int32_t index, const ModelSpec& model, const EngineConfig& engine, const KvCapacity& capacity,
                 const std::vector<CompressionSpec>& methods, const Scheduler& scheduler, const CostModel& cost,
                 std::vector<MetricsSink*> sinks, std::int64_t livelock_steps, ReplicaRole role)
    : index_(index),
      model_(model),
      engine_(engine),
      capacity_(capacity),
      scheduler_(scheduler),
      scheduler_memory_(scheduler.new_memory()),
      cost_(cost),
      sinks_(std::move(sinks)),
      livelock_steps_(livelock_steps),
      role_(role),
      kv_(capacity.num_gpu_blocks, engine.block_size, engine.watermark,
          engine.preemption_mode == PreemptionMode::kSwap ? capacity.num_cpu_blocks : 0),
      pool_(slots_, pool_groups(capacity, methods)),
      view_(std::make_unique<View>(*this)) {
  if (methods.empty() || methods.size() != capacity.methods.size() || methods.size() > 255) {
    throw InvariantViolation("replica needs one page layout per compression method (at most 255)");
  }
  for (std::size_t i = 0; i < methods.size(); ++i) {
    methods_.push_back({capacity.methods[i].tokens_per_page, resident_cap(methods[i].retention), methods[i].retention});
  }
  residual_bytes_ = capacity.residual_pool_bytes / (std::int64_t{engine.max_num_seqs} + 3);
}

std::int64_t Replica::pages(std::uint8_t method, std::int64_t tokens) const {
  const int per = methods_[method].tokens_per_page;
  return tokens <= 0 ? 0 : (tokens + per - 1) / per;
}

bool Replica::needs_page(const RequestState& r, std::int64_t resident) const {
  const MethodRuntime& m = methods_[r.method];
  return resident < m.cap && resident % m.tokens_per_page == 0;
}

std::int64_t Replica::max_pages_ever(const RequestState& r) const {
  const MethodRuntime& m = methods_[r.method];
  // The prompt is stored whole before compaction; afterwards at most kept + outputs - 1.
  const std::int64_t prompt = r.spec.prompt_tokens;
  const std::int64_t decoded = std::min(kept_after_prefill(m.retention, prompt) + r.target_output - 1, m.cap);
  return pages(r.method, std::max(prompt, decoded));
}

Replica::~Replica() = default;

ReplicaCounters& operator+=(ReplicaCounters& a, const ReplicaCounters& b) {
  a.arrived += b.arrived;
  a.finished += b.finished;
  a.rejected += b.rejected;
  a.steps += b.steps;
  a.preempt_recompute += b.preempt_recompute;
  a.preempt_swap += b.preempt_swap;
  a.swap_fallbacks += b.swap_fallbacks;
  a.swapped_bytes += b.swapped_bytes;
  a.recomputed_tokens += b.recomputed_tokens;
  a.compacted_blocks += b.compacted_blocks;
  a.received += b.received;
  a.handed_off += b.handed_off;
  a.output_tokens += b.output_tokens;
  a.busy_ns += b.busy_ns;
  a.gpu_ns += b.gpu_ns;
  return a;
}


void Replica::check_invariants(bool deep) const {
  const std::int64_t live =
      counters_.arrived + counters_.received - counters_.finished - counters_.rejected - counters_.handed_off;
  const std::int64_t accounted =
      static_cast<std::int64_t>(waiting_.size()) + static_cast<std::int64_t>(swapped_.size()) + running_;
  if (live != accounted) {
    throw InvariantViolation("request conservation broken on replica " + std::to_string(index_) + ": arrived " +
                             std::to_string(counters_.arrived) + " + received - finished - rejected - handed off = " +
                             std::to_string(live) +
                             " but waiting + swapped + running = " + std::to_string(accounted));
  }
  if (kv_.used() + kv_.free() != kv_.capacity() || kv_.used() < 0 || kv_.free() < 0) {
    throw InvariantViolation("KV block accounting broken: used + free != capacity");
  }
  if (pool_.count() + static_cast<std::int32_t>(prefilling_.size()) != running_) {
    throw InvariantViolation("running requests are neither decoding nor prefilling");
  }
  if (!deep) return;
  std::int64_t held = 0, cpu_held = 0;
  std::int32_t walked = 0;
  for (std::int32_t s = run_head_; s >= 0; s = slots_[static_cast<std::size_t>(s)].next) {
    const RequestState& r = slots_[static_cast<std::size_t>(s)];
    if (r.status != RequestStatus::kRunning) throw InvariantViolation("non-running request in the running list");
    held += r.decoding ? pool_.blocks(r) : r.blocks;
    ++walked;
  }
  for (const std::int32_t s : swapped_) {
    const RequestState& r = slots_[static_cast<std::size_t>(s)];
    if (!r.remote_kv) cpu_held += r.blocks;  // received KV is not in this replica's pools yet
  }
  for (const std::int32_t s : waiting_) {
    if (slots_[static_cast<std::size_t>(s)].blocks != 0) throw InvariantViolation("a waiting request holds KV blocks");
  }
  // Blocks reserved for the tokens the step in flight writes belong to no request yet.
  if (in_flight_) held += step_decode_blocks_;
  if (walked != running_) throw InvariantViolation("running list length differs from the running count");
  if (held != kv_.used()) {
    throw InvariantViolation("KV blocks held by requests (" + std::to_string(held) + ") != blocks in use (" +
                             std::to_string(kv_.used()) + ")");
  }
  if (cpu_held != kv_.cpu_used()) throw InvariantViolation("swapped blocks != CPU blocks in use");
  std::int64_t queued = 0;
  for (const std::int32_t s : waiting_) {
    const RequestState& r = slots_[static_cast<std::size_t>(s)];
    queued += r.prefill_target - r.computed;
  }
  if (queued != waiting_tokens_) throw InvariantViolation("waiting prefill token count out of date");
}

SampleRecord Replica::sample(SimTime now) const {
  SampleRecord s;
  s.time = now;
  s.replica = index_;
  s.running = running_;
  s.decoding = pool_.count();
  s.waiting = static_cast<std::int32_t>(waiting_.size());
  s.swapped = static_cast<std::int32_t>(swapped_.size());
  s.kv_used_blocks = kv_.used();
  s.kv_capacity_blocks = kv_.capacity();
  return s;
}


}  // namespace kvsim
