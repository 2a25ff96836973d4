// vLLM's schedulers (docs/engines.md has the rules and their sources).
//   vllm-v0, chunked_prefill off: prefill-first iterations (decodes skipped when any prefill
//     is scheduled); no new prefills while anything is swapped; FCFS admission under the
//     token budget, max_num_seqs and the block watermark; decodes preempt the most recently
//     admitted request (LIFO) by recompute or swap; swap-in only if nothing was preempted.
//   vllm-v0 chunked / vllm-v1: running requests first (decodes, then continuing prefill
//     chunks), then (V0) swapped if nothing was preempted, then new prefills chunked to the
//     remaining token budget (V0: always; V1: only if nothing was preempted this step);
//     V1 has no watermark and no swap.
// Simplifications (documented): decodes are planned before continuing prefill chunks
// regardless of their position in the running list; prefix caching is off.
#include "sim/serving/schedulers/plan_builder.h"

namespace kvsim {

namespace {

class VllmScheduler final : public Scheduler {
 public:
  explicit VllmScheduler(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }

  void plan_step(const SchedulerView& v, SchedulerMemory* /*memory*/, BatchPlan& plan) const override {
    if (v.engine().chunked_prefill) plan_chunked(v, plan);
    else plan_prefill_first(v, plan);
  }

 private:
  static bool admissible(const SchedulerView& v, const PlanBuilder& b, std::int64_t need) {
    const std::int64_t wm = v.kv().watermark_blocks();
    return b.free() - need >= wm;
  }

  // Admits waiting requests FCFS. `chunk` lets the last one take only the budget left.
  static void admit_waiting(const SchedulerView& v, BatchPlan& plan, PlanBuilder& b, std::int64_t& budget,
                            std::int32_t& seqs, bool chunk) {
    const EngineConfig& e = v.engine();
    for (const std::int32_t w : v.waiting()) {
      if (seqs >= e.max_num_seqs || budget <= 0) break;
      const std::int32_t remaining = v.prefill_remaining(w);
      // Tokens a prefix-cache hit left in the KV (0 without one): their blocks are taken with the
      // first chunk's.
      const std::int32_t cached = v.prefill_computed(w);
      // vLLM: FINISHED_IGNORED for a sequence that can never fit, and (without chunking)
      // for one longer than the prompt limit min(max_model_len, max_num_batched_tokens).
      if (v.kv().never_fits(v.pages_for(w, cached + remaining)) || (!chunk && remaining > e.max_num_batched_tokens)) {
        plan.reject.push_back(w);
        continue;
      }
      const std::int32_t tokens = chunk ? static_cast<std::int32_t>(std::min<std::int64_t>(remaining, budget)) : remaining;
      if (tokens > budget) break;
      const std::int64_t need = v.pages_for(w, cached + tokens);
      if (!admissible(v, b, need)) break;  // LATER
      plan.prefills.push_back({w, tokens});
      b.take(need);
      budget -= tokens;
      ++seqs;
    }
  }

  static void swap_in(const SchedulerView& v, BatchPlan& plan, PlanBuilder& b, std::int64_t& budget,
                      std::int32_t& seqs) {
    for (const std::int32_t s : v.swapped()) {
      if (seqs >= v.engine().max_num_seqs || budget <= 0) break;
      const std::int64_t need = v.blocks_held(s) + (v.needs_block_next_decode(s) ? 1 : 0);
      if (!admissible(v, b, need)) break;
      plan.swap_in.push_back(s);
      b.take(need);
      --budget;
      ++seqs;
    }
  }

  void plan_prefill_first(const SchedulerView& v, BatchPlan& plan) const {
    const EngineConfig& e = v.engine();
    PlanBuilder b(v, plan);
    std::int64_t budget = e.max_num_batched_tokens;
    std::int32_t seqs = v.running_count();
    if (v.swapped().empty()) {
      admit_waiting(v, plan, b, budget, seqs, /*chunk=*/false);
      if (!plan.prefills.empty()) return;  // prefill-only iteration
    }
    const std::int32_t decodes = b.reserve_decodes(e.preemption_mode);
    budget -= decodes;
    if (!b.any_preempted()) swap_in(v, plan, b, budget, seqs);
    plan.run_decodes = decodes > 0 || !plan.swap_in.empty();
  }

  void plan_chunked(const SchedulerView& v, BatchPlan& plan) const {
    const EngineConfig& e = v.engine();
    PlanBuilder b(v, plan);
    std::int64_t budget = e.max_num_batched_tokens;
    const std::int32_t decodes = b.reserve_decodes(e.preemption_mode);
    budget -= decodes;
    for (const std::int32_t p : v.prefilling()) {
      if (budget <= 0) break;
      if (b.is_victim(p)) continue;
      const std::int32_t tokens = static_cast<std::int32_t>(std::min<std::int64_t>(v.prefill_remaining(p), budget));
      const std::int64_t need = v.pages_for(p, v.prefill_computed(p) + tokens) - v.blocks_held(p);
      bool self_preempted = false;
      while (b.free() < need) {
        const std::int32_t victim = b.preempt_next(e.preemption_mode);
        if (victim < 0 || victim == p) {
          self_preempted = true;
          break;
        }
      }
      if (self_preempted || b.is_victim(p)) break;  // "stop scheduling" (vLLM V1)
      plan.prefills.push_back({p, tokens});
      b.take(need);
      budget -= tokens;
    }
    std::int32_t seqs = v.running_count();
    if (e.scheduler == "vllm-v1") {
      // V1 schedules WAITING only if nothing was preempted this step. V1 never swaps; its
      // swapped queue holds only requests whose KV arrived from a prefill replica
      // (disaggregated serving), which go first, as KV-connector requests do.
      if (!b.any_preempted()) {
        swap_in(v, plan, b, budget, seqs);
        admit_waiting(v, plan, b, budget, seqs, /*chunk=*/true);
      }
    } else {
      // V0 _schedule_chunked_prefill: swapped only if nothing was preempted; new prefills
      // always, within what is left of the budget.
      if (!b.any_preempted()) swap_in(v, plan, b, budget, seqs);
      admit_waiting(v, plan, b, budget, seqs, /*chunk=*/true);
    }
    plan.run_decodes = decodes > 0 || !plan.swap_in.empty();
  }

  std::string name_;
};

}  // namespace

std::unique_ptr<Scheduler> make_vllm_scheduler(const std::string& name) {
  return std::make_unique<VllmScheduler>(name);
}

}  // namespace kvsim
