#pragma once
// Runs a scenario in-process and returns its report (tests share this instead of each
// wiring Simulation, sinks and cost model by hand).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "sim/config/scenario.h"
#include "sim/pipeline/run_report.h"
#include "sim/metrics/summary.h"
#include "sim/serving/simulation.h"

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

inline Outcome run(const Scenario& s, std::vector<MetricsSink*> extra = {}) {
  SummaryCollector summary;
  std::vector<MetricsSink*> sinks{&summary};
  sinks.insert(sinks.end(), extra.begin(), extra.end());
  const auto cost = make_cost_model(s);
  Simulation sim(s, *cost, sinks);
  Outcome o;
  o.result = sim.run();
  o.report = build_report(s, cost->describe(), "test", o.result, summary.summary(o.result.end_time));
  o.mean_in_system = summary.mean_in_system(o.result.end_time);
  o.e2e_sum_s = summary.e2e_s().sum();
  return o;
}

inline Outcome run(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return run(scenario(yaml, overrides));
}

}  // namespace kvsim::testing
