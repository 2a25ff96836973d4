#pragma once
// Runs a scenario in-process through run_scenario and returns its report (tests share this
// instead of each wiring Simulation, sinks and cost model by hand).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "sim/config/scenario.h"
#include "sim/pipeline/pipeline.h"
#include "sim/pipeline/run_report.h"

namespace kvsim::testing {

struct Outcome {
  nlohmann::json report;
  RunResult result;
  double mean_in_system = 0;
  double e2e_sum_s = 0;
};

inline const Catalog& catalog() {
  static const Catalog c = Catalog::builtin();
  return c;
}

inline Scenario scenario(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return load_scenario_text(yaml, "<test>", overrides, std::nullopt, catalog());
}

// Through the library's own pipeline (run_scenario), so tests run scenarios exactly as the CLI does.
inline Outcome run(const Scenario& s, std::vector<MetricsSink*> extra = {}) {
  RunOutcome r = run_scenario(s, {std::move(extra), false});
  Outcome o;
  o.result = r.result;
  o.report = std::move(r.report);
  o.mean_in_system = r.summary.littles_law.mean_in_system;
  o.e2e_sum_s = r.summary.latency_s.e2e.mean * static_cast<double>(r.summary.latency_s.e2e.count);
  return o;
}

inline Outcome run(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return run(scenario(yaml, overrides));
}

}  // namespace kvsim::testing
