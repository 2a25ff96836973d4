// KV-cache compression: byte formulas, capacity, retention caps, length effect statistics,
// and the direction of change on a memory-bound workload.
#include "../support/scratch.h"
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "../support/run_helpers.h"
#include "models/compression/compression_registry.h"
#include "models/compression/kv_layout.h"
#include "models/compression/length_effect.h"

namespace kvsim {
namespace {

// Bytes per token per KV head (K + V, head_dim 128), derived by hand from each method's
// format (docs/compression.md has the derivations; fp16 = 4 x 128 = 512).
struct BytesCase {
  const char* method;
  double bytes_per_token_head;
  int residual_tokens;
};
const BytesCase kBytes[] = {
    {"fp16", 512, 0},
    {"fp8", 256, 0},                            // 1 byte per value
    {"int8", 2 * (128 + 4), 0},                 // codes + fp16 scale and zero per token-head
    {"int4", 2 * (64 + 4), 0},
    {"kivi-2", 2 * (32 + 128 * 4.0 / 32), 128}, // 2-bit codes + (scale, zero) per group of 32
    {"kivi-4", 2 * (64 + 128 * 4.0 / 32), 128},
    // 4-bit codes + groups of 64 + rank 2.56 (P row + Q over 64 tokens) + 2 % outliers (fp16 + int32)
    {"gear-4", 2 * (64 + 8 + 2 * 2.56 + 2 * 128 * 2.56 / 64 + 0.02 * 128 * 6), 64},
    {"gear-8", 2 * (128 + 8 + 2 * 2.56 + 2 * 128 * 2.56 / 64 + 0.02 * 128 * 6), 64},
    {"streamingllm", 512, 0},
    {"h2o", 512, 0},
    {"snapkv", 512, 0},
    {"pyramidkv", 512, 0},
    {"ratio:4", 128, 0},
    {"ratio:4:eviction", 512, 0},
};

// One registration line per built-in method: it builds the method of its own name, its summary is
// the method's description, and its capability is its family.
TEST(CompressionRegistry, EveryEntryBuildsTheMethodOfItsName) {
  for (const auto& e : compression_registry().entries()) {
    SCOPED_TRACE(e.name);
    const CompressionSpec s = e.make();
    EXPECT_EQ(s.name, e.name);
    EXPECT_EQ(e.summary, s.description);
    EXPECT_TRUE(compression_registry().has(e.name, s.family));
    EXPECT_EQ(builtin_compression(e.name).name, e.name);
  }
  EXPECT_TRUE(compression_registry().has("kivi-2", "quantization"));
  EXPECT_TRUE(compression_registry().has("h2o", "eviction"));
  EXPECT_EQ(builtin_compression("none").name, "fp16");
  EXPECT_EQ(builtin_compression("ratio:4").name.rfind("ratio:4", 0), 0u);
}

TEST(CompressionBytes, EveryBuiltinMatchesItsHandComputedFormat) {
  for (const auto& c : kBytes) {
    const CompressionSpec s = builtin_compression(c.method);
    EXPECT_NEAR(kv_bytes_per_token_head(s.format, 128), c.bytes_per_token_head, 1e-9) << c.method;
    EXPECT_EQ(s.format.residual_tokens, c.residual_tokens) << c.method;
  }
}

// Capacity of every built-in for an MHA and a GQA model: pages sized for the method
// (block_size 16 tokens, padded to 256 B), the fp16 residual pool for (max_num_seqs + 3)
// sequences taken out first.
struct ModelCase {
  const char* model;
  const char* gpu;
  int layers_x_kv_heads;
  std::int64_t fp16_bytes_per_token;
  int max_num_seqs;  // vLLM V1 default on that GPU
};
const ModelCase kModels[] = {
    {"llama-2-7b", "a100-80gb", 32 * 32, 524288, 256},  // MHA
    {"llama-3-8b", "h200", 32 * 8, 131072, 1024},       // GQA
};

TEST(CompressionCapacity, EveryBuiltinOnMhaAndGqaModels) {
  for (const auto& m : kModels) {
    const Scenario base = testing::scenario(std::string("model: ") + m.model + "\ngpu: " + m.gpu +
                                            "\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}");
    const std::int64_t pool = base.capacity.kv_pool_bytes;  // the same for every method
    for (const auto& c : kBytes) {
      const Scenario s = testing::scenario(std::string("model: ") + m.model + "\ngpu: " + m.gpu +
                                           "\ncompression: \"" + c.method +
                                           "\"\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}");
      const auto bpt = static_cast<std::int64_t>(std::ceil(c.bytes_per_token_head * m.layers_x_kv_heads - 1e-9));
      const std::int64_t page = (16 * bpt + 255) / 256 * 256;
      const std::int64_t residual = std::int64_t{c.residual_tokens} * m.fp16_bytes_per_token * (m.max_num_seqs + 3);
      ASSERT_EQ(s.capacity.kv_pool_bytes, pool) << c.method;
      EXPECT_EQ(s.capacity.bytes_per_token, bpt) << m.model << " " << c.method;
      EXPECT_EQ(s.capacity.block_bytes, page) << m.model << " " << c.method;
      EXPECT_EQ(s.capacity.residual_pool_bytes, residual) << m.model << " " << c.method;
      EXPECT_EQ(s.capacity.num_gpu_blocks, (pool - residual) / page) << m.model << " " << c.method;
      EXPECT_EQ(s.capacity.methods[0].tokens_per_page, page / bpt) << m.model << " " << c.method;
    }
  }
}

TEST(CompressionCapacity, Llama3_8bKivi2OnH200ByHand) {
  // 96 B/token-head x 32 layers x 8 heads = 24576 B/token; pages of 16 tokens = 393216 B.
  // Residual pool: 128 tokens x 131072 B x (1024 + 3) sequences = 17230200832 B.
  const Scenario s = testing::scenario("compression: kivi-2\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}");
  EXPECT_EQ(s.capacity.bytes_per_token, 24576);
  EXPECT_EQ(s.capacity.residual_pool_bytes, 17230200832LL);
  EXPECT_EQ(s.capacity.num_gpu_blocks, (116521322086LL - 17230200832LL) / 393216);
  EXPECT_EQ(s.capacity.tokens(), s.capacity.num_gpu_blocks * 16);
}

// Records the largest block count seen at any step end.
class MaxBlocks final : public MetricsSink {
 public:
  void on_step(const StepRecord& s) override { max = std::max(max, s.kv_used_blocks); }
  std::int64_t max = 0;
};

TEST(Retention, EveryStepEvictionCapsResidentTokensOverLongGenerations) {
  // One request: prompt 100, 3000 output tokens, a 512-token window evicted every step.
  const Scenario s = testing::scenario(
      "compression: {method: {method: streamingllm, evict_every_step: true}, length_effect: false}\n"
      "workload: {num_requests: 1, arrival: {kind: all-at-once}, prompt_tokens: {kind: fixed, value: 100},"
      " output_tokens: {kind: fixed, value: 3000}}\nrun: {deep_check_every: 1}");
  MaxBlocks sink;
  const auto o = testing::run(s, {&sink});
  EXPECT_EQ(o.report["summary"]["requests"]["finished"], 1);
  EXPECT_EQ(sink.max, 512 / 16);  // never more than the window's pages
  EXPECT_GT(o.report["summary"]["compression"]["achieved_ratio"].get<double>(), 3.0);
}

TEST(Retention, PrefillOnceKeepsTheBudgetThenAppends) {
  // Prompt 2000 compacted to 512 right after prefill; 200 outputs append: 711 tokens max.
  const Scenario s = testing::scenario(
      "compression: {method: h2o, length_effect: false}\nworkload: {num_requests: 1, arrival: {kind: all-at-once},"
      " prompt_tokens: {kind: fixed, value: 2000}, output_tokens: {kind: fixed, value: 200}}\n"
      "run: {deep_check_every: 1}");
  MaxBlocks sink;
  testing::run(s, {&sink});
  // The prefill step itself holds the whole prompt (125 pages) before compaction; after it
  // the request never needs more than ceil(711 / 16) = 45 pages.
  EXPECT_EQ(sink.max, 45);
}

TEST(LengthEffect, BuiltinMixturesReproduceTheStudysStatistics) {
  for (const char* name : {"kivi-2", "kivi-4", "gear-4", "h2o", "streamingllm", "snapkv"}) {
    const CompressionSpec s = builtin_compression(name);
    const LengthEffectSampler sampler(s.length);
    Rng rng(17);
    const int n = 100000;
    int longer = 0, shorter = 0, above1 = 0;
    double above1_sum = 0;
    for (int i = 0; i < n; ++i) {
      const double r = sampler.sample(rng);
      longer += r >= 1.5;
      shorter += r <= 0.5;
      if (r > 1) {
        ++above1;
        above1_sum += r;
      }
    }
    // 4 standard errors of a proportion; the conditional mean within 2 %.
    const auto tol = [n](double p) { return 4 * std::sqrt(p * (1 - p) / n); };
    EXPECT_NEAR(static_cast<double>(longer) / n, s.length.longer_1_5x, tol(s.length.longer_1_5x)) << name;
    EXPECT_NEAR(static_cast<double>(shorter) / n, s.length.shorter_2x, tol(s.length.shorter_2x)) << name;
    EXPECT_NEAR(above1_sum / above1, s.length.mean_ratio_longer, 0.02 * s.length.mean_ratio_longer) << name;
  }
}

TEST(LengthEffect, UserPairsAndSwitchingOff) {
  const std::string pairs = ::kvsim::testing::scratch() + "pairs.csv";
  std::ofstream(pairs) << "baseline_tokens,compressed_tokens\n100,200\n100,200\n";
  const auto o = testing::run("compression: {method: kivi-4, length_effect: {pairs_file: " + pairs + "}}\n"
                              "workload: {num_requests: 50, arrival: {kind: all-at-once},"
                              " output_tokens: {kind: fixed, value: 40}}");
  EXPECT_DOUBLE_EQ(o.report["summary"]["compression"]["output_length_ratio"].get<double>(), 2.0);
  const auto off = testing::run("compression: {method: kivi-4, length_effect: false}\n"
                                "workload: {num_requests: 50, arrival: {kind: all-at-once}}");
  EXPECT_DOUBLE_EQ(off.report["summary"]["compression"]["output_length_ratio"].get<double>(), 1.0);
}

TEST(LengthEffect, CappedAtMaxTokensAndDrawnPerRequest) {
  const std::string yaml =
      "compression: kivi-4\nworkload: {num_requests: 300, arrival: {kind: poisson, rate_per_s: 5}, max_tokens: 120,"
      " output_tokens: {kind: fixed, value: 100}}";
  const auto o = testing::run(yaml);
  const auto& c = o.report["summary"]["compression"];
  // About 45 % would be >= 1.5x longer, but max_tokens 120 caps every answer below 150.
  EXPECT_EQ(c["share_1_5x_longer"].get<double>(), 0.0);
  EXPECT_GT(c["output_tokens"].get<std::int64_t>(), c["baseline_output_tokens"].get<std::int64_t>());
  EXPECT_LE(c["output_tokens"].get<std::int64_t>(), 300 * 120);
  // Same seed, another workload size: request 0..299 draw the same multipliers.
  const auto bigger = testing::run(yaml, {"workload.num_requests=301"});
  EXPECT_GE(bigger.report["summary"]["compression"]["output_tokens"].get<std::int64_t>(),
            c["output_tokens"].get<std::int64_t>());
}

TEST(PerRequestCompression, RoutingByPromptLengthAndTraceColumn) {
  // Long prompts go to SnapKV; the rest stay fp16: the table has both, and long requests
  // free pages after prefill.
  const Scenario s = testing::scenario(
      "compression: {method: fp16, routing: [{min_prompt_tokens: 1500, method: snapkv}]}\n"
      "workload: {num_requests: 200, arrival: {kind: poisson, rate_per_s: 4},"
      " prompt_tokens: {kind: uniform, min: 100, max: 4000}}\nrun: {deep_check_every: 1}");
  ASSERT_EQ(s.methods.size(), 2u);
  EXPECT_EQ(s.methods[1].name, "snapkv");
  const auto o = testing::run(s);
  EXPECT_EQ(o.report["summary"]["requests"]["finished"], 200);
  EXPECT_GT(o.report["summary"]["op_time"]["kv_compaction"]["total_s"].get<double>(), 0.0);

  const std::string trace = ::kvsim::testing::scratch() + "methods.csv";
  std::ofstream(trace) << "arrival_s,prompt_tokens,output_tokens,compression\n0,3000,10,h2o\n0,3000,10,\n0.1,500,10,kivi-2\n";
  const Scenario t = testing::scenario("workload: {trace: " + trace + "}\nrun: {deep_check_every: 1}");
  ASSERT_EQ(t.methods.size(), 3u);  // fp16 default, h2o, kivi-2
  EXPECT_EQ(t.methods[t.trace_methods[0]].name, "h2o");
  EXPECT_EQ(t.methods[t.trace_methods[1]].name, "kivi-2");
  EXPECT_EQ(testing::run(t).report["summary"]["requests"]["finished"], 3);
}

TEST(CompressionCost, MethodsAddTheirOwnOperators) {
  const Catalog& c = testing::catalog();
  const auto cost = [&](const char* method, const BatchShape& shape) {
    return RooflineCostModel(c.model("llama-3-8b"), c.gpu("h200"), host_model_preset("none"), {},
                             {builtin_compression(method)})
        .step_cost(shape);
  };
  BatchShape decode;
  decode.decode = {BatchShape::uniform_decode(64, 4096)};
  BatchShape prefill;
  prefill.prefills.push_back({4096, 0, true, 0});
  EXPECT_EQ(cost("fp16", decode)[Op::kKvQuantize].ns, 0);
  EXPECT_GT(cost("kivi-4", decode)[Op::kKvQuantize].ns, 0);
  EXPECT_GT(cost("h2o", prefill)[Op::kKvScores].ns, 0);       // materialized scores: no flash
  EXPECT_GT(cost("h2o", prefill)[Op::kKvCompaction].ns, 0);
  EXPECT_GT(cost("snapkv", prefill)[Op::kKvScores].ns, 0);    // observation window only
  EXPECT_LT(cost("snapkv", prefill)[Op::kKvScores].ns, cost("h2o", prefill)[Op::kKvScores].ns);
  EXPECT_GT(cost("gear-4", decode)[Op::kKvLowRank].ns, 0);
  // Fewer bytes do not mean proportionally less time: KIVI-4 reads 3.2x fewer bytes but its
  // kernel is modelled at 30 % efficiency, so its attention is not faster than fp16.
  EXPECT_GE(cost("kivi-4", decode)[Op::kAttnDecode].ns, cost("fp16", decode)[Op::kAttnDecode].ns);
  CompressionSpec unfused = builtin_compression("int4");
  unfused.work.fused_dequant = false;
  const StepCost u = RooflineCostModel(c.model("llama-3-8b"), c.gpu("h200"), host_model_preset("none"), {}, {unfused})
                         .step_cost(decode);
  EXPECT_GT(u[Op::kKvDequant].ns, 0);
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

TEST(CompressionRegression, EvictEveryStepWithReusedSlots) {
  // Many requests reuse request slots: stale heap entries of earlier requests must not cap
  // or finish later ones (found in review: a reused slot restarted its epoch).
  const auto o = testing::run(
      "compression: {method: {method: streamingllm, evict_every_step: true}, length_effect: false}\n"
      "workload: {num_requests: 300, arrival: {kind: poisson, rate_per_s: 30}}\nrun: {deep_check_every: 1}");
  EXPECT_EQ(o.report["summary"]["requests"]["finished"], 300);
}

TEST(CompressionRegression, ParamsFormAndDistinctCustomizedMethods) {
  const Scenario s = testing::scenario(
      "compression: {method: h2o, params: {budget_tokens: 256},"
      " routing: [{min_prompt_tokens: 500, method: {method: h2o, budget_tokens: 1024}}]}\n"
      "workload: {num_requests: 1, arrival: {kind: all-at-once}}");
  ASSERT_EQ(s.methods.size(), 2u);
  EXPECT_EQ(s.methods[0].name, "h2o{budget_tokens=256}");
  EXPECT_EQ(s.methods[0].retention.budget_tokens, 256);
  EXPECT_EQ(s.methods[1].name, "h2o{budget_tokens=1024}");
  EXPECT_EQ(s.methods[1].retention.budget_tokens, 1024);
}

TEST(CompressionRegression, SmallRatiosAreValidMethods) {
  for (const char* m : {"ratio:1.2", "ratio:1.5", "ratio:2:eviction", "ratio:1.1:eviction"}) {
    EXPECT_NO_THROW(testing::scenario(std::string("compression: \"") + m +
                                      "\"\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}"))
        << m;
  }
}

TEST(CompressionRegression, LengthRatioComparesWithTheCappedBaseline) {
  const auto o = testing::run("workload: {num_requests: 100, arrival: {kind: all-at-once}, max_tokens: 50}");
  EXPECT_DOUBLE_EQ(o.report["summary"]["compression"]["output_length_ratio"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(o.report["summary"]["compression"]["share_2x_shorter"].get<double>(), 0.0);
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

// Issue #16 item 2: documented range and behaviour agree. docs/compression.md documents X in
// [1, 64] for ratio:X and ratio:X:eviction: every such method runs to completion, with and
// without the length effect, and the first values outside the range are refused.
TEST(RatioMethods, EveryDocumentedRatioRunsWithAndWithoutTheLengthEffect) {
  const char* base =
      "workload: {num_requests: 24, arrival: {kind: poisson, rate_per_s: 8}, prompt_tokens: {kind: uniform, min: 16, max: 900},"
      " output_tokens: {kind: uniform, min: 1, max: 200}}\nrun: {sample_interval_s: 0}\n";
  for (const char* x : {"1", "1.001", "1.5", "2", "3.7", "4", "7.99", "16", "33.3", "63.999", "64"}) {
    for (const char* form : {"", ":eviction", ":quantization"}) {
      for (const char* effect : {"true", "false"}) {
        const std::string method = std::string("ratio:") + x + form;
        const std::string yaml = std::string(base) + "compression: {method: '" + method + "', length_effect: " + effect + "}\n";
        const auto o = testing::run(yaml);
        const auto& req = o.report["summary"]["requests"];
        EXPECT_EQ(req["finished"].get<int>() + req["rejected"].get<int>(), 24) << method << " length_effect " << effect;
        EXPECT_EQ(req["finished"].get<int>(), 24) << method << " length_effect " << effect;
      }
    }
  }
  for (const char* x : {"0.999", "64.001", "0", "-4", "nan"}) {
    EXPECT_THROW(testing::scenario(std::string("compression: 'ratio:") + x + "'\n"), InputError) << x;
  }
}

}  // namespace
}  // namespace kvsim
