#pragma once
// `kvsim validate`: kvsim's predictions against measurements a user brings.
//
// Measured points come from a CSV (docs/validation.md has the format): each row names a
// metric, its measured value, and the scenario it was measured under as extra columns whose
// headers are scenario keys (applied like --set). Serving metrics are the sweep.csv metric
// names (ttft_p50_s, tpot_mean_s, e2e_p99_s, output_tokens_per_s, ...); `step_ms` is one
// engine iteration, with the reserved columns phase, batch and context. A `vllm bench serve`
// result JSON is read as serving points too.
//
// Every distinct scenario (base scenario + a row's keys) is run once per repetition; the
// prediction is the mean over repetitions. Error = (predicted - measured) / measured.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/spec/catalog.h"
#include "sim/config/scenario.h"

namespace kvsim {

struct MeasuredPoint {
  std::string origin;  // "file:line" (or "file: field" for JSON), for messages and reports
  std::string label;   // optional, from a `label` column
  std::vector<std::pair<std::string, std::string>> keys;  // scenario overrides, in column order
  std::string metric;
  double value = 0;
  // step_ms only
  std::string phase;
  std::int32_t batch = 0;
  std::int32_t context = 0;
};

// Reads a measured-results CSV. Relative file paths in key values (a trace, a pairs file)
// are resolved against the CSV's directory when the file exists there. Throws InputError
// naming the file, line and column.
std::vector<MeasuredPoint> read_measured_csv(const std::string& path);

// Reads a `vllm bench serve` (benchmark_serving.py) result JSON: request and token
// throughput, TTFT, TPOT, ITL and E2E latency means, medians and p99 (ms -> s). Throws
// InputError when it is not such a file.
std::vector<MeasuredPoint> read_vllm_bench_json(const std::string& path);

// The number of GPU KV blocks an engine resolved, from its log: vLLM V0 ("# GPU blocks: N",
// "# cuda blocks: N") or V1 ("GPU KV cache size: N tokens", divided by `block_size`). The
// last match wins (a restarted engine logs again). Throws InputError when none is found.
std::int64_t read_vllm_log_gpu_blocks(const std::string& path, int block_size);

// The metric names validate understands.
std::vector<std::string> validation_metric_names();

struct ValidatedPoint {
  MeasuredPoint point;
  double predicted = 0;
  double error = 0;  // (predicted - measured) / measured
};

struct MetricStats {
  std::string metric;
  int points = 0;
  double mape = 0;     // mean |error|
  double bias = 0;     // mean error (> 0: kvsim over-predicts)
  double max_abs = 0;
  double pearson = 0;  // of (measured, predicted); 0 when undefined (fewer than 2 points or no spread)
};

struct ValidationResult {
  std::vector<ValidatedPoint> points;
  std::vector<MetricStats> metrics;  // per metric, in first-seen order
  std::vector<MetricStats> labels;   // per (metric, label) when rows carry labels: "metric [label]"
  MetricStats overall;               // over every point (pearson: over every point too)
  int scenarios_run = 0;
};

struct ValidateOptions {
  std::string scenario_path;                 // empty: the built-in default
  std::vector<std::string> overrides;        // --set, applied before each row's keys
  int repetitions = 1;                       // seeds seed .. seed + n - 1
  int jobs = 1;                              // threads for the distinct scenarios' runs
};

// Throws InputError for unknown metrics, malformed step points or scenario errors.
ValidationResult validate(const ValidateOptions& opts, const std::vector<MeasuredPoint>& measured,
                          const Catalog& catalog, const CalibrationSource& calibration);

// Pearson correlation of two equally long series (0 when undefined).
double pearson(const std::vector<double>& x, const std::vector<double>& y);

nlohmann::json validation_json(const ValidationResult& r);
std::string validation_text(const ValidationResult& r, int worst);

}  // namespace kvsim
