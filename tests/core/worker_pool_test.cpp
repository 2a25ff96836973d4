// Worker threads bounded by the cores this process may use (issue #16 item 5).
#include "../support/scratch.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sched.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sim/core/worker_pool.h"

namespace kvsim {
namespace {

namespace fs = std::filesystem;

TEST(WorkerPool, AvailableCoresFollowTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int cores = available_cores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, CPU_COUNT(&set));
  std::string note;
  EXPECT_EQ(bounded_jobs(1, &note), 1);
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(bounded_jobs(cores + 7, &note), cores);
  EXPECT_EQ(note, "--jobs " + std::to_string(cores + 7) + " lowered to " + std::to_string(cores) +
                      ", the cores this process may use (CPU affinity and cgroup quota)");
}

TEST(WorkerPool, RunsEveryThreadAndRethrowsAWorkersException) {
  std::atomic<int> ran{0};
  EXPECT_EQ(run_workers(3, [&] { ++ran; }), 3);
  EXPECT_EQ(ran.load(), 3);
  std::atomic<int> calls{0};
  try {
    run_workers(4, [&] {
      if (++calls == 2) throw std::runtime_error("worker failed");
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "worker failed");
  }
  EXPECT_EQ(calls.load(), 4);  // every thread ran and was joined before the rethrow
}

// The one parallel runner of sweep, plan and validate: every index exactly once, failures kept at
// their index (not stopping the others), the lowest-index failure rethrown, for any thread count.
TEST(ParallelFor, RunsEveryIndexOnceAndKeepsFailuresByIndex) {
  for (const int threads : {1, 2, 3, 8}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    constexpr std::size_t kN = 200;
    std::vector<std::atomic<int>> hits(kN);
    const ParallelOutcome out = parallel_for(kN, threads, [&](std::size_t i) {
      ++hits[i];
      if (i % 37 == 5) throw std::runtime_error("task " + std::to_string(i));
    });
    EXPECT_GE(out.threads, 1);
    ASSERT_EQ(out.errors.size(), kN);
    for (std::size_t i = 0; i < kN; ++i) {
      EXPECT_EQ(hits[i].load(), 1) << i;
      EXPECT_EQ(out.errors[i] != nullptr, i % 37 == 5) << i;
    }
    try {
      out.rethrow_first();
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "task 5");
    }
  }
  const ParallelOutcome none = parallel_for(0, 4, [](std::size_t) { throw std::logic_error("never called"); });
  EXPECT_TRUE(none.errors.empty());
  none.rethrow_first();  // nothing to rethrow
}

TEST(WorkerPool, SweepUnderTasksetRunsOnTheOneCoreItMayUse) {
  if (std::system("command -v taskset > /dev/null 2>&1") != 0) GTEST_SKIP() << "taskset (util-linux) not found";
  const fs::path d = fs::path(testing::scratch()) / "taskset_sweep";
  fs::remove_all(d);
  fs::create_directories(d);
  std::ofstream(d / "grid.yaml") << "axes: {workload.num_requests: [5, 6]}\n";
  const std::string cmd = "taskset -c 0 " + std::string(KVSIM_BINARY) + " sweep --sweep " + (d / "grid.yaml").string() +
                          " --out " + (d / "out").string() + " -j 8 --no-progress > /dev/null 2> " + (d / "err.txt").string();
  ASSERT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 0);
  std::ifstream err(d / "err.txt");
  std::stringstream got;
  got << err.rdbuf();
  EXPECT_EQ(got.str(), "kvsim sweep: --jobs 8 lowered to 1, the cores this process may use (CPU affinity and cgroup quota)\n");
  std::ifstream m(d / "out" / "manifest.json");
  EXPECT_EQ(nlohmann::json::parse(m)["jobs"].get<int>(), 1);
  fs::remove_all(d);
}

}  // namespace
}  // namespace kvsim
