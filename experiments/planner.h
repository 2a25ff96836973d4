#pragma once
// Capacity planning: for each candidate (a point of a grid over config keys: method, GPU,
// engine knobs...), the highest request rate one replica sustains under the SLOs, found by
// bisection on the arrival rate; then replicas for a target rate, cost per million tokens,
// an uncertainty band, and a ranking (optionally weighed by a quality score per method).
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/sweep.h"

namespace kvsim {

struct SloLimit {
  std::string metric;      // ttft, tpot, e2e, itl, queueing
  std::string percentile;  // mean, p50, p90, p95, p99, max
  double limit_s = 0;
};

struct PlanSpec {
  std::string source;
  std::vector<SloLimit> slo;
  // Goodput SLO (alternative or addition to percentile limits): at least `fraction` of the
  // requests must finish with TTFT <= ttft_s and TPOT <= tpot_s.
  double goodput_fraction = 0;
  double goodput_ttft_s = 0;
  double goodput_tpot_s = 0;
  SweepSpec candidates;           // axes / zip as in a sweep (repetitions ignored here)
  std::optional<double> target_rate_per_s;
  double min_rate = 0.05;
  double max_rate = 1000;
  double rel_tolerance = 0.02;
  std::int64_t requests = 2000;   // per run
  int repetitions = 3;            // seeds per candidate: the band
  double calibration_error = -1;  // <0: 0.10 with a calibrated cost model, 0.25 roofline
  std::map<std::string, double> quality;   // method name -> score (higher is better)
  std::map<std::string, double> prices;    // gpu name -> $/hour (overrides the catalog)
  std::string quality_key = "compression"; // which parameter the quality scores refer to
};

PlanSpec load_plan_spec(const std::string& path);
PlanSpec parse_plan_spec(const std::string& text, const std::string& source);

enum class Verdict { kStable, kBacklogged, kOverloaded };
const char* verdict_name(Verdict v);
// stable: served at the offered rate with a flat queue; backlogged: served, but the queue
// grows through the run; overloaded: throughput falls short of the offered rate. Only a
// stable run's latencies are an answer.
Verdict classify_run(const nlohmann::json& report, double offered_rate);
// Checks the SLO limits against a run's summary; returns the violated limits (empty: met).
std::vector<std::string> slo_violations(const std::vector<SloLimit>& slo, const nlohmann::json& report,
                                       double goodput_fraction = 0);

struct PlanResult {
  nlohmann::json json;  // per candidate: params, rate, band, verdicts, latencies, replicas, cost
  std::string table;    // ranked text table
};

PlanResult run_plan(const PlanSpec& spec, const std::string& base_path, const Catalog& catalog,
                    const CalibrationSource& calibration_dirs, int jobs);

}  // namespace kvsim
