#include "sim/core/worker_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace kvsim {
namespace {

// cgroup v2 `cpu.max` ("max 100000" or "200000 100000") or v1 cfs quota/period; 0 = no limit.
int cgroup_cpu_limit() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    if (quota == "max" || period <= 0) return 0;
    return std::max(1, static_cast<int>(std::ceil(std::stod(quota) / period)));
  }
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = 0, p = 0;
  if (q1 >> q && p1 >> p && q > 0 && p > 0) return std::max(1, static_cast<int>(std::ceil(q / p)));
  return 0;
}

}  // namespace

int available_cores() {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  try {
    if (const int limit = cgroup_cpu_limit(); limit > 0) cores = std::min(cores, limit);
  } catch (const std::exception&) {
    // An unreadable quota is no limit.
  }
  return cores;
}

int bounded_jobs(int requested, std::string* note) {
  const int cores = available_cores();
  if (requested <= cores) return requested;
  if (note) {
    *note = "--jobs " + std::to_string(requested) + " lowered to " + std::to_string(cores) +
            ", the cores this process may use (CPU affinity and cgroup quota)";
  }
  return cores;
}

int run_workers(int threads, const std::function<void()>& worker) {
  std::exception_ptr first;
  std::mutex mu;
  auto guarded = [&] {
    try {
      worker();
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mu);
      if (!first) first = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(guarded);
    } catch (const std::system_error&) {
      break;  // the system's thread limit: work with the threads already running
    }
  }
  guarded();
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
  return static_cast<int>(pool.size()) + 1;
}

ParallelOutcome parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& task) {
  ParallelOutcome out;
  out.errors.assign(n, nullptr);
  std::atomic<std::size_t> next{0};
  out.threads = run_workers(bounded_jobs(std::max(1, threads)), [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        task(i);
      } catch (...) {
        out.errors[i] = std::current_exception();  // each index is written by one thread only
      }
    }
  });
  return out;
}

void ParallelOutcome::rethrow_first() const {
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace kvsim
