#include "sim/pipeline/pipeline.h"

#include <algorithm>
#include <chrono>

#include "models/compression/kv_layout.h"
#include "sim/metrics/summary.h"
#include "sim/pipeline/run_report.h"
#include "sim/serving/cost_model_factory.h"

namespace kvsim {

RunOutcome run_scenario(const Scenario& s, const RunScenarioOptions& options) {
  SummaryCollector summary(s.run.goodput_ttft_s, s.run.goodput_tpot_s);
  std::vector<MetricsSink*> sinks{&summary};
  sinks.insert(sinks.end(), options.extra_sinks.begin(), options.extra_sinks.end());
  const auto cost = make_cost_model(s);
  Simulation sim(s, *cost, sinks);
  RunOutcome out;
  out.cost_model = cost->describe();
  const auto t0 = std::chrono::steady_clock::now();
  out.result = sim.run();
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string workload = options.describe_workload && s.workload ? s.workload->describe() : "";
  out.summary = summary.result(out.result.end_time);
  out.report = build_report(s, out.cost_model, workload, out.result, to_json(out.summary));
  return out;
}

BatchShape step_shape(StepPhase phase, int batch, int context, const CompressionSpec& method,
                      std::uint8_t method_index) {
  BatchShape shape;
  if (phase == StepPhase::kPrefill) {
    for (int i = 0; i < batch; ++i) shape.prefills.push_back({context, 0, true, method_index});
  } else {
    // Each request attends over what its method keeps of a `context`-token sequence.
    const std::int64_t resident = std::min(kept_after_prefill(method.retention, context), resident_cap(method.retention));
    shape.decode = {BatchShape::uniform_decode(batch, static_cast<std::int32_t>(resident), method_index)};
  }
  return shape;
}

}  // namespace kvsim
