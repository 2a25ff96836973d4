#pragma once
// Worker threads bounded by the cores this process may really use (issue #16 item 5): the CPU
// affinity mask (taskset, cpusets) and the cgroup CPU quota (containers, CI runners), not the
// machine's core count. A pool whose threads cannot all be created runs with the ones it got
// (the calling thread always works too), so a thread limit never aborts a sweep.
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace kvsim {

// Cores available to this process: min(affinity mask, ceil(cgroup quota / period)), >= 1.
int available_cores();

// `requested` bounded by available_cores(); `note` (if given) says when it was lowered.
int bounded_jobs(int requested, std::string* note = nullptr);

// Runs `worker` on `threads` threads (the calling thread is one of them) and joins them. Returns
// how many ran; fewer than asked when the system refused to create more (an std::system_error
// from std::thread). An exception escaping a worker is rethrown here after every thread joined.
int run_workers(int threads, const std::function<void()>& worker);

// kvsim's one parallel runner (sweep, plan and validate): task(i) for every i in [0, n), each
// exactly once, on up to `threads` threads (bounded_jobs applies), tasks taken in index order.
// A task's exception does not stop the others; it is kept at its index, for the caller to report
// (a sweep lists failed points) or rethrow (plan, validate: the first by index, so the outcome
// never depends on thread timing).
struct ParallelOutcome {
  int threads = 1;                            // threads that ran
  std::vector<std::exception_ptr> errors;     // per index; null where the task succeeded
  // Rethrows the lowest-index failure, if any.
  void rethrow_first() const;
};
ParallelOutcome parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& task);

}  // namespace kvsim
