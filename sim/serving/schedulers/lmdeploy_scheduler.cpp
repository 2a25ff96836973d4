// LMDeploy PyTorch engine (v0.6; docs/engines.md). Prefill and decode are separate
// forwards. A prefill forward happens when requests wait and at least
// prefill_interval * running / max_batches decode iterations ran since the last one (or
// nothing runs). Admission is FCFS while running < max_batches and the prompts fit in
// max_prefill_token_num (the first is always allowed); running requests' blocks are never
// taken for admission. A decode that cannot get its blocks sends requests back to waiting
// (recompute).
// Simplifications (documented): decode self-preemption takes the most recently admitted
// requests first; per-sequence pre-allocation of prefill_interval tokens is not modelled.
#include "sim/serving/schedulers/plan_builder.h"

namespace kvsim {

namespace {

// Decode steps since the last step that prefilled (the prefill interval counts them).
struct LmdeployMemory final : SchedulerMemory {
  std::int64_t decode_steps_since_prefill = 0;
};

class LmdeployScheduler final : public Scheduler {
 public:
  std::string name() const override { return "lmdeploy-pytorch"; }
  std::unique_ptr<SchedulerMemory> new_memory() const override { return std::make_unique<LmdeployMemory>(); }

  void plan_step(const SchedulerView& v, SchedulerMemory* memory, BatchPlan& plan) const override {
    auto& m = *static_cast<LmdeployMemory*>(memory);
    decide(v, m, plan);
    // Every plan is applied and completes before the next is asked for, so counting here
    // counts completed steps.
    if (!plan.prefills.empty()) m.decode_steps_since_prefill = 0;
    if (plan.run_decodes) ++m.decode_steps_since_prefill;
  }

 private:
  static void decide(const SchedulerView& v, const LmdeployMemory& m, BatchPlan& plan) {
    const EngineConfig& e = v.engine();
    PlanBuilder b(v, plan);
    const std::int32_t running = v.running_count();
    const bool prefill_due =
        running == 0 || static_cast<double>(m.decode_steps_since_prefill) >=
                            static_cast<double>(e.prefill_interval) * running / e.max_num_seqs;
    if (!v.waiting().empty() && prefill_due) {
      std::int64_t tokens = 0;
      std::int32_t seqs = running;
      for (const std::int32_t w : v.waiting()) {
        if (seqs >= e.max_num_seqs) break;
        const std::int32_t n = v.prefill_remaining(w);
        const std::int32_t cached = v.prefill_computed(w);  // a prefix-cache hit's tokens
        if (v.kv().never_fits(v.pages_for(w, cached + n))) {
          plan.reject.push_back(w);
          continue;
        }
        if (!plan.prefills.empty() && tokens + n > e.max_num_batched_tokens) break;
        const std::int64_t need = v.pages_for(w, cached + n);
        if (need > b.free()) break;
        plan.prefills.push_back({w, n});
        b.take(need);
        tokens += n;
        ++seqs;
      }
      if (!plan.prefills.empty()) return;
    }
    plan.run_decodes = b.reserve_decodes(PreemptionMode::kRecompute) > 0;
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_lmdeploy_scheduler() { return std::make_unique<LmdeployScheduler>(); }

}  // namespace kvsim
