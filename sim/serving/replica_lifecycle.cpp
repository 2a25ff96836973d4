// Replica: a request's lifecycle (queues and slots, arrival, rejection, hand-over, preemption,
// the pool, finishing).
#include "sim/serving/replica.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "models/compression/kv_layout.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"

namespace kvsim {

void Replica::push_waiting(std::int32_t slot, bool front) {
  const RequestState& r = slots_[static_cast<std::size_t>(slot)];
  waiting_tokens_ += r.prefill_target - r.computed;
  if (front) waiting_.push_front(slot);
  else waiting_.push_back(slot);
}

void Replica::pop_waiting(std::int32_t slot) {
  const RequestState& r = slots_[static_cast<std::size_t>(slot)];
  waiting_tokens_ -= r.prefill_target - r.computed;
  if (!waiting_.empty() && waiting_.front() == slot) {
    waiting_.pop_front();
    return;
  }
  const auto it = std::find(waiting_.begin(), waiting_.end(), slot);
  if (it == waiting_.end()) throw InvariantViolation("waiting request missing from the waiting queue");
  waiting_.erase(it);
}

std::int32_t Replica::alloc_slot() {
  if (!free_slots_.empty()) {
    const std::int32_t s = free_slots_.back();
    free_slots_.pop_back();
    // Keep counting the epoch: heap entries of the slot's previous request must stay stale.
    const std::uint32_t epoch = slots_[static_cast<std::size_t>(s)].epoch + 1;
    slots_[static_cast<std::size_t>(s)] = RequestState{};
    slots_[static_cast<std::size_t>(s)].epoch = epoch;
    return s;
  }
  slots_.emplace_back();
  return static_cast<std::int32_t>(slots_.size() - 1);
}

void Replica::free_slot(std::int32_t slot) { free_slots_.push_back(slot); }

void Replica::enqueue(const RequestSpec& spec, std::uint8_t method, double length_multiplier, SimTime now) {
  ++counters_.arrived;
  for (auto* s : sinks_) s->on_arrival(spec, now);
  const std::int32_t slot = alloc_slot();
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  r.spec = spec;
  r.method = method;
  const std::int32_t max_len = engine_.effective_max_model_len(model_);
  // The method's length effect first, then the request's max_tokens and the context window
  // (vLLM stops a sequence at max_model_len).
  const double scaled = std::round(static_cast<double>(spec.output_tokens) * length_multiplier);
  std::int32_t target = static_cast<std::int32_t>(std::clamp(scaled, 1.0, 2.0e9));
  // The baseline is what the request would generate without compression, under the same caps.
  std::int32_t baseline = spec.output_tokens;
  if (spec.max_tokens > 0) {
    target = std::min(target, spec.max_tokens);
    baseline = std::min(baseline, spec.max_tokens);
  }
  target = std::min(target, max_len - spec.prompt_tokens);
  baseline = std::max(1, std::min(baseline, max_len - spec.prompt_tokens));
  r.baseline_output = baseline;
  r.target_output = target;
  r.prefill_target = spec.prompt_tokens;
  // A prefix-cache hit: those tokens' KV is already there, so the prefill starts after them (its
  // first chunk allocates their blocks with its own and attends over them as cached context).
  r.computed = spec.cached_prompt_tokens;
  r.status = RequestStatus::kWaiting;
  push_waiting(slot, /*front=*/false);
  if (spec.prompt_tokens >= max_len) {
    reject(slot, now, "prompt of " + std::to_string(spec.prompt_tokens) + " tokens leaves no room in max_model_len " +
                          std::to_string(max_len));
    return;
  }
  // At most prompt + output - 1 tokens are ever stored (the last token is never written),
  // fewer under eviction; a prefill replica stores the prompt only.
  const std::int64_t need = role_ == ReplicaRole::kPrefill ? pages(method, spec.prompt_tokens) : max_pages_ever(r);
  if (need > kv_.capacity()) {
    reject(slot, now, "needs " + std::to_string(need) + " KV blocks at its longest but the cache holds " +
                          std::to_string(kv_.capacity()));
  }
}

void Replica::reject(std::int32_t slot, SimTime now, const std::string& reason) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (r.status == RequestStatus::kSwapped && r.remote_kv) {
    // A received request that can never fit here.
    const auto it = std::find(swapped_.begin(), swapped_.end(), slot);
    if (it == swapped_.end()) throw InvariantViolation("received request missing from the swapped queue");
    swapped_.erase(it);
  } else {
    if (r.status != RequestStatus::kWaiting) throw InvariantViolation("rejecting a request that is not waiting");
    pop_waiting(slot);
  }
  r.status = RequestStatus::kRejected;
  ++counters_.rejected;
  for (auto* s : sinks_) s->on_reject(r.spec, now, reason);
  free_slot(slot);
}

