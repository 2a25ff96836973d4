// Explicit wiring of the built-in schedulers: a test constructs every name listed here, so
// a scheduler that is not wired fails in CI rather than at a user's first run.
#include "sim/core/error.h"
#include "sim/serving/scheduler.h"

namespace kvsim {

std::unique_ptr<Scheduler> make_vllm_scheduler(const std::string& name);
std::unique_ptr<Scheduler> make_lmdeploy_scheduler();
std::unique_ptr<Scheduler> make_static_scheduler();
std::unique_ptr<Scheduler> make_sglang_scheduler();

std::vector<std::string> scheduler_names() { return {"lmdeploy-pytorch", "sglang", "static", "vllm-v0", "vllm-v1"}; }

std::unique_ptr<Scheduler> make_scheduler(const std::string& name) {
  if (name == "vllm-v0" || name == "vllm-v1") return make_vllm_scheduler(name);
  if (name == "lmdeploy-pytorch") return make_lmdeploy_scheduler();
  if (name == "static") return make_static_scheduler();
  if (name == "sglang") return make_sglang_scheduler();
  throw InputError("unknown scheduler '" + name + "'" + did_you_mean(name, scheduler_names()) +
                   "; valid: " + join(scheduler_names(), ", "));
}

}  // namespace kvsim
