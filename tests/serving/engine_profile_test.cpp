// Engine implementation profiles: each preset's knobs against the rules its profile cites, the
// host model's closed form, the eager per-step floor it must explain, and memory sizing per
// engine's own rule.
#include <gtest/gtest.h>

#include <cmath>

#include "../support/run_helpers.h"
#include "models/compression/compression_registry.h"
#include "models/cost/roofline_cost_model.h"
#include "sim/serving/engine_config.h"
#include "sim/serving/engine_profile.h"
#include "sim/serving/engines/engines.h"
#include "models/cost/engine_kernels.h"
#include "sim/serving/kv_capacity.h"

namespace kvsim {
namespace {

constexpr const char* kFewRequests = "workload: {num_requests: 5, arrival: {kind: all-at-once}}\n";
Scenario scenario_of(const std::string& yaml) { return testing::scenario(yaml + kFewRequests); }

struct PresetCase {
  const char* name;
  const char* scheduler;
  int block_size;
  int max_num_seqs;            // on the H200
  int max_num_batched_tokens;  // on the H200 (0: resolved from max_model_len)
  double memory_fraction;
  CapacityRule rule;
  const char* host;
  bool batch_masked;
  DequantPath dequant;
  const char* source;  // where the engine's default comes from (also in the profile's rules)
};

// One row per engine preset. Sources: vLLM vllm/engine/arg_utils.py (v0.6.6; V1
// get_batch_defaults), SGLang server_args.py (page_size 1, chunked_prefill_size 8192) and
// model_runner.py:profile_max_num_token, LMDeploy messages.py:PytorchEngineConfig (v0.6),
// HF transformers 5.17 ContinuousBatchingManager as resolved in
// calibration/e2e/results/h200/hf_cb/meta.json.
const PresetCase kPresets[] = {
    {"vllm-v0", "vllm-v0", 16, 256, 0, 0.90, CapacityRule::kVllm, "vllm-v0", false, DequantPath::kFused,
     "vllm/engine/arg_utils.py v0.6.6"},
    {"vllm-v1", "vllm-v1", 16, 1024, 8192, 0.90, CapacityRule::kVllm, "cuda-graph", false, DequantPath::kFused,
     "vllm/engine/arg_utils.py:get_batch_defaults"},
    {"sglang", "sglang", 1, 4096, 8192, 0.88, CapacityRule::kSglang, "cuda-graph", false, DequantPath::kFused,
     "sglang server_args.py"},
    {"lmdeploy-pytorch", "lmdeploy-pytorch", 64, 128, 4096, 0.8, CapacityRule::kLmdeploy, "lmdeploy-pytorch", false,
     DequantPath::kFused, "lmdeploy/messages.py:PytorchEngineConfig v0.6"},
    {"lmdeploy-0.6-study", "lmdeploy-pytorch", 64, 128, 4096, 0.8, CapacityRule::kLmdeploy, "lmdeploy-0.6-eager",
     false, DequantPath::kFused, "the study's fork: eager, block 64, cache_max_entry_count 0.8"},
    {"hf-eager", "static", 16, 16, 32768, 0.90, CapacityRule::kVllm, "hf-eager", false, DequantPath::kUnfused,
     "transformers generate, QuantizedCache dequantizes in PyTorch"},
    {"hf-sdpa", "static", 16, 16, 32768, 0.90, CapacityRule::kVllm, "hf-sdpa", false, DequantPath::kUnfused,
     "transformers generate, attn_implementation sdpa"},
    {"hf-cb", "vllm-v1", 256, 1024, 8192, 0.90, CapacityRule::kVllm, "hf-cb", true, DequantPath::kUnfused,
     "hf_cb/meta.json resolved_engine"},
};

TEST(EngineProfile, PresetsCarryTheirEnginesDefaults) {
  const GpuSpec h200 = testing::catalog().gpu("h200");
  for (const auto& c : kPresets) {
    SCOPED_TRACE(std::string(c.name) + " (" + c.source + ")");
    const EngineConfig e = engine_preset(c.name, h200);
    EXPECT_EQ(e.scheduler, c.scheduler);
    EXPECT_EQ(e.block_size, c.block_size);
    EXPECT_EQ(e.max_num_seqs, c.max_num_seqs);
    EXPECT_EQ(e.max_num_batched_tokens, c.max_num_batched_tokens);
    EXPECT_DOUBLE_EQ(e.gpu_memory_utilization, c.memory_fraction);
    EXPECT_EQ(e.capacity_rule, c.rule);
    EXPECT_EQ(e.host.preset, c.host);
    EXPECT_EQ(e.profile.costing.batch_masked_attention, c.batch_masked);
    EXPECT_EQ(e.profile.costing.dequant, c.dequant);
  }
}

// A profile's rules are what a user reads in `kvsim list engines NAME`; where a rule names a
// knob with a plain number, the preset must have exactly that number.
TEST(EngineProfile, EveryRuleHasASourceAndMatchesItsPreset) {
  const GpuSpec h200 = testing::catalog().gpu("h200");
  for (const auto& name : engine_profile_names()) {
    SCOPED_TRACE(name);
    const EngineProfile p = engine_profile(name);
    const EngineConfig e = engine_preset(name, h200);
    EXPECT_FALSE(p.engine.empty());
    EXPECT_NO_THROW(host_model_preset(p.host_preset));
    EXPECT_FALSE(p.rules.empty());
    for (const auto& r : p.rules) {
      SCOPED_TRACE(r.name);
      EXPECT_FALSE(r.source.empty());
      char* end = nullptr;
      const double v = std::strtod(r.value.c_str(), &end);
      if (end == r.value.c_str() || *end != '\0') continue;  // a rule, not a plain number
      if (r.name == "block_size") { EXPECT_EQ(e.block_size, v); }
      if (r.name == "max_num_seqs") { EXPECT_EQ(e.max_num_seqs, v); }
      if (r.name == "max_num_batched_tokens") { EXPECT_EQ(e.max_num_batched_tokens, v); }
      if (r.name == "gpu_memory_utilization") { EXPECT_DOUBLE_EQ(e.gpu_memory_utilization, v); }
      if (r.name == "prefill_interval") { EXPECT_EQ(e.prefill_interval, v); }
    }
    EXPECT_FALSE(format_engine_profile(p).empty());
  }
  EXPECT_THROW(engine_profile("vllm-v2"), InputError);
}

// One registration line per preset: each entry builds the profile of its own name, with knobs,
// and only graph-capable hosts carry a capture rule (sim/serving/engines/*.cpp).
TEST(EngineRegistry, EveryEntryBuildsItsOwnPresetWithKnobs) {
  const GpuSpec h200 = testing::catalog().gpu("h200");
  EXPECT_EQ(engine_profile_names(), engine_registry().names());
  for (const auto& entry : engine_registry().entries()) {
    SCOPED_TRACE(entry.name);
    const EngineDefinition d = entry.make();
    EXPECT_EQ(d.profile.name, entry.name);
    EXPECT_FALSE(entry.summary.empty());
    ASSERT_TRUE(d.knobs);
    EXPECT_EQ(static_cast<bool>(d.graph_capture), !host_model_preset(d.profile.host_preset).eager &&
                                                       d.profile.host_preset != "hf-cb")
        << "a graph rule on an eager host, or none on a graph-capable one";
    const EngineConfig e = engine_preset(entry.name, h200);
    EXPECT_FALSE(e.scheduler.empty());
  }
}

TEST(EngineProfile, SmallGpusGetVllmV1sSmallBudgets) {
  // get_batch_defaults: 256 / 2048 below 70 GiB and on A100.
  for (const char* g : {"a100-80gb", "l40s", "rtx-a6000"}) {
    const EngineConfig e = engine_preset("vllm-v1", testing::catalog().gpu(g));
    EXPECT_EQ(e.max_num_seqs, 256) << g;
    EXPECT_EQ(e.max_num_batched_tokens, 2048) << g;
  }
}

// Two requests, seven tokens: a 6-token prefill chunk and one decode.
BatchShape two_requests_seven_tokens() {
  BatchShape b;
  b.prefills = {{6, 0, true, 0}};
  b.decode = {BatchShape::uniform_decode(1, 100)};
  return b;
}

// step = serial + max(issue, device): the closed form, for eager and graph modes.
TEST(HostModel, EagerIssueOverlapsTheDevice) {
  const BatchShape b = two_requests_seven_tokens();
  HostModel h;
  h.eager = true;
  h.per_step_ns = 1'000'000;
  h.per_request_ns = 10'000;
  h.dispatch_ns = 10'000;
  h.kernels_per_layer = 5;
  h.per_layer_ns = 20'000;
  h.kernels_fixed = 3;
  // issue = 4 layers x (5 x 10 + 20) us + 3 x 10 us = 310 us
  EXPECT_EQ(h.issue_for_step(4), 310'000);
  struct Case {
    Duration device_ns, exposed_ns;
  } cases[] = {{0, 1'020'000 + 310'000}, {100'000, 1'020'000 + 210'000}, {310'000, 1'020'000}, {5'000'000, 1'020'000}};
  for (const auto& c : cases) EXPECT_EQ(h.exposed_ns(b, 4, c.device_ns), c.exposed_ns) << c.device_ns;
  // Graph mode: one replay, hidden behind any device time longer than it.
  h.eager = false;
  h.graph_replay_ns = 5'000;
  EXPECT_EQ(h.issue_for_step(32), 5'000);
  EXPECT_EQ(h.exposed_ns(b, 32, 1'000'000), 1'020'000);
  EXPECT_EQ(h.exposed_ns(b, 32, 1'000), 1'024'000);
}

// Graph mode replays only the steps the engine captured; the rest are issued eagerly
// (vLLM V0 model_runner.py _BATCH_SIZES_TO_CAPTURE and max_seq_len_to_capture; SGLang
// cuda_graph_runner.py can_run; vLLM V1 gpu_model_runner.py execute_model).
TEST(HostModel, GraphsCoverOnlyTheCapturedSteps) {
  auto decode = [](std::int32_t rows, std::int32_t ctx) {
    BatchShape b;
    b.decode = {BatchShape::uniform_decode(rows, ctx)};
    return b;
  };
  auto mixed = [](std::int32_t prefill, std::int32_t rows) {
    BatchShape b;
    b.prefills = {{prefill, 0, true, 0}};
    b.decode = {BatchShape::uniform_decode(rows, 100)};
    return b;
  };
  struct Case {
    const char* what;
    GraphCoverage cov;
    std::int64_t max;
    std::int32_t max_ctx;
    BatchShape shape;
    bool replays;
  } cases[] = {
      {"all: a prefill", GraphCoverage::kAll, 0, 0, mixed(4096, 8), true},
      {"V0: decode 256 rows", GraphCoverage::kDecodeOnly, 256, 8192, decode(256, 8192), true},
      {"V0: decode 257 rows", GraphCoverage::kDecodeOnly, 256, 8192, decode(257, 100), false},
      {"V0: context past capture", GraphCoverage::kDecodeOnly, 256, 8192, decode(4, 8193), false},
      {"V0: any prefill", GraphCoverage::kDecodeOnly, 256, 8192, mixed(1, 0), false},
      {"SGLang: decode 160", GraphCoverage::kDecodeOnly, 160, 0, decode(160, 100000), true},
      {"SGLang: decode 161", GraphCoverage::kDecodeOnly, 160, 0, decode(161, 100), false},
      {"V1: 512 tokens mixed", GraphCoverage::kTokens, 512, 0, mixed(500, 12), true},
      {"V1: 513 tokens mixed", GraphCoverage::kTokens, 512, 0, mixed(500, 13), false},
  };
  for (const Case& c : cases) {
    HostModel h;
    h.graph_replay_ns = 5'000;
    h.dispatch_ns = 10'000;
    h.kernels_per_layer = 10;
    h.graph_coverage = c.cov;
    h.graph_max = c.max;
    h.graph_max_context = c.max_ctx;
    SCOPED_TRACE(c.what);
    EXPECT_EQ(h.replays_graph(c.shape), c.replays);
    // Outside the graphs the host dispatches 32 layers x 10 kernels x 10 us = 3.2 ms.
    EXPECT_EQ(h.exposed_ns(c.shape, 32, 0) - h.serial_for_step(c.shape.requests(), c.shape.tokens()),
              c.replays ? 5'000 : 3'200'000);
    h.eager = true;
    EXPECT_FALSE(h.replays_graph(c.shape));
  }
}

TEST(HostModel, EveryPresetTermHasASource) {
  for (const auto& n : host_model_preset_names()) {
    const HostModel h = host_model_preset(n);
    SCOPED_TRACE(n);
    EXPECT_EQ(h.preset, n);
    for (const auto& s : h.sources) EXPECT_FALSE(s.source.empty()) << s.name;
    if (n != "none") {
      EXPECT_FALSE(h.sources.empty());
    }
  }
  // The graph presets' per-step terms are not measured here, and say so.
  EXPECT_TRUE(host_model_preset("cuda-graph").has_assumed());
  EXPECT_TRUE(host_model_preset("vllm-v0").has_assumed());
  // HF's are measured (calibration/e2e/results/h100/host_probe).
  EXPECT_FALSE(host_model_preset("hf-eager").has_assumed());
  EXPECT_FALSE(host_model_preset("hf-cb").has_assumed());
}

// The issue's check: an eager 7-8B model on a mid-range GPU shows a ~30 ms per-step floor at
// batch 1. From the measured constants alone (48 kernels/layer x 11.82 us + 237.6 us Python per
// layer, 32 layers, 55 fixed kernels, 2.54 ms serial): 26.4 ms of issue + 2.5 ms.
TEST(HostModel, EagerConstantsExplainTheThirtyMillisecondFloor) {
  const HostModel h = host_model_preset("hf-eager");
  const double issue_ms = to_ms(h.issue_for_step(32));
  EXPECT_NEAR(issue_ms, 32 * (48 * 0.01182 + 0.2376) + 55 * 0.01182, 0.01);
  for (const char* model : {"llama-2-7b", "llama-3-8b"}) {
    RooflineCostModel cost(testing::catalog().model(model), testing::catalog().gpu("rtx-a6000"), h);
    BatchShape b;
    b.decode = {BatchShape::uniform_decode(1, 512)};
    const StepCost sc = cost.step_cost(b);
    SCOPED_TRACE(model);
    EXPECT_GT(to_ms(sc.total_ns), 26.0);
    EXPECT_LT(to_ms(sc.total_ns), 34.0);
    // Host-bound: the device alone would be faster than the issue.
    EXPECT_LT(sc.gpu_ns, h.issue_for_step(32));
    // On the H200 the same step is just as slow: the floor is the host's, not the GPU's.
    RooflineCostModel fast(testing::catalog().model(model), testing::catalog().gpu("h200"), h);
    EXPECT_NEAR(to_ms(fast.step_cost(b).total_ns), to_ms(h.serial_for_step(1, 1) + h.issue_for_step(32)), 0.01);
  }
}

TEST(EngineMemory, EachEngineSizesItsPoolByItsOwnRule) {
  const ModelSpec m = testing::catalog().model("llama-3-8b");
  const GpuSpec g = testing::catalog().gpu("h200");
  const std::vector<CompressionSpec> fp16 = {builtin_compression("fp16")};
  // SGLang: mem_fraction_static x total - weights - non-torch; token-granular pages.
  const KvCapacity s = compute_kv_capacity(m, g, engine_preset("sglang", g), fp16);
  const auto mem = static_cast<double>(g.memory_bytes);
  EXPECT_EQ(s.kv_pool_bytes, static_cast<std::int64_t>(mem * 0.88) - s.weight_bytes - s.non_torch_bytes);
  EXPECT_EQ(s.num_gpu_blocks, s.kv_pool_bytes / s.block_bytes);
  EXPECT_EQ(s.methods[0].tokens_per_page, 1);
  // LMDeploy: cache_max_entry_count of what is free after weights and the runtime cache.
  const KvCapacity l = compute_kv_capacity(m, g, engine_preset("lmdeploy-0.6-study", g), fp16);
  EXPECT_EQ(l.kv_pool_bytes,
            static_cast<std::int64_t>((mem - l.weight_bytes - l.non_torch_bytes - l.activation_bytes) * 0.8));
  // HF CB: the engine's own resolved pool where it was measured (3038 blocks of 256 tokens),
  // vLLM's rule at max_memory_percent elsewhere.
  const Scenario hf = scenario_of("engine: {preset: hf-cb}\n");
  EXPECT_EQ(hf.capacity.num_gpu_blocks, 3038);
  EXPECT_EQ(hf.capacity.tokens(), 3038 * 256);
  const Scenario hf_a100 = scenario_of("gpu: a100-80gb\nengine: {preset: hf-cb}\n");
  EXPECT_FALSE(hf_a100.capacity.explicit_blocks);
}

TEST(EngineCosting, ProfilesSetAttentionAndDequantDefaultsScenariosCanOverride) {
  EXPECT_TRUE(scenario_of("engine: {preset: hf-cb}\n").roofline.batch_masked_attention);
  EXPECT_FALSE(scenario_of("engine: {preset: hf-cb}\ncost_model: {attention: varlen}\n").roofline.batch_masked_attention);
  EXPECT_FALSE(scenario_of("engine: {preset: vllm-v1}\n").roofline.batch_masked_attention);
  // HF reads a quantized cache through a PyTorch dequantize pass; vLLM inside the kernel.
  EXPECT_FALSE(scenario_of("engine: {preset: hf-eager}\ncompression: fp8\n").methods[0].work.fused_dequant);
  EXPECT_TRUE(scenario_of("engine: {preset: vllm-v1}\ncompression: fp8\n").methods[0].work.fused_dequant);
  EXPECT_TRUE(scenario_of("engine: {preset: hf-eager}\ncompression: {method: fp8, params: {fused_dequant: true}}\n")
                  .methods[0]
                  .work.fused_dequant);
}

// HF's attention layer was measured on the H200 and the H100: each prices its own GPU. Elsewhere
// the H200 fit moves: its per-KV terms by the HBM share the two fits measured (0: the SM clock
// alone), its FLOP term with the bf16 peak ratio, its fixed term unchanged.
TEST(EngineCosting, MeasuredAttentionLayerUsesEachGpusFitAndMovesToOthers) {
  const Scenario h200 = scenario_of("engine: {preset: hf-cb}\n");
  EXPECT_DOUBLE_EQ(h200.roofline.masked_ns_per_kv, 40.1142);
  EXPECT_DOUBLE_EQ(h200.roofline.masked_fixed_us, 19.90);
  const Scenario h100 = scenario_of("gpu: h100-sxm\nengine: {preset: hf-cb}\n");
  EXPECT_DOUBLE_EQ(h100.roofline.masked_fixed_us, 20.62);
  EXPECT_DOUBLE_EQ(h100.roofline.masked_ns_per_kv, 39.9314);
  EXPECT_DOUBLE_EQ(h100.roofline.masked_ps_per_pair, 42.7327);
  EXPECT_DOUBLE_EQ(h100.roofline.masked_single_fixed_us, 16.36);
  EXPECT_DOUBLE_EQ(h100.roofline.masked_single_ns_per_kv, 28.3155);
  const GpuSpec a = testing::catalog().gpu("h200");
  // A100 80GB: share 0, so the SM-clock ratio 1980/1410 alone.
  const GpuSpec c = testing::catalog().gpu("a100-80gb");
  EXPECT_NEAR(masked_kv_scale(a, c, 0.0), 1980.0 / 1410, 1e-12);
  EXPECT_NEAR(masked_kv_scale(a, c, 0.32), 0.32 * 4800.0 / 2039 + 0.68 * 1980.0 / 1410, 1e-12);
  const Scenario a100 = scenario_of("gpu: a100-80gb\nengine: {preset: hf-cb}\n");
  EXPECT_NEAR(a100.roofline.masked_ns_per_kv, 40.1142 * 1980.0 / 1410, 1e-9);
  EXPECT_DOUBLE_EQ(a100.roofline.masked_ps_per_pair, 41.9029 * a.fp16_tflops / c.fp16_tflops);
  EXPECT_DOUBLE_EQ(a100.roofline.masked_fixed_us, 19.90);
  // A term the scenario sets is its own.
  const Scenario set = scenario_of("gpu: h100-sxm\nengine: {preset: hf-cb}\ncost_model: {masked_ns_per_kv: 50}\n");
  EXPECT_DOUBLE_EQ(set.roofline.masked_ns_per_kv, 50);
  // Closed form of the priced step: 32 layers x (fixed + ns/kv x KV + ps/pair x q x KV).
  BatchShape b8;
  b8.decode = {BatchShape::uniform_decode(8, 1000)};
  RooflineCostModel cost(testing::catalog().model("llama-3-8b"), a, host_model_preset("none"), h200.roofline);
  const double want_us = 32 * (19.90 + 40.1142e-3 * 8000 + 41.9029e-6 * 8 * 8000);
  EXPECT_NEAR(cost.step_cost(b8)[Op::kAttnDecode].ns / 1e3, want_us, 0.1);
  BatchShape one;
  one.decode = {BatchShape::uniform_decode(1, 1000)};
  EXPECT_NEAR(cost.step_cost(one)[Op::kAttnDecode].ns / 1e3, 32 * (20.70 + 26.4173e-3 * 1000), 0.1);
}

// A model that declares a sliding window runs HF's sliding-attention cache group (masked_scatter_
// cache writes, no decode fast path; transformers 5.17 continuous_batching/cache.py and
// continuous_api.py, quoted in calibration/e2e/results/h100/hf_cb_path/*/source_*.txt): a
// decode-only iteration pays the H100 fit (fit_window_path.py) per layer; prefill-carrying forwards
// and windowless models pay nothing; other GPUs move the per-KV term by the SM clock.
TEST(EngineCosting, SlidingWindowPathPricesDecodeForwardsOfWindowedModelsOnly) {
  const Scenario h100 = scenario_of("model: mistral-7b\ngpu: h100-sxm\nengine: {preset: hf-cb}\n");
  EXPECT_DOUBLE_EQ(h100.roofline.window_path_fixed_us, 106.32);
  EXPECT_DOUBLE_EQ(h100.roofline.window_path_ns_per_kv, 23.838);
  const Scenario h200 = scenario_of("model: mistral-7b\nengine: {preset: hf-cb}\n");  // same SM clock
  EXPECT_NEAR(h200.roofline.window_path_ns_per_kv, 23.838, 1e-12);
  const Scenario a100 = scenario_of("model: mistral-7b\ngpu: a100-80gb\nengine: {preset: hf-cb}\n");
  EXPECT_NEAR(a100.roofline.window_path_ns_per_kv, 23.838 * 1980.0 / 1410, 1e-9);
  EXPECT_DOUBLE_EQ(a100.roofline.window_path_fixed_us, 106.32);
  EXPECT_DOUBLE_EQ(scenario_of("model: mistral-7b\nengine: {preset: vllm-v1}\n").roofline.window_path_fixed_us, 0);
  EXPECT_NE(format_engine_profile(engine_profile("hf-cb")).find("sliding-window path measured"), std::string::npos);

  const GpuSpec gpu = testing::catalog().gpu("h100-sxm");
  const ModelSpec windowed = testing::catalog().model("mistral-7b");
  ModelSpec full = windowed;
  full.sliding_window = 0;
  const RooflineCostModel with(windowed, gpu, host_model_preset("none"), h100.roofline);
  const RooflineCostModel without(full, gpu, host_model_preset("none"), h100.roofline);
  BatchShape decode;
  decode.decode = {BatchShape::uniform_decode(8, 1000)};
  const double extra_us = (with.step_cost(decode)[Op::kAttnDecode].ns - without.step_cost(decode)[Op::kAttnDecode].ns) / 1e3;
  EXPECT_NEAR(extra_us, 32 * (106.32 + 23.838e-3 * 8000), 0.01);
  BatchShape mixed = decode;
  mixed.prefills = {PrefillChunk{512, 0, true, 0}};
  EXPECT_EQ(with.step_cost(mixed).gpu_ns, without.step_cost(mixed).gpu_ns);
}

// The study's fork as it ran: its own Triton kernels (timed on the H200) behind an eager host.
TEST(StudyFork, MethodsRunAsTheForkImplementsThem) {
  struct Row {
    const char* method;
    const char* kernel;
  } rows[] = {{"fp16", "fp16"}, {"kivi-4", "kivi_int4"}, {"gear-4", "gear_int4"}, {"int4", "gear_int4"},
              {"h2o", "fp16"}, {"streamingllm", "fp16"}, {"fp8", ""}, {"kivi-2", ""}};
  for (const auto& r : rows) EXPECT_EQ(study_kernel_for(builtin_compression(r.method)), r.kernel) << r.method;
  // Measured points come back exactly (study-lmdeploy-kernels README, llama-3-8b, run 2).
  const auto k = study_lmdeploy_kernels("llama-3-8b");
  ASSERT_TRUE(k.has_value());
  EXPECT_NEAR(k->decode.at("fp16").eval(16, 2048), 45.0, 0.1);
  EXPECT_NEAR(k->decode.at("gear_int4").eval(16, 2048), 150.7, 0.1);
  EXPECT_NEAR(k->decode.at("kivi_int4").eval(16, 2048), 21.1, 0.1);
  EXPECT_NEAR(k->prefill.at("fp16").eval(2048), 288.5, 0.1);
  EXPECT_FALSE(study_lmdeploy_kernels("qwen2.5-7b").has_value());
}

TEST(StudyFork, EagerHostHidesGearsDecodeSlowdownAndH2oPaysAFixedPrefillCost) {
  auto cost_of = [](const char* method) {
    // The fork's kernels replace a bundle's: price with the shipped H200 Llama-3-8B bundle.
    const Scenario s = scenario_of(std::string("engine: {preset: lmdeploy-0.6-study}\ncompression: {method: ") + method +
                                   ", length_effect: false}\ncost_model: {kind: calibrated, calibration: " KVSIM_SOURCE_DIR
                                   "/calibration/data/h200/llama-3-8b}\n");
    return make_cost_model(s);
  };
  BatchShape decode;
  decode.decode = {BatchShape::uniform_decode(16, 2048)};
  const StepCost fp16 = cost_of("fp16")->step_cost(decode), gear = cost_of("gear-4")->step_cost(decode);
  // The fork's GEAR (stock int4) decode kernel is 3.35x fp16's at this shape ...
  EXPECT_NEAR(static_cast<double>(gear[Op::kAttnDecode].ns) / fp16[Op::kAttnDecode].ns, 150.7 / 45.0, 0.02);
  // ... but the step is host-bound (eager issue > device), so the step time is the same.
  EXPECT_EQ(gear.total_ns, fp16.total_ns);
  EXPECT_GT(host_model_preset("lmdeploy-0.6-eager").issue_for_step(32), gear.gpu_ns);
  // H2O's score step as the fork calls it costs host time per prefill sequence and layer:
  // as-called minus kernel time (3912 - 58.7 us at a 512-token prompt), so short prompts pay most.
  BatchShape prefill;
  prefill.prefills = {{512, 0, true, 0}};
  const StepCost h2o = cost_of("h2o")->step_cost(prefill), base = cost_of("fp16")->step_cost(prefill);
  const auto k = study_lmdeploy_kernels("llama-3-8b");
  // Both steps are host-bound (device < eager issue), so the step grows by exactly that host cost.
  ASSERT_LT(h2o.gpu_ns, host_model_preset("lmdeploy-0.6-eager").issue_for_step(32));
  const double extra_ms = to_ms(h2o.total_ns - base.total_ns);
  EXPECT_NEAR(extra_ms, 32 * k->h2o_host.eval(512) / 1e3, 0.01);
  EXPECT_GT(extra_ms / to_ms(base.total_ns), 5.0);
}

TEST(EngineHost, ScenarioTermsReplaceThePresetsAndAreLabelled) {
  const Scenario s = scenario_of(
      "engine: {preset: vllm-v1, overhead: {mode: eager, dispatch_us: 8, kernels_per_layer: 10, per_layer_us: 0, "
      "kernels_fixed: 0}}\n");
  EXPECT_TRUE(s.engine.host.eager);
  EXPECT_EQ(s.engine.host.preset, "custom");
  EXPECT_EQ(s.engine.host.issue_for_step(32), 32 * 10 * 8'000);
  int from_scenario = 0;
  for (const auto& v : s.engine.host.sources) from_scenario += v.kind == Provenance::kScenario;
  EXPECT_EQ(from_scenario, 5);
  EXPECT_THROW(scenario_of("engine: {overhead: {mode: lazy}}\n"), InputError);
  EXPECT_THROW(scenario_of("engine: {overhead: {kernels_fixed: -1}}\n"), InputError);
}

// Every report says which numbers are assumed (context.assumed, and a header line).
TEST(EngineReport, AssumedNumbersAreListed) {
  const auto v1 = testing::run("workload: {num_requests: 5, arrival: {kind: all-at-once}}\n");
  const auto& assumed = v1.report["context"]["assumed"];
  ASSERT_TRUE(assumed.is_array());
  bool per_step = false;
  for (const auto& a : assumed) per_step |= a.get<std::string>().rfind("per_step_ms = ", 0) == 0;
  EXPECT_TRUE(per_step);
  EXPECT_NE(render_text_summary(v1.report).find("assumed (not measured"), std::string::npos);
  const auto hf = testing::run("engine: {preset: hf-cb}\nworkload: {num_requests: 5, arrival: {kind: all-at-once}}\n");
  for (const auto& a : hf.report["context"]["assumed"]) {
    EXPECT_EQ(a.get<std::string>().find("per_step_ms"), std::string::npos) << a;  // measured for HF CB
  }
}


// Each engine's graph capture, from its source (cited in apply_graph_capture and the test
// above): vLLM V0 decode <= 256 rows and contexts <= 8192; V1 <= min(2 x max_num_seqs, 512)
// tokens; SGLang decode <= cuda_graph_max_bs (160 at >= 25,000 MB).
TEST(EngineProfile, GraphCaptureFollowsEachEnginesRule) {
  struct Case {
    const char* engine;
    const char* gpu;
    GraphCoverage cov;
    std::int64_t max;
    std::int32_t max_ctx;
  } cases[] = {
      {"vllm-v0", "h200", GraphCoverage::kDecodeOnly, 256, 8192},
      {"vllm-v1", "h200", GraphCoverage::kTokens, 512, 0},
      {"vllm-v1", "a100-80gb", GraphCoverage::kTokens, 512, 0},
      {"sglang", "h200", GraphCoverage::kDecodeOnly, 160, 0},
      {"sglang", "rtx-a6000", GraphCoverage::kDecodeOnly, 160, 0},
      {"hf-cb", "h200", GraphCoverage::kAll, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.engine) + " on " + c.gpu);
    const HostModel h = engine_preset(c.engine, testing::catalog().gpu(c.gpu)).host;
    EXPECT_EQ(h.graph_coverage, c.cov);
    EXPECT_EQ(h.graph_max, c.max);
    EXPECT_EQ(h.graph_max_context, c.max_ctx);
  }
  // V1's capture follows max_num_seqs: 100 sequences capture up to 200 tokens.
  const Scenario s = scenario_of("engine: {preset: vllm-v1, max_num_seqs: 100}\n");
  EXPECT_EQ(s.engine.host.graph_max, 200);
  // A scenario can set the capture limit.
  const Scenario t = scenario_of("engine: {preset: sglang, overhead: {preset: cuda-graph, graph_max: 32}}\n");
  EXPECT_EQ(t.engine.host.graph_max, 32);
  EXPECT_EQ(t.engine.host.graph_coverage, GraphCoverage::kDecodeOnly);
}

}  // namespace
}  // namespace kvsim
