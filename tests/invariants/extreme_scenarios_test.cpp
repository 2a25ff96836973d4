// Issue #16 item 10: random valid-but-extreme scenarios (overload, tiny KV pools, swap into a
// tiny host pool, 1-token prompts and outputs, max_num_seqs 1, KV links of kB/s, every engine
// and several compression methods) run through kvsim, and their outputs are checked against
// physical laws that hold for any correct simulator, not against kvsim's own numbers:
//   * conservation: finished + rejected + unfinished = arrived = the requests asked for;
//   * causality per request: arrival <= first scheduled <= first token <= finish;
//   * a latency floor: no engine step is shorter than reading the weights a decode step
//     multiplies by (every weight but the embedding table) from HBM at the datasheet bandwidth,
//     so TTFT >= one such step and E2E >= one per generated token;
//   * throughput <= arrival rate (finished / run time <= arrived / arrival window);
//   * capacities: KV blocks used <= blocks available and the running batch <= max_num_seqs at
//     every step and sample; busy fraction <= 1.
// The scenario generator is seeded; a failure names the seed and prints the scenario.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>

#include "../support/run_helpers.h"

namespace kvsim {
namespace {

template <class T>
const T& pick(std::mt19937_64& g, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(g)];
}

// One random scenario: every axis drawn independently, biased toward its extreme.
std::string extreme_scenario(std::uint64_t seed) {
  std::mt19937_64 g(seed);
  auto coin = [&](double p) { return std::bernoulli_distribution(p)(g); };
  const std::string engine = pick<std::string>(g, {"vllm-v1", "vllm-v0", "sglang", "lmdeploy-pytorch", "static", "hf-cb"});
  std::ostringstream y;
  y << "model: llama-3-8b\n";
  const int n = pick<int>(g, {1, 2, 5, 20, 60});
  const std::string arrival = pick<std::string>(g, {"{kind: all-at-once}", "{kind: poisson, rate_per_s: 1000}",
                                                    "{kind: poisson, rate_per_s: 2}", "{kind: gamma, rate_per_s: 50, cv: 4}",
                                                    "{kind: constant, rate_per_s: 0.01}"});
  const std::string prompt = pick<std::string>(g, {"{kind: fixed, value: 1}", "{kind: uniform, min: 1, max: 4000}",
                                                   "{kind: zipf, s: 1.1, min: 1, max: 8000}", "{kind: fixed, value: 8000}"});
  const std::string output = pick<std::string>(g, {"{kind: fixed, value: 1}", "{kind: uniform, min: 1, max: 300}",
                                                   "{kind: fixed, value: 191}"});
  y << "workload: {num_requests: " << n << ", arrival: " << arrival << ", prompt_tokens: " << prompt
    << ", output_tokens: " << output << "}\n";
  y << "engine: {preset: " << engine;
  if (coin(0.5)) y << ", num_gpu_blocks: " << pick<int>(g, {1, 2, 8, 64, 600});
  if (coin(0.3)) y << ", max_num_seqs: 1";
  if (engine == "vllm-v0" && coin(0.5)) y << ", preemption_mode: swap, swap_space_gib: " << pick<std::string>(g, {"0", "0.001", "0.05"});
  y << "}\n";
  // HF's paged cache and generate() take no compressed KV (their engine profiles say so).
  if (engine != "hf-cb" && engine != "static") {
    y << "compression: " << pick<std::string>(g, {"fp16", "kivi-2", "int4", "h2o", "streamingllm", "\"ratio:8\"", "snapkv"}) << "\n";
  }
  if (engine == "vllm-v1" && coin(0.3)) {
    // Disaggregated serving over a KV link of 1 kB/s to 1 GB/s.
    y << "cluster: {replicas: [{count: 1, role: prefill}, {count: " << pick<int>(g, {1, 2})
      << ", role: decode}], kv_transfer: {link_gbps: " << pick<std::string>(g, {"1e-6", "1e-3", "1"}) << "}}\n";
  } else if (coin(0.2)) {
    y << "cluster: {replicas: [{count: 3}], router: " << pick<std::string>(g, {"round_robin", "least_kv", "compression_aware"}) << "}\n";
  }
  y << "run: {deep_check_every: 1, sample_interval_s: " << pick<std::string>(g, {"0", "0.001", "1"}) << "}\n";
  return y.str();
}

// Records what the laws need, per request and per step.
struct LawSink : MetricsSink {
  std::vector<RequestRecord> finished;
  std::int64_t rejected = 0, arrived = 0, max_batch = 0;
  Duration shortest_step = kTimeInfinity;
  bool kv_over = false;
  void on_arrival(const RequestSpec&, SimTime) override { ++arrived; }
  void on_reject(const RequestSpec&, SimTime, const std::string&) override { ++rejected; }
  void on_finish(const RequestRecord& r) override { finished.push_back(r); }
  void on_step(const StepRecord& s) override {
    shortest_step = std::min(shortest_step, s.end - s.start);
    max_batch = std::max<std::int64_t>(max_batch, s.batch_requests);
    kv_over |= s.kv_used_blocks > s.kv_capacity_blocks;
  }
  void on_sample(const SampleRecord& s) override { kv_over |= s.kv_used_blocks > s.kv_capacity_blocks; }
};

// Seconds a step needs at least: the weights every step multiplies by, read once from HBM
// (the plausibility check lets a calibrated kernel beat its roofline by 5 %).
double weight_read_floor_s(const ReplicaGroup& g) {
  const ModelSpec& m = g.shard;
  const double embedding = m.tie_word_embeddings ? 0.0 : static_cast<double>(m.vocab_size) * m.hidden_size;
  const double bytes = (static_cast<double>(m.num_parameters) - embedding) * m.weight_bytes_per_param;
  return 0.95 * bytes / (g.gpu.hbm_bandwidth_gbps * 1e9);
}

TEST(ExtremeScenarios, PhysicalLawsHoldOnRandomExtremeInputs) {
  constexpr std::uint64_t kSeeds = 160;
  int rejected_runs = 0, overloaded = 0;
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const std::string yaml = extreme_scenario(seed);
    SCOPED_TRACE("seed " + std::to_string(seed) + ":\n" + yaml);
    Scenario s;
    try {
      s = testing::scenario(yaml);
    } catch (const InputError& e) {
      // The generator only draws documented values; a refusal is a finding, not a skip.
      ADD_FAILURE() << "refused at load: " << e.what();
      continue;
    }
    LawSink law;
    const auto o = testing::run(s, {&law});
    const auto& sum = o.report["summary"];
    const auto& req = sum["requests"];
    const std::int64_t n = s.workload->size_hint();
    // Conservation.
    EXPECT_EQ(req["arrived"].get<std::int64_t>(), n);
    EXPECT_EQ(law.arrived, n);
    EXPECT_EQ(req["finished"].get<std::int64_t>() + req["rejected"].get<std::int64_t>() + req["unfinished"].get<std::int64_t>(), n);
    EXPECT_EQ(req["unfinished"].get<std::int64_t>(), 0) << "no horizon: every request ends";
    EXPECT_EQ(static_cast<std::int64_t>(law.finished.size()), req["finished"].get<std::int64_t>());
    EXPECT_EQ(law.rejected, req["rejected"].get<std::int64_t>());
    rejected_runs += law.rejected > 0;
    // Causality and the latency floor, per request.
    double floor_s = 1e300;
    for (const auto& g : s.cluster.groups) floor_s = std::min(floor_s, weight_read_floor_s(g));
    for (const auto& r : law.finished) {
      ASSERT_LE(r.spec.arrival, r.first_scheduled) << "request " << r.spec.id;
      ASSERT_LE(r.first_scheduled, r.first_token) << "request " << r.spec.id;
      ASSERT_LE(r.first_token, r.finish) << "request " << r.spec.id;
      ASSERT_GE(r.output_tokens, 1) << "request " << r.spec.id;
      ASSERT_GE(to_seconds(r.first_token - r.spec.arrival), floor_s) << "request " << r.spec.id << ": TTFT below one weight read";
      ASSERT_GE(to_seconds(r.finish - r.spec.arrival), floor_s * r.output_tokens)
          << "request " << r.spec.id << ": E2E below one weight read per token (" << r.output_tokens << " tokens)";
    }
    if (law.shortest_step != kTimeInfinity) {
      EXPECT_GE(to_seconds(law.shortest_step), floor_s);
    }
    // Throughput never exceeds the arrival rate.
    const double window = sum["arrival_window_s"].get<double>(), simulated = sum["simulated_s"].get<double>();
    if (window > 0 && simulated > 0) {
      EXPECT_LE(req["finished"].get<double>() / simulated, static_cast<double>(n) / window * (1 + 1e-9));
    }
    overloaded += simulated > 2 * window && window > 0;
    // Capacities.
    EXPECT_FALSE(law.kv_over) << "KV blocks used beyond capacity";
    int max_seqs = 0;
    for (const auto& g : s.cluster.groups) max_seqs = std::max(max_seqs, g.engine.max_num_seqs);
    EXPECT_LE(law.max_batch, max_seqs);
    EXPECT_LE(sum["busy_fraction"].get<double>(), 1.0 + 1e-9);
    EXPECT_LE(sum["kv_utilization"]["max"].get<double>(), 1.0 + 1e-9);
  }
  std::printf("extreme scenarios: %d runs with rejections, %d overloaded\n", rejected_runs, overloaded);
  // The generator reaches the regimes it is for (else the laws were checked on easy inputs).
  EXPECT_GT(rejected_runs, 5);
  EXPECT_GT(overloaded, 5);
}

}  // namespace
}  // namespace kvsim