void Replica::receive(const Handoff& h, SimTime now) {
  ++counters_.received;
  const std::int32_t slot = alloc_slot();
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  const std::uint32_t epoch = r.epoch;  // slot bookkeeping is this replica's, not the sender's
  r = h.request;
  r.epoch = epoch;
  r.prev = r.next = -1;
  r.blocks = pages(r.method, r.resident_tokens);  // in this replica's pages
  r.remote_kv = true;
  r.status = RequestStatus::kSwapped;
  swapped_.push_back(slot);
  const std::int64_t need = max_pages_ever(r);
  // Bringing it in needs its pages (plus one if its next token opens a page) above the
  // watermark; a request that can never pass that would wait forever.
  const std::int64_t bring_in = r.blocks + (needs_page(r, r.resident_tokens) ? 1 : 0);
  if (need > kv_.capacity() || kv_.never_fits(bring_in)) {
    reject(slot, now, "received with its KV but needs " + std::to_string(std::max(need, bring_in)) +
                          " KV blocks and the cache holds " + std::to_string(kv_.capacity()) + " (watermark " +
                          std::to_string(kv_.watermark_blocks()) + ")");
  }
}

void Replica::hand_off(std::int32_t slot, SimTime now) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  handoffs_.push_back({r, r.blocks * capacity_.block_bytes});
  kv_.release(r.blocks);
  r.blocks = 0;
  unlink_running(slot);
  r.status = RequestStatus::kFinished;
  ++counters_.handed_off;
  (void)now;
  free_slot(slot);
}

void Replica::link_running(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  r.prev = run_tail_;
  r.next = -1;
  r.admit_seq = admit_seq_++;
  if (run_tail_ >= 0) slots_[static_cast<std::size_t>(run_tail_)].next = slot;
  else run_head_ = slot;
  run_tail_ = slot;
  r.status = RequestStatus::kRunning;
  ++running_;
}

void Replica::unlink_running(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (r.prev >= 0) slots_[static_cast<std::size_t>(r.prev)].next = r.next;
  else run_head_ = r.next;
  if (r.next >= 0) slots_[static_cast<std::size_t>(r.next)].prev = r.prev;
  else run_tail_ = r.prev;
  r.prev = r.next = -1;
  --running_;
}

void Replica::remove_prefilling(std::int32_t slot) {
  const auto it = std::find(prefilling_.begin(), prefilling_.end(), slot);
  if (it != prefilling_.end()) prefilling_.erase(it);
}

