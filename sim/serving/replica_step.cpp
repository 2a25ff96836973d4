// Replica: one step: apply the scheduler's plan, build its batch shape and cost it, complete it
// (in place or from the event queue).
#include "sim/serving/replica.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "models/compression/kv_layout.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/serving/replica_view.h"

namespace kvsim {

void Replica::apply_plan(SimTime now) {
  for (const std::int32_t slot : plan_.reject) {
    reject(slot, now, "can never be admitted (exceeds KV capacity minus watermark)");
  }
  for (const Preemption& p : plan_.preempt) preempt(p.slot, p.mode, p.requeue_back, now);
  for (const std::int32_t slot : plan_.swap_in) {
    RequestState& r = slots_[static_cast<std::size_t>(slot)];
    if (swapped_.empty() || swapped_.front() != slot) throw InvariantViolation("swap-in out of FCFS order");
    swapped_.pop_front();
    if (r.remote_kv) {
      // Its KV arrived over the network before it was queued here: pages, no host copy.
      kv_.allocate(r.blocks);
      r.remote_kv = false;
    } else {
      kv_.swap_in(r.blocks);
      const std::int64_t bytes = r.blocks * capacity_.block_bytes;
      step_swap_bytes_ += bytes;
      counters_.swapped_bytes += bytes;
    }
    link_running(slot);
    join_pool(slot);
  }
  step_decode_blocks_ = plan_.run_decodes ? pool_.blocks_needed_next_step() : 0;
  kv_.allocate(step_decode_blocks_);
  for (const PrefillAssignment& a : plan_.prefills) {
    RequestState& r = slots_[static_cast<std::size_t>(a.slot)];
    if (r.status == RequestStatus::kWaiting) {
      if (waiting_.empty() || waiting_.front() != a.slot) throw InvariantViolation("admission out of FCFS order");
      pop_waiting(a.slot);
      link_running(a.slot);
      prefilling_.push_back(a.slot);
      if (r.first_scheduled < 0) r.first_scheduled = now;
      if (r.preempt_recompute > 0) r.recomputed_tokens += r.prefill_target;
    }
    if (a.tokens <= 0 || r.computed + a.tokens > r.prefill_target) {
      throw InvariantViolation("prefill chunk of " + std::to_string(a.tokens) + " tokens out of range");
    }
    const std::int64_t need = pages(r.method, std::int64_t{r.computed} + a.tokens) - r.blocks;
    kv_.allocate(need);
    r.blocks += need;
  }
  // Recompute victims go to the front of waiting after this step's admissions, which the
  // scheduler chose from the queue as it was (vLLM: waiting.extendleft / prepend_request).
  for (const std::int32_t slot : requeue_) push_waiting(slot, /*front=*/true);
  requeue_.clear();
  for (const std::int32_t slot : requeue_back_) push_waiting(slot, /*front=*/false);
  requeue_back_.clear();
}

void Replica::build_shape() {
  shape_.prefills.clear();
  std::int32_t longest = 0;
  for (const PrefillAssignment& a : plan_.prefills) longest = std::max(longest, a.tokens);
  for (const PrefillAssignment& a : plan_.prefills) {
    const RequestState& r = slots_[static_cast<std::size_t>(a.slot)];
    const std::int32_t tokens = plan_.pad_to_longest ? longest : a.tokens;
    shape_.prefills.push_back({tokens, r.computed, r.computed + a.tokens == r.prefill_target, r.method});
  }
  shape_.decode.clear();
  step_decode_rows_ = 0;
  if (plan_.run_decodes) {
    step_decode_rows_ = pool_.count();
    for (std::size_t g = 0; g < pool_.group_count(); ++g) {
      const std::int32_t n = pool_.group_size(g);
      if (n == 0) continue;
      // Each request attends over its resident tokens plus the one this step writes.
      DecodeGroup dg{static_cast<std::uint8_t>(g), n, pool_.resident_sum(g) + n,
                     static_cast<std::int32_t>(pool_.resident_max(g) + 1)};
      shape_.decode.push_back(dg);
    }
    if (plan_.padded_decode_rows > step_decode_rows_ && !shape_.decode.empty()) {
      // Static batching: finished rows are padding that still computes at the longest length.
      DecodeGroup& dg = shape_.decode.front();
      const std::int32_t pad = plan_.padded_decode_rows - step_decode_rows_;
      dg.count += pad;
      dg.context_sum += std::int64_t{pad} * dg.context_max;
    }
  }
  shape_.swap_bytes = step_swap_bytes_;
}

std::optional<SimTime> Replica::start_step(SimTime now) {
  plan_.clear();
  step_swap_bytes_ = 0;
  scheduler_.plan_step(*view_, scheduler_memory_.get(), plan_);
  apply_plan(now);
  if (plan_.empty()) {
    if (running_ == 0 && (!waiting_.empty() || !swapped_.empty())) {
      throw InvariantViolation("livelock on replica " + std::to_string(index_) + ": " +
                               std::to_string(waiting_.size()) + " waiting and " + std::to_string(swapped_.size()) +
                               " swapped requests, nothing running, and the scheduler scheduled nothing (free blocks " +
                               std::to_string(kv_.free()) + " of " + std::to_string(kv_.capacity()) + ")");
    }
    if (running_ > 0 && !plan_.preempt.empty()) {
      // Everything was preempted this instant; plan again at once with the freed blocks.
      return start_step(now);
    }
    if (running_ > 0) {
      throw InvariantViolation("replica " + std::to_string(index_) + ": " + std::to_string(running_) +
                               " running requests but the scheduler scheduled nothing");
    }
    return std::nullopt;
  }
  build_shape();
  cost_result_ = cost_.step_cost(shape_);
  if (cost_result_.total_ns <= 0) throw InvariantViolation("cost model returned a step of zero duration");
  check_step_in_range(now);
  in_flight_ = true;
  step_start_ = now;
  step_end_ = now + cost_result_.total_ns;
  return step_end_;
}

void Replica::check_step_in_range(SimTime now) const {
  // Issue #16 item 1: simulated time never overflows. Every input is range-checked at load, but
  // products of in-range values (a huge per-pair cost times a long batch) can still describe a
  // step no GPU takes; it is reported with what the step held instead of being run.
  const double step_s = static_cast<double>(cost_result_.total_ns) / 1e9;
  const bool too_long = step_s > kMaxStepS;
  if (!too_long && now + cost_result_.total_ns <= kDrainLimitNs) return;
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "replica %d: an engine step of %lld requests and %lld tokens would take %s s at simulated time %s s, %s; "
                "a cost input of the scenario (host overheads, per-kernel or per-pair costs, bandwidths, efficiencies) "
                "is outside its physical range",
                index_, static_cast<long long>(shape_.requests()), static_cast<long long>(shape_.tokens()),
                format_number(step_s).c_str(), format_number(static_cast<double>(now) / 1e9).c_str(),
                too_long ? "beyond kvsim's limit of 1e6 s per step" : "past kvsim's simulated-time limit of 2e9 s");
  throw InputError(buf);
}

