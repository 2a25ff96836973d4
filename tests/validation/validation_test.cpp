// Validation and importers: measured-results CSVs, vllm bench JSON, vLLM logs, Hugging Face
// config.json, Vidur profiles, the error statistics, and `kvsim validate` end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../support/run_helpers.h"
#include "calibration/fit/fitter.h"
#include "calibration/fit/vidur_import.h"
#include "experiments/sweep.h"
#include "experiments/validate.h"
#include "models/spec/hf_config.h"

namespace kvsim {
namespace {

namespace fs = std::filesystem;
const std::string kSrc = KVSIM_SOURCE_DIR;
const std::string kFix = kSrc + "/tests/validation/fixtures/";
const std::string kHf = kSrc + "/tests/models/fixtures/hf/";
const std::string kVidur = kSrc + "/tests/calibration/fixtures/vidur/";

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("kvsim_validation_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// --- Hugging Face config.json -------------------------------------------------------------

TEST(HfConfig, LlamaMistralQwen2MatchTheCatalog) {
  for (const std::string name : {"llama-3-8b", "mistral-7b", "qwen2.5-7b"}) {
    SCOPED_TRACE(name);
    const ModelSpec got = model_from_hf_config(kHf + name + "/config.json");
    const ModelSpec want = testing::catalog().model(name);
    EXPECT_EQ(got.name, "hf:" + name);
    EXPECT_EQ(got.num_layers, want.num_layers);
    EXPECT_EQ(got.hidden_size, want.hidden_size);
    EXPECT_EQ(got.num_attention_heads, want.num_attention_heads);
    EXPECT_EQ(got.num_kv_heads, want.num_kv_heads);
    EXPECT_EQ(got.head_dim, want.head_dim);
    EXPECT_EQ(got.intermediate_size, want.intermediate_size);
    EXPECT_EQ(got.vocab_size, want.vocab_size);
    EXPECT_EQ(got.max_context, want.max_context);
    EXPECT_EQ(got.tie_word_embeddings, want.tie_word_embeddings);
    EXPECT_EQ(got.attention_bias, want.attention_bias);
    EXPECT_DOUBLE_EQ(got.rope_theta, want.rope_theta);
    // Mistral's window is a fact of the model; Qwen2's config names one but does not use it
    // (use_sliding_window false).
    EXPECT_EQ(got.sliding_window, want.sliding_window);
    EXPECT_EQ(got.num_parameters, want.num_parameters);
    EXPECT_EQ(got.weight_bytes_per_param, 2);
  }
  EXPECT_EQ(testing::catalog().model("mistral-7b").sliding_window, 4096);
  EXPECT_EQ(testing::catalog().model("qwen2.5-7b").sliding_window, 0);
  EXPECT_NE(model_from_hf_config(kHf + "mistral-7b/config.json").source.find("sliding_window 4096 (recorded"),
            std::string::npos);
  // "sliding_window": null is a Mistral without a window.
  EXPECT_EQ(model_from_hf_config(kHf + "window_null/config.json").sliding_window, 0);
}

TEST(HfConfig, AScenarioNamesAConfigJsonAsItsModel) {
  const Scenario s = testing::scenario("model: " + kHf + "llama-3-8b/config.json\n"
                                       "workload: {num_requests: 5, arrival: {kind: all-at-once}}\n");
  const Scenario ref = testing::scenario("model: llama-3-8b\nworkload: {num_requests: 5, arrival: {kind: all-at-once}}\n");
  EXPECT_EQ(s.model.name, "hf:llama-3-8b");
  EXPECT_EQ(s.capacity.num_gpu_blocks, ref.capacity.num_gpu_blocks);
  const auto a = testing::run(s), b = testing::run(ref);
  EXPECT_EQ(a.report["summary"]["latency_s"], b.report["summary"]["latency_s"]);
}

TEST(HfConfig, MalformedConfigsNameTheFileAndKey) {
  const struct {
    const char* file;
    std::string message;
  } cases[] = {
      {"missing_context.json", "max_position_embeddings: required key is missing"},
      {"gpt2.json",
       "architectures: unsupported architecture 'GPT2LMHeadModel'; supported: LlamaForCausalLM, MistralForCausalLM, "
       "Qwen2ForCausalLM"},
      {"string_hidden.json", "hidden_size: expected an integer in [1, 16777216], got \"4096\""},
      {"kv_heads.json", "num_key_value_heads: 5 does not divide num_attention_heads 32"},
      {"zero_window.json", "sliding_window: expected an integer in [1, 16777216], got 0"},
      // Issue #16: an FP8 checkpoint was priced as bf16 without a word.
      {"fp8_weights.json",
       "quantization_config: quantized weights (fp8) are not modelled: kvsim would price them as bfloat16; remove "
       "quantization_config to simulate the unquantized model"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(message_of([&] { model_from_hf_config(kHf + "bad/" + c.file); }), kHf + "bad/" + c.file + ": " + c.message);
  }
  EXPECT_EQ(message_of([&] { model_from_hf_config(kHf + "bad/truncated.json"); })
                .rfind(kHf + "bad/truncated.json: invalid JSON: ", 0),
            0u);
  EXPECT_EQ(message_of([&] { model_from_hf_config(kHf + "bad/nope.json"); }),
            kHf + "bad/nope.json: cannot open model config");
}

// --- Vidur profiles -------------------------------------------------------------------------

TEST(Vidur, ProfilesBecomeBundleTablesAfterFiltering) {
  const ModelSpec m = testing::catalog().model("llama-3-8b");
  const Bundle b = bundle_from_vidur(kVidur + "llama-3-8b", m, m.name, 1, 16, "NVIDIA H200");
  EXPECT_EQ(b.tables.at("gemm").rows.size(), 13u * 4);     // the other model's rows are filtered out
  EXPECT_EQ(b.tables.at("elementwise").rows.size(), 13u * 4);
  EXPECT_EQ(b.tables.at("decode_attention").rows.size(), 28u);  // the block-size-32 row is filtered out
  EXPECT_EQ(b.tables.at("prefill_attention").rows.size(), 6u);
  const CalibratedCosts c = fit_bundle(b, "h200");
  EXPECT_EQ(c.model_shape, "llama-3-8b");
  // Interpolation is exact at measured points: qkv at 64 tokens = 0.005 + 2e-6 x 64 ms.
  EXPECT_NEAR(c.gemm.at("qkv/bf16").eval(64), (0.005 + 2e-6 * 64) * 1e3, 1e-6);
  EXPECT_NEAR(c.decode.at("fp16/fused").eval(8, 1024), (0.004 + 1.5e-7 * 8 * 1024) * 1e3, 1e-6);
}

TEST(Vidur, AScenarioCostsItsStepsFromTheProfiles) {
  const Scenario s = testing::scenario("model: llama-3-8b\ncost_model: {kind: vidur, profiles: " + kVidur +
                                       "llama-3-8b}\nworkload: {num_requests: 5, arrival: {kind: all-at-once}}\n");
  EXPECT_EQ(s.cost_kind, "calibrated");
  BatchShape b;
  b.decode = {BatchShape::uniform_decode(64, 1024)};
  const StepCost c = make_cost_model(s)->step_cost(b);
  const double layers = 32;
  EXPECT_NEAR(static_cast<double>(c[Op::kQkvProj].ns), (0.005 + 2e-6 * 64) * 1e6 * layers, 1.0);
  EXPECT_NEAR(static_cast<double>(c[Op::kAttnDecode].ns), (0.004 + 1.5e-7 * 64 * 1024) * 1e6 * layers, 1.0);
}

TEST(Vidur, MalformedProfilesNameTheFileAndColumn) {
  const ModelSpec m = testing::catalog().model("llama-3-8b");
  EXPECT_EQ(message_of([&] { bundle_from_vidur(kVidur + "bad", m, m.name, 1, 16, "NVIDIA H200"); }),
            kVidur + "bad/mlp.csv:1: missing required column 'time_stats.attn_post_proj.median' (a Vidur profile)");
  EXPECT_EQ(message_of([&] { bundle_from_vidur(kVidur + "llama-3-8b", m, m.name, 2, 16, "NVIDIA H200"); }),
            kVidur + "llama-3-8b/mlp.csv: no rows for llama-3-8b at tensor parallelism 2 (filter columns n_head, "
                     "n_kv_head, n_embd, n_expanded_embd, vocab_size, num_tensor_parallel_workers)");
  EXPECT_EQ(message_of([&] {
              testing::scenario("cost_model: {kind: vidur}\nworkload: {num_requests: 5, arrival: {kind: all-at-once}}\n");
            }),
            "<test>: cost_model.profiles: required when kind is 'vidur' (a directory with Vidur's mlp.csv and "
            "attention.csv)");
}

// --- vllm bench JSON and engine logs ----------------------------------------------------------

TEST(VllmImport, BenchJsonBecomesServingPoints) {
  const auto pts = read_vllm_bench_json(kFix + "vllm_bench.json");
  std::map<std::string, double> got;
  for (const auto& p : pts) got[p.metric] = p.value;
  EXPECT_DOUBLE_EQ(got.at("requests_per_s"), 3.84);
  EXPECT_DOUBLE_EQ(got.at("output_tokens_per_s"), 522.1);
  EXPECT_DOUBLE_EQ(got.at("ttft_p50_s"), 0.031);
  EXPECT_DOUBLE_EQ(got.at("tpot_mean_s"), 0.0091);
  EXPECT_DOUBLE_EQ(got.at("e2e_p99_s"), 2.6);
  EXPECT_DOUBLE_EQ(got.at("itl_p99_s"), 0.0197);
  EXPECT_EQ(got.count("e2e_p90_s"), 0u);  // 0 means "not collected"
  EXPECT_EQ(pts.size(), 12u);
  const fs::path d = temp_dir("bench");
  write(d / "empty.json", "{\"model_id\": \"x\"}");
  EXPECT_EQ(message_of([&] { read_vllm_bench_json((d / "empty.json").string()); }),
            (d / "empty.json").string() +
                ": no known `vllm bench serve` fields (expected e.g. request_throughput, mean_ttft_ms, median_tpot_ms, "
                "p99_e2el_ms)");
  write(d / "bad.json", "{\"mean_ttft_ms\": \"fast\"}");
  EXPECT_EQ(message_of([&] { read_vllm_bench_json((d / "bad.json").string()); }),
            (d / "bad.json").string() + ": field 'mean_ttft_ms' must be a number");
  // Issue #16 item 7: a negative measurement is refused, not skipped like vLLM's 0 (not collected).
  write(d / "neg.json", "{\"request_throughput\": 3.5, \"mean_ttft_ms\": -12.5}");
  EXPECT_EQ(message_of([&] { read_vllm_bench_json((d / "neg.json").string()); }),
            (d / "neg.json").string() + ": field 'mean_ttft_ms' must be >= 0 (0: not collected) (got -12.5)");
  fs::remove_all(d);
}

TEST(VllmImport, EngineLogGivesTheResolvedKvBlocks) {
  EXPECT_EQ(read_vllm_log_gpu_blocks(kFix + "vllm_v0.log", 16), 27000);
  EXPECT_EQ(read_vllm_log_gpu_blocks(kFix + "vllm_v1.log", 16), 431360 / 16);
  EXPECT_EQ(message_of([&] { read_vllm_log_gpu_blocks(kFix + "vllm_none.log", 16); }),
            kFix + "vllm_none.log: no KV cache size found (expected a vLLM line '# GPU blocks: N' or 'GPU KV cache size: "
                   "N tokens')");
}

// --- measured CSV -------------------------------------------------------------------------------

TEST(MeasuredCsv, MalformedRowsNameTheFileLineAndColumn) {
  const fs::path d = temp_dir("csv");
  const struct {
    const char* text;
    std::string message;
  } cases[] = {
      {"metric,value\nttft_p5_s,1\n", ":2: unknown metric 'ttft_p5_s' (did you mean 'ttft_p50_s'?); valid: "},
      {"metric,value\nttft_p50_s,fast\n", ":2: value must be a number > 0 (got 'fast')"},
      {"metric,value,phase,batch\nstep_ms,3,decode,8\n", ":2: metric step_ms needs column 'context'"},
      {"metric,value,phase,batch,context\nstep_ms,3,decoding,8,512\n",
       ":2: metric step_ms needs phase 'prefill' or 'decode' (got 'decoding')"},
      {"metric,value,batch\nttft_p50_s,3,8\n", ":2: column 'batch' applies to step_ms only (metric is 'ttft_p50_s')"},
      {"name,value\nx,1\n", ":1: expected columns 'metric' and 'value' (got name,value)"},
      {"metric,value\n", ": no measured points"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string p = (d / ("m" + std::to_string(i++) + ".csv")).string();
    write(p, c.text);
    const std::string msg = message_of([&] { read_measured_csv(p); });
    EXPECT_EQ(msg.substr(0, p.size() + c.message.size()), p + c.message) << msg;
  }
  fs::remove_all(d);
}

// --- statistics and end to end ----------------------------------------------------------------

TEST(Validate, PearsonClosedForms) {
  EXPECT_DOUBLE_EQ(pearson({1, 2, 3}, {2, 4, 6}), 1.0);
  EXPECT_DOUBLE_EQ(pearson({1, 2, 3}, {3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(pearson({1, 2, 3}, {5, 5, 5}), 0.0);
  EXPECT_DOUBLE_EQ(pearson({1}, {1}), 0.0);
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
}

// Measurements made from kvsim's own predictions, scaled by known factors: the reported
// errors, MAPE and bias are exactly those factors.
TEST(Validate, ErrorsAreExactOnMeasurementsWithKnownOffsets) {
  const std::string base =
      "model: llama-3-8b\nworkload: {num_requests: 60, arrival: {kind: poisson, rate_per_s: 5},"
      " prompt_tokens: {kind: fixed, value: 300}, output_tokens: {kind: fixed, value: 40}}\n";
  const fs::path d = temp_dir("e2e");
  write(d / "s.yaml", base);
  const Scenario s = load_scenario((d / "s.yaml").string(), {}, std::nullopt, testing::catalog());
  const auto o = testing::run(s);
  const double e2e = o.report["summary"]["latency_s"]["e2e"]["p50"].get<double>();
  BatchShape b;
  b.decode = {BatchShape::uniform_decode(8, 1024)};
  const double step = to_ms(make_cost_model(s)->step_cost(b).total_ns);
  // e2e measured 1.25x the prediction (error -0.2), the step 0.8x (error +0.25).
  char csv[512];
  std::snprintf(csv, sizeof csv, "label,metric,value,phase,batch,context\nrun,e2e_p50_s,%.17g,,,\nstep,step_ms,%.17g,decode,8,1024\n",
                e2e * 1.25, step * 0.8);
  write(d / "m.csv", csv);
  ValidateOptions opts;
  opts.scenario_path = (d / "s.yaml").string();
  const ValidationResult r = validate(opts, read_measured_csv((d / "m.csv").string()), testing::catalog(), {});
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_NEAR(r.points[0].error, -0.2, 1e-12);
  EXPECT_NEAR(r.points[1].error, 0.25, 1e-12);
  EXPECT_NEAR(r.overall.mape, 0.225, 1e-12);
  EXPECT_NEAR(r.overall.bias, 0.025, 1e-12);
  EXPECT_NEAR(r.overall.max_abs, 0.25, 1e-12);
  EXPECT_EQ(r.scenarios_run, 1);
  ASSERT_EQ(r.labels.size(), 2u);
  EXPECT_EQ(r.labels[0].metric, "e2e_p50_s [run]");
  fs::remove_all(d);
}

// Validate runs its distinct scenarios in parallel; the result is the serial one, point for point.
TEST(Validate, ParallelRunsGiveTheSerialResult) {
  const fs::path d = temp_dir("jobs");
  write(d / "s.yaml", "model: llama-3-8b\nworkload: {num_requests: 40, arrival: {kind: poisson, rate_per_s: 4},"
                      " prompt_tokens: {kind: fixed, value: 200}, output_tokens: {kind: fixed, value: 30}}\n");
  write(d / "m.csv", "label,metric,value,workload.arrival.rate_per_s,phase,batch,context\n"
                     "a,e2e_p50_s,1.0,2,,,\nb,tpot_mean_s,0.01,4,,,\nc,e2e_p50_s,1.0,8,,,\n"
                     "s,step_ms,10,,decode,4,512\nd,output_tokens_per_s,100,2,,,\n");
  ValidateOptions opts;
  opts.scenario_path = (d / "s.yaml").string();
  opts.repetitions = 2;
  const auto points = read_measured_csv((d / "m.csv").string());
  const ValidationResult serial = validate(opts, points, testing::catalog(), {});
  opts.jobs = 4;
  const ValidationResult parallel = validate(opts, points, testing::catalog(), {});
  EXPECT_EQ(serial.scenarios_run, 3);  // rates 2, 4 and 8; the step point runs none
  EXPECT_EQ(parallel.scenarios_run, 3);
  ASSERT_EQ(parallel.points.size(), serial.points.size());
  for (std::size_t i = 0; i < serial.points.size(); ++i) {
    EXPECT_EQ(parallel.points[i].predicted, serial.points[i].predicted) << i;
    EXPECT_EQ(parallel.points[i].point.origin, serial.points[i].point.origin) << i;
  }
  EXPECT_EQ(parallel.overall.mape, serial.overall.mape);
  fs::remove_all(d);
}

TEST(Validate, PointsOutsideTheScenarioAreRefusedWithFileAndLine) {
  // Issue #16 item 7: a step at a context the model cannot hold, and zero or negative values.
  const fs::path d = temp_dir("outside");
  write(d / "s.yaml", "model: llama-2-7b\nworkload: {num_requests: 20, arrival: {kind: all-at-once}}\n");
  ValidateOptions opts;
  opts.scenario_path = (d / "s.yaml").string();
  write(d / "m.csv", "metric,value,phase,batch,context\nstep_ms,9.4,decode,1,2048\nstep_ms,12.0,decode,1,8192\n");
  const auto pts = read_measured_csv((d / "m.csv").string());
  EXPECT_EQ(message_of([&] { validate(opts, pts, testing::catalog(), {}); }),
            (d / "m.csv").string() + ":3: context 8192 exceeds llama-2-7b's context of 4096 tokens");
  for (const char* v : {"0", "-3.5"}) {
    write(d / "z.csv", std::string("metric,value\ne2e_p50_s,") + v + "\n");
    EXPECT_EQ(message_of([&] { read_measured_csv((d / "z.csv").string()); }),
              (d / "z.csv").string() + ":2: value must be a number > 0 (got '" + v + "')");
  }
  const std::string cmd = std::string(KVSIM_BINARY) + " validate -c " + (d / "s.yaml").string() + " --measured " +
                          (d / "m.csv").string() + " > /dev/null 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  fs::remove_all(d);
}

TEST(Validate, CliExitsWith4OverTheThresholdAndWritesJson) {
  const fs::path d = temp_dir("cli");
  write(d / "s.yaml", "model: llama-3-8b\nworkload: {num_requests: 20, arrival: {kind: all-at-once}}\n");
  write(d / "m.csv", "metric,value,phase,batch,context\nstep_ms,1000,decode,8,512\n");
  const std::string cmd = std::string(KVSIM_BINARY) + " validate -c " + (d / "s.yaml").string() + " --measured " +
                          (d / "m.csv").string() + " --out " + (d / "v.json").string();
  EXPECT_EQ(WEXITSTATUS(std::system((cmd + " --max-mape 0.5 > /dev/null 2>&1").c_str())), 4);
  EXPECT_EQ(WEXITSTATUS(std::system((cmd + " --max-mape 1.0 > /dev/null 2>&1").c_str())), 0);
  std::ifstream in(d / "v.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["points"].size(), 1u);
  EXPECT_LT(j["overall"]["bias"].get<double>(), -0.9);  // a 1 s decode step is far off
  EXPECT_EQ(WEXITSTATUS(std::system((std::string(KVSIM_BINARY) + " validate -c " + (d / "s.yaml").string() +
                                     " > /dev/null 2>&1").c_str())),
            2);  // --measured is required
  fs::remove_all(d);
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

// An unfused dequantize pass priced at a generic cast kernel's bandwidth: kv_dequant =
// (compressed + fp16 bytes of every attended token) x layers / bandwidth; attention runs as
// the fp16 kernel (calibrated: the fp16 table).
TEST(DequantBandwidth, CastPassClosedForm) {
  const std::string wl = "workload: {num_requests: 5, arrival: {kind: all-at-once}}\n";
  const Scenario fp16 = testing::scenario("model: llama-3-8b\n" + wl);
  const Scenario cast = testing::scenario(
      "model: llama-3-8b\ncompression: {method: {method: fp8, fused_dequant: false, dequant_bandwidth_gbps: 1000}}\n" + wl);
  BatchShape b;
  b.decode = {BatchShape::uniform_decode(32, 2048)};
  const StepCost c = make_cost_model(cast)->step_cost(b);
  const double tokens = 32.0 * 2048;  // uniform_decode: 32 requests attending over 2048 tokens each
  const double bytes_per_token_layer = 8 * 128 * 2 * (1.0 + 2.0);  // K and V: fp8 read + fp16 written
  EXPECT_NEAR(static_cast<double>(c[Op::kKvDequant].ns), tokens * bytes_per_token_layer * 32 / 1000.0, 2.0);
  EXPECT_EQ(c[Op::kAttnDecode].ns, make_cost_model(fp16)->step_cost(b)[Op::kAttnDecode].ns);
  EXPECT_EQ(message_of([&] {
              testing::scenario("compression: {method: {method: fp8, dequant_bandwidth_gbps: 1000}}\n" + wl);
            }),
            "<test>:1: compression: method 'fp8{dequant_bandwidth_gbps=1000}': dequant_bandwidth_gbps applies to an "
            "unfused dequantize pass (set fused_dequant: false)");
}

}  // namespace
}  // namespace kvsim
