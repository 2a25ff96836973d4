// The one registry pattern (issue #17 item 3): named entries, capabilities, one unknown-name message.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sim/core/registry.h"
#include "sim/serving/router.h"
#include "sim/serving/scheduler.h"
#include "traces/length_distribution.h"
#include "traces/workload.h"

namespace kvsim {
namespace {

using IntRegistry = Registry<int(int)>;

TEST(Registry, FindsMakesAndAnswersCapabilities) {
  const IntRegistry r("widget", {{"double", "twice", {"even"}, [](int x) { return 2 * x; }},
                                 {"same", "unchanged", {}, [](int x) { return x; }}});
  EXPECT_EQ(r.names(), (std::vector<std::string>{"double", "same"}));
  EXPECT_EQ(r.make("double", 21), 42);
  EXPECT_TRUE(r.has("double", "even"));
  EXPECT_FALSE(r.has("same", "even"));
  EXPECT_EQ(r.find("nope"), nullptr);
  try {
    r.make("doubel", 1);
    ADD_FAILURE() << "no exception";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "unknown widget 'doubel' (did you mean 'double'?); valid: double, same");
  }
  EXPECT_THROW(r.has("nope", "even"), InputError);
}

TEST(Registry, DuplicateOrEmptyEntriesAreKvsimBugs) {
  EXPECT_THROW(IntRegistry("widget", {{"a", "", {}, [](int x) { return x; }}, {"a", "", {}, [](int x) { return x; }}}),
               InvariantViolation);
  EXPECT_THROW(IntRegistry("widget", {{"a", "", {}, nullptr}}), InvariantViolation);
}

// Every built-in entry of every kind is wired, summarized and constructs.
TEST(Registry, EveryBuiltInEntryConstructs) {
  for (const auto& e : scheduler_registry().entries()) {
    EXPECT_FALSE(e.summary.empty()) << e.name;
    EXPECT_EQ(make_scheduler(e.name)->name(), e.name);
  }
  for (const auto& e : router_registry().entries()) {
    EXPECT_FALSE(e.summary.empty()) << e.name;
    EXPECT_EQ(make_router(e.name)->name(), e.name);
  }
  for (const auto& e : arrival_registry().entries()) EXPECT_FALSE(e.summary.empty()) << e.name;
  for (const auto& e : length_registry().entries()) EXPECT_FALSE(e.summary.empty()) << e.name;
  // The capabilities the engine and cluster checks ask for.
  EXPECT_TRUE(scheduler_registry().has("vllm-v0", kSwapPreemption));
  EXPECT_FALSE(scheduler_registry().has("vllm-v1", kSwapPreemption));
  EXPECT_TRUE(scheduler_registry().has("vllm-v1", kAlwaysChunksPrefill));
  EXPECT_FALSE(scheduler_registry().has("sglang", kKvHandover));
}

}  // namespace
}  // namespace kvsim
