// Static batching (HF transformers generate): a batch of up to max_num_seqs waiting
// requests is formed only when nothing runs; all prompts are prefilled in one padded
// forward; the batch decodes until its longest request finishes, finished rows still
// computing (padding). A batch is admitted only if the whole prompt + output of every
// member fits in the free blocks, so its growth never needs a preemption.
#include "sim/serving/schedulers/plan_builder.h"

namespace kvsim {

namespace {

// Rows of the batch being decoded: the requests admitted together (finished rows still compute).
struct StaticMemory final : SchedulerMemory {
  std::int32_t batch_rows = 0;
};

class StaticScheduler final : public Scheduler {
 public:
  std::string name() const override { return "static"; }
  std::unique_ptr<SchedulerMemory> new_memory() const override { return std::make_unique<StaticMemory>(); }

  void plan_step(const SchedulerView& v, SchedulerMemory* memory, BatchPlan& plan) const override {
    auto& m = *static_cast<StaticMemory*>(memory);
    if (v.running_count() > 0) {
      plan.run_decodes = v.decoding_count() > 0;
      plan.padded_decode_rows = m.batch_rows;
      return;
    }
    std::int64_t reserved = 0;
    for (const std::int32_t w : v.waiting()) {
      if (static_cast<std::int32_t>(plan.prefills.size()) >= v.engine().max_num_seqs) break;
      const std::int64_t need = v.max_pages_ever(w);
      if (need > v.kv().capacity()) {
        plan.reject.push_back(w);
        continue;
      }
      if (reserved + need > v.kv().free()) break;
      reserved += need;
      plan.prefills.push_back({w, v.prefill_remaining(w)});
    }
    plan.pad_to_longest = true;
    m.batch_rows = static_cast<std::int32_t>(plan.prefills.size());
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_static_scheduler() { return std::make_unique<StaticScheduler>(); }

}  // namespace kvsim
