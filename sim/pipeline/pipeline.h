#pragma once
// kvsim's one pipeline: load -> resolve -> run -> summarize. `kvsim run`, `step`, `sweep`,
// `plan` and `validate` all come through here, so a scenario is loaded, its cost model chosen
// and its run summarized the same way whichever command asked.
//   load:      load_scenario (sim/config/scenario.h): YAML + --set -> a resolved, immutable Scenario
//   resolve:   make_cost_model / make_group_cost_model (sim/serving/cost_model_factory.h)
//   run:       Simulation (sim/serving/simulation.h) with a SummaryCollector and any extra sinks
//   summarize: build_report (sim/pipeline/run_report.h)
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/batch_shape.h"
#include "sim/config/scenario.h"
#include "sim/metrics/run_summary.h"
#include "sim/serving/metrics_sink.h"
#include "sim/serving/simulation.h"

namespace kvsim {

// What one run of a scenario produced.
struct RunOutcome {
  RunResult result;
  RunSummary summary;      // typed; report["summary"] is to_json(summary)
  nlohmann::json report;   // {schema_version, context, summary} (run_report.h)
  std::string cost_model;  // the first replica group's cost model, described
  double wall_s = 0;       // wall time of the simulation alone (volatile: never on stdout)
};

struct RunScenarioOptions {
  // Observers beside the summary (kvsim run's file writers); called after it, in this order.
  std::vector<MetricsSink*> extra_sinks;
  // Describe the workload in the report's context (kvsim run); sweep, plan and validate rows
  // leave it empty.
  bool describe_workload = false;
};

// Runs `s` once and summarizes it.
RunOutcome run_scenario(const Scenario& s, const RunScenarioOptions& options = {});

// One engine iteration, as `kvsim step` and validate's step-time points ask for it: `batch`
// requests prefilling `context` prompt tokens each, or decoding one token each over what the
// method keeps of a `context`-token sequence.
// kMixed: `batch` decodes plus one prefill chunk (the step's prompt part, StepQuery::prefill_*), as a
// chunked-prefill or continuous-batching engine runs them in one iteration.
enum class StepPhase { kPrefill, kDecode, kMixed };
BatchShape step_shape(StepPhase phase, int batch, int context, const CompressionSpec& method,
                      std::uint8_t method_index);

}  // namespace kvsim
