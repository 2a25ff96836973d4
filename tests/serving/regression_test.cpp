// Regressions found in review, each pinned by the behaviour that was wrong.
#include <gtest/gtest.h>

#include "../support/run_helpers.h"

namespace kvsim {
namespace {

TEST(Regression, LmdeployCapacityComparesWeightsWithMemoryNotWithWhatIsLeft) {
  // 24 GiB of weights on a 40 GiB GPU fits LMDeploy's formula (free after weights x 0.8).
  const Scenario s = testing::scenario("model: llama-2-13b\ngpu: a100-40gb\nengine: {preset: lmdeploy-pytorch}\n"
                                       "workload: {num_requests: 1, arrival: {kind: all-at-once}}");
  EXPECT_GT(s.capacity.num_gpu_blocks, 0);
}

TEST(Regression, VllmV0RejectsPromptsOverThePromptLimitInsteadOfHanging) {
  const auto o = testing::run("engine: {preset: vllm-v0, max_num_batched_tokens: 512, max_num_seqs: 8}\n"
                              "workload: {trace: " KVSIM_SOURCE_DIR "/traces/data/two_requests.csv}",
                              {"workload.trace=" KVSIM_SOURCE_DIR "/traces/data/prompt_limit.csv"});
  EXPECT_EQ(o.report["summary"]["requests"]["rejected"], 1);
  EXPECT_EQ(o.report["summary"]["requests"]["finished"], 1);
}

TEST(Regression, InterTokenLatencyIncludesStallsBehindPrefillSteps) {
  // vLLM V0 without chunking runs prefill-only steps; a decoding request waits through
  // them, so its inter-token gaps must be longer than a decode step, and the largest gap
  // at least as long as the mean time per output token of the slowest request.
  const auto o = testing::run("engine: {preset: vllm-v0}\n"
                              "workload: {num_requests: 400, arrival: {kind: poisson, rate_per_s: 40}}");
  const auto& l = o.report["summary"]["latency_s"];
  EXPECT_GE(l["itl"]["max"].get<double>(), l["tpot"]["max"].get<double>());
  EXPECT_NEAR(l["itl"]["mean"].get<double>(), l["tpot"]["mean"].get<double>(), 0.25 * l["tpot"]["mean"].get<double>());
}

TEST(Regression, SwapFallbacksToRecomputeAreCounted) {
  const auto o = testing::run("engine: {preset: vllm-v0, num_gpu_blocks: 300, preemption_mode: swap, swap_space_gib: 0.01}\n"
                              "workload: {num_requests: 300, arrival: {kind: poisson, rate_per_s: 60}}");
  const auto& p = o.report["summary"]["preemptions"];
  EXPECT_GT(p["recompute"].get<std::int64_t>(), 0);
  EXPECT_EQ(p["swap_fallbacks_to_recompute"].get<std::int64_t>(), p["recompute"].get<std::int64_t>());
}

TEST(Regression, ResolvedDocumentRecordsTheEffectiveSeed) {
  const Scenario s = load_scenario_text("seed: 1\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}", "<t>", {},
                                        std::uint64_t{99}, testing::catalog());
  EXPECT_EQ(s.resolved["seed"].as<std::uint64_t>(), 99u);
}

TEST(Regression, RequestThatExactlyFillsTheCacheIsServed) {
  // 16 blocks of 16 tokens: prompt 200 + output 57 stores at most 256 tokens.
  const auto o = testing::run("engine: {num_gpu_blocks: 16}\n"
                              "workload: {num_requests: 1, arrival: {kind: all-at-once},"
                              " prompt_tokens: {kind: fixed, value: 200}, output_tokens: {kind: fixed, value: 57}}");
  EXPECT_EQ(o.report["summary"]["requests"]["finished"], 1);
}

}  // namespace
}  // namespace kvsim
