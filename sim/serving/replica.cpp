#include "sim/serving/replica.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "models/compression/kv_layout.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"

namespace kvsim {

// The scheduler's read-only window onto this replica.
class Replica::View final : public SchedulerView {
 public:
  explicit View(const Replica& r) : r_(r) {}
  const EngineConfig& engine() const override { return r_.engine_; }
  const KvCacheManager& kv() const override { return r_.kv_; }
  std::int32_t running_count() const override { return r_.running_; }
  std::int32_t decoding_count() const override { return r_.pool_.count(); }
  std::int64_t decode_blocks_needed() const override { return r_.pool_.blocks_needed_next_step(); }
  const std::vector<std::int32_t>& prefilling() const override { return r_.prefilling_; }
  const std::deque<std::int32_t>& waiting() const override { return r_.waiting_; }
  const std::deque<std::int32_t>& swapped() const override { return r_.swapped_; }
  std::int32_t running_back() const override { return r_.run_tail_; }
  std::int32_t running_prev(std::int32_t slot) const override { return at(slot).prev; }
  bool is_decoding(std::int32_t slot) const override { return at(slot).decoding; }
  std::int64_t blocks_held(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.decoding ? r_.pool_.blocks(s) : s.blocks;
  }
  bool needs_block_next_decode(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.decoding ? r_.pool_.needs_block_next_step(s) : r_.needs_page(s, s.resident_tokens);
  }
  std::int64_t pages_for(std::int32_t slot, std::int64_t tokens) const override {
    return r_.pages(at(slot).method, tokens);
  }
  std::int64_t max_pages_ever(std::int32_t slot) const override { return r_.max_pages_ever(at(slot)); }
  std::int32_t prefill_remaining(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.prefill_target - s.computed;
  }
  std::int32_t prefill_computed(std::int32_t slot) const override { return at(slot).computed; }
  std::int32_t generated(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.decoding ? r_.pool_.generated(s) : s.generated;
  }
  std::int32_t prompt_tokens(std::int32_t slot) const override { return at(slot).spec.prompt_tokens; }
  std::int32_t max_new_tokens(std::int32_t slot) const override {
    const RequestState& s = at(slot);
    return s.spec.max_tokens > 0 ? s.spec.max_tokens : s.target_output;
  }

 private:
  const RequestState& at(std::int32_t slot) const { return r_.slots_[static_cast<std::size_t>(slot)]; }
  const Replica& r_;
};

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
