#pragma once
// kvsim's one metric catalogue: every scalar a run reports under a stable name, with its unit,
// its meaning and where it lives in the run report. Sweep columns (sweep.csv, sweep.jsonl),
// validate's metric names and `kvsim list metrics` all come from this table, so a new metric is
// one row here (plus the summary field it reads); docs/metrics.md's table is checked against it.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace kvsim {

struct MetricDef {
  std::string name;         // column / metric name, e.g. ttft_p50_s
  std::string unit;         // "s", "req/s", "tokens/s", "tokens", "requests", "fraction", "count", "ratio"
  std::string description;  // one line, for `kvsim list metrics`, docs and plot labels
  std::string pointer;      // JSON pointer into the run report, e.g. /summary/latency_s/ttft/p50
};

// In column order (the order sweep.csv has always had).
const std::vector<MetricDef>& metric_catalog();
std::vector<std::string> metric_names();
// Nullptr when no metric has this name.
const MetricDef* find_metric(const std::string& name);
// The metric's value in a run report (build_report). Throws InvariantViolation when the report
// lacks it (the catalogue and the report disagree: a kvsim bug).
double metric_value(const MetricDef& m, const nlohmann::json& report);
// Every metric's value, in catalogue order.
std::vector<double> metric_values(const nlohmann::json& report);

}  // namespace kvsim
