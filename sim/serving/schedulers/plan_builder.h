#pragma once
// Shared bookkeeping for schedulers that plan on a copy of the KV budget: free blocks after
// the plan's actions so far, and LIFO victim selection from the back of the running order.
#include <algorithm>

#include "sim/serving/scheduler.h"

namespace kvsim {

class PlanBuilder {
 public:
  PlanBuilder(const SchedulerView& view, BatchPlan& plan)
      : view_(view), plan_(plan), free_(view.kv().free()), cursor_(view.running_back()) {}

  std::int64_t free() const { return free_; }
  void take(std::int64_t blocks) { free_ -= blocks; }
  bool any_preempted() const { return !plan_.preempt.empty(); }
  bool is_victim(std::int32_t slot) const {
    return std::any_of(plan_.preempt.begin(), plan_.preempt.end(), [&](const Preemption& p) { return p.slot == slot; });
  }
  std::int32_t decode_victims() const { return decode_victims_; }

  // Preempts the most recently admitted running request (LIFO). Its blocks return to the
  // budget, and so does the block it would have needed for this step's decode (the caller
  // reserved it). Returns the victim, or -1 when nothing is left to preempt.
  std::int32_t preempt_next(PreemptionMode mode) {
    if (cursor_ < 0) return -1;
    const std::int32_t victim = cursor_;
    cursor_ = view_.running_prev(cursor_);
    preempt(victim, mode, /*requeue_back=*/false);
    return victim;
  }

  // Preempts `victim` (a running request the caller chose; not already a victim). Its blocks,
  // and the block its next decode would have needed, return to the budget.
  void preempt(std::int32_t victim, PreemptionMode mode, bool requeue_back) {
    // Swap needs room in the CPU pool; otherwise fall back to recompute (vLLM V0 would
    // abort the engine; kvsim keeps the run going and counts it as a recompute).
    if (mode == PreemptionMode::kSwap) {
      swap_blocks_ += view_.blocks_held(victim);
      if (swap_blocks_ > view_.kv().cpu_free()) {
        swap_blocks_ -= view_.blocks_held(victim);
        mode = PreemptionMode::kRecompute;
      }
    }
    plan_.preempt.push_back({victim, mode, requeue_back});
    free_ += view_.blocks_held(victim);
    if (view_.is_decoding(victim)) {
      ++decode_victims_;
      if (view_.needs_block_next_decode(victim)) free_ += 1;
    }
  }

  // Reserves one block per decoding request that crosses a block boundary, preempting from
  // the back until it fits. Returns how many decoding requests survive.
  std::int32_t reserve_decodes(PreemptionMode mode) {
    free_ -= view_.decode_blocks_needed();
    while (free_ < 0) {
      if (preempt_next(mode) < 0) break;
    }
    return view_.decoding_count() - decode_victims_;
  }

 private:
  const SchedulerView& view_;
  BatchPlan& plan_;
  std::int64_t free_;
  std::int32_t cursor_;
  std::int32_t decode_victims_ = 0;
  std::int64_t swap_blocks_ = 0;
};

}  // namespace kvsim
