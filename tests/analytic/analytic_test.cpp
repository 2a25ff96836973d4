// Closed-form checks: the simulation against what the cost model implies by hand.
#include <gtest/gtest.h>

#include <fstream>

#include "../support/run_helpers.h"
#include "../support/scratch.h"

namespace kvsim {
namespace {

StepCost cost_of(const Scenario& s, const BatchShape& shape) { return make_cost_model(s)->step_cost(shape); }

TEST(Analytic, LoneRequestTtftIsOnePrefillStep) {
  const Scenario s = testing::scenario(
      "workload: {num_requests: 1, arrival: {kind: all-at-once}, prompt_tokens: {kind: fixed, value: 1000}, output_tokens: {kind: fixed, value: 1}}");
  BatchShape shape;
  shape.prefills.push_back({1000, 0, true, 0});
  const double want = to_seconds(cost_of(s, shape).total_ns);
  const auto o = testing::run(s);
  EXPECT_DOUBLE_EQ(o.report["summary"]["latency_s"]["ttft"]["max"].get<double>(), want);
}

TEST(Analytic, FixedBatchDecodeTimeIsTheSumOfItsSteps) {
  // B requests arrive together, prefill in one step, then decode O-1 steps over growing
  // contexts: E2E of every request = prefill + sum of decode steps.
  const int B = 8, P = 256, O = 64;
  const Scenario s = testing::scenario("workload: {num_requests: 8, arrival: {kind: all-at-once},"
                                       " prompt_tokens: {kind: fixed, value: 256}, output_tokens: {kind: fixed, value: 64}}");
  BatchShape prefill;
  for (int i = 0; i < B; ++i) prefill.prefills.push_back({P, 0, true, 0});
  Duration total = cost_of(s, prefill).total_ns;
  for (int k = 1; k < O; ++k) {
    BatchShape d;
    d.decode = {BatchShape::uniform_decode(B, P + k)};
    total += cost_of(s, d).total_ns;
  }
  const auto o = testing::run(s);
  EXPECT_DOUBLE_EQ(o.report["summary"]["latency_s"]["e2e"]["max"].get<double>(), to_seconds(total));
  EXPECT_EQ(o.report["summary"]["steps"].get<std::int64_t>(), O);
}

// A prefix-cache hit (trace column cached_prompt_tokens): the prefill computes only the uncached
// tail, over the cached tokens as context, and decoding is unchanged (the KV holds the whole
// prompt). HF CB's rate runs hit every full block this way (experiments/validation/make_measured.py).
TEST(Analytic, PrefixCacheHitPrefillsOnlyTheUncachedTail) {
  const int P = 1000, C = 768, O = 4;
  const auto trace = [&](int cached) {
    const std::string path = testing::scratch() + "prefix_" + std::to_string(cached) + ".csv";
    std::ofstream(path) << "arrival_s,prompt_tokens,output_tokens,cached_prompt_tokens\n0," << P << "," << O << ","
                        << cached << "\n";
    return testing::scenario("workload: {trace: " + path + "}");
  };
  const Scenario hit = trace(C), miss = trace(0);
  BatchShape tail, whole;
  tail.prefills.push_back({P - C, C, true, 0});
  whole.prefills.push_back({P, 0, true, 0});
  Duration decodes = 0;
  for (int k = 1; k < O; ++k) {
    BatchShape d;
    d.decode = {BatchShape::uniform_decode(1, P + k)};
    decodes += cost_of(hit, d).total_ns;
  }
  const auto h = testing::run(hit), m = testing::run(miss);
  EXPECT_DOUBLE_EQ(h.report["summary"]["latency_s"]["ttft"]["max"].get<double>(), to_seconds(cost_of(hit, tail).total_ns));
  EXPECT_DOUBLE_EQ(m.report["summary"]["latency_s"]["ttft"]["max"].get<double>(), to_seconds(cost_of(miss, whole).total_ns));
  EXPECT_DOUBLE_EQ(h.report["summary"]["latency_s"]["e2e"]["max"].get<double>(),
                   to_seconds(cost_of(hit, tail).total_ns + decodes));
  EXPECT_LT(cost_of(hit, tail).total_ns, cost_of(miss, whole).total_ns);
  // The cached tokens still take their KV blocks.
  EXPECT_EQ(h.report["summary"]["kv_utilization"]["max"], m.report["summary"]["kv_utilization"]["max"]);
}

TEST(Analytic, LittlesLawHoldsOnTheSimulatedSystem) {
  // Over a run that starts and ends empty, time-average number in system = arrival rate x
  // mean time in system, exactly (both are the integral of N(t)).
  const auto o = testing::run("workload: {num_requests: 3000, arrival: {kind: poisson, rate_per_s: 30}}");
  const double T = o.report["summary"]["simulated_s"].get<double>();
  const double n = o.report["summary"]["requests"]["finished"].get<double>();
  const double L = o.mean_in_system;
  const double lambda_w = (n / T) * (o.e2e_sum_s / n);
  EXPECT_NEAR(L, lambda_w, 1e-6 * L);
  EXPECT_GT(L, 1.0);
}

TEST(Analytic, ThroughputSaturatesAtTheCostModelsBatchLimit) {
  // Offline load with max_num_seqs = 64, fixed lengths: output rate cannot exceed
  // 64 tokens per decode step at the largest context, and the engine should get close.
  const Scenario s = testing::scenario(
      "engine: {preset: vllm-v1, max_num_seqs: 64}\n"
      "workload: {num_requests: 640, arrival: {kind: all-at-once},"
      " prompt_tokens: {kind: fixed, value: 128}, output_tokens: {kind: fixed, value: 256}}");
  BatchShape fastest, slowest;
  fastest.decode = {BatchShape::uniform_decode(64, 129)};
  slowest.decode = {BatchShape::uniform_decode(64, 384)};
  const double upper = 64.0 / to_seconds(cost_of(s, fastest).total_ns);
  const double lower = 64.0 / to_seconds(cost_of(s, slowest).total_ns);
  const auto o = testing::run(s);
  const double tput = o.report["summary"]["throughput"]["output_tokens_per_s"].get<double>();
  EXPECT_LT(tput, upper);
  EXPECT_GT(tput, 0.8 * lower);  // prefills and ramp-down cost the rest
  const auto more = testing::run(s, {});
  EXPECT_EQ(more.report["summary"]["batch_size"]["max"].get<double>(), 64);
}

TEST(Analytic, StaticBatchingPadsToTheLongestRequest) {
  // Two requests with outputs 2 and 50 in one static batch: both rows compute until the
  // longer finishes, so the short one's slot still costs decode time.
  const auto o = testing::run("engine: {preset: static, max_num_seqs: 2}\n"
                              "workload: {trace: " KVSIM_SOURCE_DIR "/traces/data/two_requests.csv}");
  EXPECT_EQ(o.report["summary"]["steps"].get<std::int64_t>(), 50);
  EXPECT_EQ(o.report["summary"]["batch_size"]["max"].get<double>(), 2);
}

}  // namespace
}  // namespace kvsim
