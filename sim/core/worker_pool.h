#pragma once
// Worker threads bounded by the cores this process may really use (issue #16 item 5): the CPU
// affinity mask (taskset, cpusets) and the cgroup CPU quota (containers, CI runners), not the
// machine's core count. A pool whose threads cannot all be created runs with the ones it got
// (the calling thread always works too), so a thread limit never aborts a sweep.
#include <functional>
#include <string>

namespace kvsim {

// Cores available to this process: min(affinity mask, ceil(cgroup quota / period)), >= 1.
int available_cores();

// `requested` bounded by available_cores(); `note` (if given) says when it was lowered.
int bounded_jobs(int requested, std::string* note = nullptr);

// Runs `worker` on `threads` threads (the calling thread is one of them) and joins them. Returns
// how many ran; fewer than asked when the system refused to create more (an std::system_error
// from std::thread). An exception escaping a worker is rethrown here after every thread joined.
int run_workers(int threads, const std::function<void()>& worker);

}  // namespace kvsim