void Replica::complete_step(SimTime now) {
  if (!in_flight_ || now != step_end_) throw InvariantViolation("step completed at the wrong time");
  in_flight_ = false;
  last_step_end_ = now;
  ++counters_.steps;
  counters_.busy_ns += step_end_ - step_start_;
  counters_.gpu_ns += cost_result_.gpu_ns;
  std::int32_t first_tokens = 0;
  std::int64_t prefill_tokens = 0;
  // Decodes first: requests whose prefill completes in this step join the pool after it
  // advanced, so they do not receive a decode token from a step they were not part of.
  step_decode_blocks_ = 0;
  if (plan_.run_decodes) {
    record_decode_token_gaps(now);
    pool_.advance();
    while (true) {
      const std::int32_t slot = pool_.pop_finished();
      if (slot < 0) break;
      slots_[static_cast<std::size_t>(slot)].last_token = now;
      finish(slot, now);
    }
  }
  for (const PrefillAssignment& a : plan_.prefills) {
    RequestState& r = slots_[static_cast<std::size_t>(a.slot)];
    prefill_tokens += a.tokens;
    r.computed += a.tokens;
    if (r.computed < r.prefill_target) continue;
    remove_prefilling(a.slot);
    // Retention compacts the freshly prefilled sequence (SnapKV/H2O/StreamingLLM once after
    // prefill; recompute re-applies it) and returns the freed pages.
    const MethodRuntime& m = methods_[r.method];
    r.resident_tokens = std::min(kept_after_prefill(m.retention, r.prefill_target), m.cap);
    const std::int64_t kept_pages = pages(r.method, r.resident_tokens);
    if (kept_pages < r.blocks) {
      kv_.release(r.blocks - kept_pages);
      counters_.compacted_blocks += r.blocks - kept_pages;
      r.blocks = kept_pages;
    }
    r.generated += 1;
    ++first_tokens;
    emit_first_or_resumed_token(r, now);
    if (r.generated >= r.target_output) finish(a.slot, now);
    else if (role_ == ReplicaRole::kPrefill) hand_off(a.slot, now);
    else join_pool(a.slot);
  }
  if (step_decode_rows_ > 0 || first_tokens > 0) {
    steps_without_token_ = 0;
  } else if (++steps_without_token_ > livelock_steps_) {
    throw InvariantViolation("livelock on replica " + std::to_string(index_) + ": " +
                             std::to_string(steps_without_token_) +
                             " steps in a row produced no token (KV capacity too small for the load?)");
  }
  StepRecord rec;
  rec.replica = index_;
  rec.start = step_start_;
  rec.end = step_end_;
  rec.decode_rows = step_decode_rows_;
  rec.prefill_requests = static_cast<std::int32_t>(plan_.prefills.size());
  rec.prefill_tokens = prefill_tokens;
  rec.first_tokens = first_tokens;
  rec.batch_requests = rec.decode_rows + rec.prefill_requests;
  rec.kv_used_blocks = kv_.used();
  rec.kv_capacity_blocks = kv_.capacity();
  {
    std::int64_t logical = 0;
    for (std::size_t g = 0; g < pool_.group_count(); ++g) logical += pool_.logical_sum(g);
    for (const std::int32_t p : prefilling_) logical += slots_[static_cast<std::size_t>(p)].computed;
    rec.logical_fp16_bytes = static_cast<double>(logical) * static_cast<double>(model_.kv_bytes_per_token());
    rec.stored_bytes = static_cast<double>(kv_.used()) * static_cast<double>(capacity_.block_bytes) +
                       static_cast<double>(running_) * static_cast<double>(residual_bytes_);
  }
  rec.cost = &cost_result_;
  for (auto* s : sinks_) s->on_step(rec);
}

std::optional<SimTime> Replica::advance(SimTime now, SimTime next_event) {
  if (in_flight_) throw InvariantViolation("advance() with a step in flight");
  for (;;) {
    const std::optional<SimTime> end = start_step(now);
    // Complete in place only when no event can come between: the result is identical to
    // completing through the event queue, without the heap traffic.
    if (!end || *end >= next_event) return end;
    now = *end;
    complete_step(now);
  }
}


}  // namespace kvsim