void Replica::preempt(std::int32_t slot, PreemptionMode mode, bool requeue_back, SimTime now) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (r.status != RequestStatus::kRunning) throw InvariantViolation("preempting a request that is not running");
  const bool was_decoding = r.decoding;
  if (was_decoding) leave_pool(slot);
  else remove_prefilling(slot);
  unlink_running(slot);
  r.preempted_at = now;
  // A request caught mid-prefill has no decode state worth swapping: it recomputes.
  if (mode == PreemptionMode::kSwap && was_decoding) {
    const std::int64_t bytes = r.blocks * capacity_.block_bytes;
    kv_.swap_out(r.blocks);
    step_swap_bytes_ += bytes;
    counters_.swapped_bytes += bytes;
    r.status = RequestStatus::kSwapped;
    swapped_.push_back(slot);
    ++r.preempt_swap;
    ++counters_.preempt_swap;
    for (auto* s : sinks_) s->on_preempt(r.spec.id, PreemptKind::kSwap, now, bytes);
    return;
  }
  // Asked to swap but recomputing (CPU pool full, or caught mid-prefill): a fallback.
  if (engine_.preemption_mode == PreemptionMode::kSwap) ++counters_.swap_fallbacks;
  kv_.release(r.blocks);
  r.blocks = 0;
  r.resident_tokens = 0;
  r.computed = 0;
  // Recompute re-prefills the prompt and every token generated so far.
  r.prefill_target = r.spec.prompt_tokens + r.generated;
  r.status = RequestStatus::kWaiting;
  // To waiting once this step's admissions are done: the back (SGLang) or the front (vLLM).
  if (requeue_back) requeue_back_.push_back(slot);
  else requeue_.push_back(slot);
  ++r.preempt_recompute;
  ++counters_.preempt_recompute;
  for (auto* s : sinks_) s->on_preempt(r.spec.id, PreemptKind::kRecompute, now, 0);
}

void Replica::finish(std::int32_t slot, SimTime now) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  if (r.decoding) leave_pool(slot);
  kv_.release(r.blocks);
  r.blocks = 0;
  unlink_running(slot);
  r.status = RequestStatus::kFinished;
  ++counters_.finished;
  counters_.output_tokens += r.generated;
  counters_.recomputed_tokens += r.recomputed_tokens;
  RequestRecord rec;
  rec.replica = index_;
  rec.spec = r.spec;
  rec.first_scheduled = r.first_scheduled;
  rec.first_token = r.first_token;
  rec.finish = now;
  rec.output_tokens = r.generated;
  rec.baseline_output_tokens = r.baseline_output;
  rec.method = r.method;
  rec.preempt_recompute = r.preempt_recompute;
  rec.preempt_swap = r.preempt_swap;
  rec.recomputed_tokens = r.recomputed_tokens;
  for (auto* s : sinks_) s->on_finish(rec);
  free_slot(slot);
}

void Replica::emit_first_or_resumed_token(RequestState& r, SimTime now) {
  if (r.first_token < 0) {
    r.first_token = now;
  } else {
    // The first token after a recompute: the whole gap since the previous token is one
    // inter-token interval as the client sees it.
    for (auto* s : sinks_) s->on_token_gap(now - r.last_token, 1);
  }
  r.last_token = now;
}

void Replica::join_pool(std::int32_t slot) {
  pool_.add(slot);
  recent_joiners_.push_back(slot);
}

void Replica::leave_pool(std::int32_t slot) {
  RequestState& r = slots_[static_cast<std::size_t>(slot)];
  const auto it = std::find(recent_joiners_.begin(), recent_joiners_.end(), slot);
  if (it != recent_joiners_.end()) recent_joiners_.erase(it);
  else r.last_token = last_decode_end_;  // its last token came from the last decode step
  pool_.remove(slot);
}

void Replica::record_decode_token_gaps(SimTime now) {
  const std::int64_t veterans = pool_.count() - static_cast<std::int64_t>(recent_joiners_.size());
  if (veterans > 0) {
    for (auto* s : sinks_) s->on_token_gap(now - last_decode_end_, static_cast<std::uint64_t>(veterans));
  }
  for (const std::int32_t slot : recent_joiners_) {
    const SimTime last = slots_[static_cast<std::size_t>(slot)].last_token;
    for (auto* s : sinks_) s->on_token_gap(now - last, 1);
  }
  recent_joiners_.clear();
  last_decode_end_ = now;
}


}  // namespace kvsim
