// Explicit wiring of the built-in schedulers: a test constructs every name listed here, so
// a scheduler that is not wired fails in CI rather than at a user's first run.
#include "sim/core/error.h"
#include "sim/serving/scheduler.h"

namespace kvsim {

std::unique_ptr<Scheduler> make_vllm_scheduler(const std::string& name);
std::unique_ptr<Scheduler> make_lmdeploy_scheduler();
std::unique_ptr<Scheduler> make_static_scheduler();
std::unique_ptr<Scheduler> make_sglang_scheduler();

const SchedulerRegistry& scheduler_registry() {
  static const SchedulerRegistry registry(
      "scheduler",
      {{"lmdeploy-pytorch", "LMDeploy PyTorch engine: prefill when due (prefill_interval), never mixed with decodes",
        {}, [] { return make_lmdeploy_scheduler(); }},
       {"sglang", "SGLang: prefill first, new-token-ratio reservation, retract on decode OOM", {},
        [] { return make_sglang_scheduler(); }},
       {"static", "static batching: a new batch only when idle, padded to the longest request", {},
        [] { return make_static_scheduler(); }},
       {"vllm-v0", "vLLM V0: prefills first, then decodes; recompute or swap preemption",
        {kTokenBudgetCoversSeqs, kSwapPreemption, kKvHandover}, [] { return make_vllm_scheduler("vllm-v0"); }},
       {"vllm-v1", "vLLM V1: one token budget, decodes then chunked prefills",
        {kAlwaysChunksPrefill, kTokenBudgetCoversSeqs, kKvHandover}, [] { return make_vllm_scheduler("vllm-v1"); }}});
  return registry;
}

std::vector<std::string> scheduler_names() { return scheduler_registry().names(); }

std::unique_ptr<Scheduler> make_scheduler(const std::string& name) { return scheduler_registry().make(name); }

}  // namespace kvsim
