// `kvsim step` as a library call prices a step exactly as a scenario with the same model, GPU,
// engine and method does (one cost-model path, issue #17 item 1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../support/run_helpers.h"
#include "sim/pipeline/step_prediction.h"
#include "sim/serving/cost_model_factory.h"

namespace kvsim {
namespace {

TEST(StepPrediction, AgreesWithTheScenarioCostModel) {
  const std::vector<std::string> installed = {std::string(KVSIM_SOURCE_DIR) + "/calibration/data"};
  struct Case {
    const char* engine;
    const char* compression;
    StepPhase phase;
    int batch, context;
    std::vector<std::string> dirs;
  };
  const std::vector<Case> cases = {
      {"vllm-v1", "fp16", StepPhase::kDecode, 8, 1024, {}},
      {"vllm-v1", "kivi-4", StepPhase::kDecode, 32, 2048, {}},
      {"sglang", "fp8", StepPhase::kPrefill, 2, 512, {}},
      {"hf-cb", "fp16", StepPhase::kDecode, 16, 700, {}},
      {"vllm-v1", "fp16", StepPhase::kDecode, 8, 1024, installed},  // the installed H200 bundle
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.engine) + " " + c.compression + (c.dirs.empty() ? " roofline" : " installed"));
    StepQuery q;
    q.model = "llama-3-8b";
    q.gpu = "h200";
    q.engine = c.engine;
    q.compression = c.compression;
    q.phase = c.phase;
    q.batch = c.batch;
    q.context = c.context;
    const StepPrediction p = predict_step(q, testing::catalog(), c.dirs);
    const Scenario s = load_scenario_text(std::string("model: llama-3-8b\ngpu: h200\nengine: {preset: ") + c.engine +
                                              "}\ncompression: " + c.compression + "\nworkload: {arrival: {rate_per_s: 1}}\n",
                                          "<test>", {}, std::nullopt, testing::catalog(), CalibrationSource(c.dirs));
    const auto cost = make_cost_model(s);
    EXPECT_EQ(p.cost_model, cost->describe());
    EXPECT_EQ(p.cost_model.find("calibrated") != std::string::npos, !c.dirs.empty()) << p.cost_model;
    const BatchShape shape = step_shape(c.phase, c.batch, c.context, s.methods[0], 0);
    EXPECT_EQ(p.cost.total_ns, cost->step_cost(shape).total_ns);
  }
}

}  // namespace
}  // namespace kvsim
