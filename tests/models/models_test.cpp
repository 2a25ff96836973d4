#include <gtest/gtest.h>

#include "models/cost/roofline_cost_model.h"
#include "models/spec/catalog.h"
#include "sim/core/error.h"

namespace kvsim {
namespace {

TEST(Catalog, HasEveryRequiredModelAndGpu) {
  const Catalog c = Catalog::builtin();
  for (const char* m : {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-8b",
                        "mistral-7b", "qwen2.5-7b", "qwen2.5-72b"}) {
    EXPECT_NO_THROW(c.model(m)) << m;
  }
  for (const char* g : {"rtx-a6000", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "l40s", "b200"}) {
    EXPECT_NO_THROW(c.gpu(g)) << g;
  }
  try {
    c.model("llama-3-7b");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("valid models:"), std::string::npos);
  }
}

TEST(Catalog, ParameterCountsFollowFromShapes) {
  const Catalog catalog = Catalog::builtin();
  for (const auto& [name, m] : catalog.models()) {
    const std::int64_t h = m.hidden_size, q = m.q_size(), kv = m.kv_size();
    std::int64_t layer = h * q + 2 * h * kv + q * h + 3 * h * std::int64_t{m.intermediate_size} + 2 * h;
    if (m.attention_bias) layer += q + 2 * kv;
    const std::int64_t total = std::int64_t{m.vocab_size} * h * (m.tie_word_embeddings ? 1 : 2) +
                               layer * m.num_layers + h;
    EXPECT_EQ(m.num_parameters, total) << name;
    // The loader's plausibility rule (within 5 %) uses implied_parameters, biases left out.
    EXPECT_NEAR(implied_parameters(m) / static_cast<double>(m.num_parameters), 1.0, 1e-4) << name;
  }
}

TEST(Catalog, GqaAndMhaKvBytes) {
  const Catalog c = Catalog::builtin();
  EXPECT_EQ(c.model("llama-2-7b").kv_bytes_per_token(), 2 * 32 * 32 * 128 * 2);  // MHA: 512 KiB
  EXPECT_EQ(c.model("llama-3-8b").kv_bytes_per_token(), 2 * 32 * 8 * 128 * 2);   // GQA: 128 KiB
}

TEST(Roofline, SmallBatchDecodeIsWeightBandwidthBound) {
  const Catalog c = Catalog::builtin();
  const ModelSpec m = c.model("llama-3-8b");
  const GpuSpec g = c.gpu("h200");
  RooflineParams p;
  const RooflineCostModel cost(m, g, host_model_preset("none"), p);
  BatchShape s;
  s.decode = {BatchShape::uniform_decode(1, 128)};
  const StepCost sc = cost.step_cost(s);
  // Layer weights streamed once at memory_efficiency x HBM bandwidth, plus kernel gaps.
  const double layer_weights = static_cast<double>(m.weight_bytes()) - 2.0 * 2.0 * m.vocab_size * m.hidden_size;  // minus embedding and LM head (fp16)
  const double t_weights_ns = layer_weights / (g.hbm_bandwidth_gbps * p.memory_efficiency);
  const double linear_ns = static_cast<double>(sc[Op::kQkvProj].ns + sc[Op::kOProj].ns + sc[Op::kGateUpProj].ns +
                                               sc[Op::kDownProj].ns);
  EXPECT_NEAR(linear_ns, t_weights_ns, 0.01 * t_weights_ns);
  EXPECT_FALSE(sc[Op::kQkvProj].compute_bound);
  EXPECT_EQ(sc.cpu_ns, 0);
  EXPECT_EQ(sc.total_ns, sc.gpu_ns);
}

TEST(Roofline, LargePrefillIsComputeBoundAndDecodeAttentionUsesEachContext) {
  const Catalog c = Catalog::builtin();
  const RooflineCostModel cost(c.model("llama-3-8b"), c.gpu("h200"), host_model_preset("cuda-graph"));
  BatchShape pf;
  pf.prefills.push_back({4096, 0, true, 0});
  EXPECT_TRUE(cost.step_cost(pf)[Op::kGateUpProj].compute_bound);
  // Same mean context, wider spread: never cheaper (the straggler bound), and strictly
  // more expensive when one sequence dominates.
  BatchShape even, skewed;
  even.decode = {DecodeGroup{0, 2, 2 * 4000, 4000}};
  skewed.decode = {DecodeGroup{0, 2, 2 * 4000, 7990}};
  EXPECT_LT(cost.step_cost(even)[Op::kAttnDecode].ns, cost.step_cost(skewed)[Op::kAttnDecode].ns);
}

TEST(Overhead, PresetsAreExplicitTerms) {
  EXPECT_EQ(host_model_preset("cuda-graph").per_step_ns, 1'000'000);
  EXPECT_EQ(host_model_preset("cuda-graph").serial_for_step(2, 10), 1'000'000 + 2 * 5'000 + 10 * 200);
  EXPECT_THROW(host_model_preset("graph"), InputError);
}

}  // namespace
}  // namespace kvsim
