#include "experiments/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "experiments/sweep.h"
#include "models/compression/kv_layout.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"
#include "sim/core/text_file.h"
#include "sim/core/worker_pool.h"
#include "sim/pipeline/run_report.h"
#include "sim/pipeline/metric_catalog.h"
#include "sim/pipeline/pipeline.h"
#include "sim/serving/cost_model_factory.h"

namespace kvsim {

namespace {

const char* kStepMetric = "step_ms";

bool is_reserved(const std::string& col) {
  return col == "metric" || col == "value" || col == "label" || col == "phase" || col == "batch" || col == "context";
}

}  // namespace

std::vector<std::string> validation_metric_names() {
  std::vector<std::string> out = {kStepMetric};
  for (const auto& m : metric_catalog()) out.push_back(m.name);
  return out;
}

std::vector<MeasuredPoint> read_measured_csv(const std::string& path) {
  namespace fs = std::filesystem;
  CsvFile csv(path);
  const int metric = csv.column("metric"), value = csv.column("value");
  if (metric < 0 || value < 0) {
    throw InputError(path + ":" + std::to_string(csv.line()) + ": expected columns 'metric' and 'value' (got " +
                     join(csv.header(), ",") + ")");
  }
  const fs::path dir = fs::path(path).parent_path();
  const std::vector<std::string> metrics = validation_metric_names();
  std::vector<MeasuredPoint> out;
  std::vector<std::string> row;
  while (csv.next(row)) {
    const std::string where = path + ":" + std::to_string(csv.line());
    MeasuredPoint p;
    p.origin = where;
    p.metric = row[static_cast<std::size_t>(metric)];
    if (std::find(metrics.begin(), metrics.end(), p.metric) == metrics.end()) {
      throw InputError(where + ": unknown metric '" + p.metric + "'" + did_you_mean(p.metric, metrics) +
                       "; valid: " + join(metrics, ", "));
    }
    const auto v = parse_double(row[static_cast<std::size_t>(value)]);
    if (!v || !std::isfinite(*v) || *v <= 0) {
      throw InputError(where + ": value must be a number > 0 (got '" + row[static_cast<std::size_t>(value)] + "')");
    }
    p.value = *v;
    for (std::size_t c = 0; c < csv.header().size(); ++c) {
      const std::string& col = csv.header()[c];
      const std::string& cell = row[c];
      if (col == "label") p.label = cell;
      if (is_reserved(col) || cell.empty()) continue;
      std::string val = cell;
      // A file named relative to the measurements (a trace next to them) stays findable.
      std::error_code ec;
      if (!fs::path(val).is_absolute() && !dir.empty() && fs::is_regular_file(dir / val, ec)) val = (dir / val).string();
      p.keys.emplace_back(col, val);
    }
    auto int_col = [&](const char* name) -> std::int32_t {
      const int c = csv.column(name);
      if (c < 0 || row[static_cast<std::size_t>(c)].empty()) {
        throw InputError(where + ": metric step_ms needs column '" + name + "'");
      }
      const auto n = parse_int(row[static_cast<std::size_t>(c)]);
      if (!n || *n < 1 || *n > 10000000) {
        throw InputError(where + ": " + name + " must be an integer in [1, 10000000] (got '" +
                         row[static_cast<std::size_t>(c)] + "')");
      }
      return static_cast<std::int32_t>(*n);
    };
    if (p.metric == kStepMetric) {
      const int ph = csv.column("phase");
      p.phase = ph < 0 ? "" : row[static_cast<std::size_t>(ph)];
      if (p.phase != "prefill" && p.phase != "decode") {
        throw InputError(where + ": metric step_ms needs phase 'prefill' or 'decode' (got '" + p.phase + "')");
      }
      p.batch = int_col("batch");
      p.context = int_col("context");
    } else {
      for (const char* c : {"phase", "batch", "context"}) {
        const int i = csv.column(c);
        if (i >= 0 && !row[static_cast<std::size_t>(i)].empty()) {
          throw InputError(where + ": column '" + c + "' applies to step_ms only (metric is '" + p.metric + "')");
        }
      }
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) throw InputError(path + ": no measured points");
  return out;
}

std::vector<MeasuredPoint> read_vllm_bench_json(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path, "vllm bench result"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw InputError(path + ": expected a JSON object (a `vllm bench serve` result)");
  // (field, kvsim metric, scale to seconds or per-second units)
  const struct {
    const char* field;
    const char* metric;
    double scale;
  } map[] = {
      {"request_throughput", "requests_per_s", 1.0}, {"output_throughput", "output_tokens_per_s", 1.0},
      {"mean_ttft_ms", "ttft_mean_s", 1e-3},         {"median_ttft_ms", "ttft_p50_s", 1e-3},
      {"p90_ttft_ms", "ttft_p90_s", 1e-3},           {"p99_ttft_ms", "ttft_p99_s", 1e-3},
      {"mean_tpot_ms", "tpot_mean_s", 1e-3},         {"median_tpot_ms", "tpot_p50_s", 1e-3},
      {"p99_tpot_ms", "tpot_p99_s", 1e-3},           {"p99_itl_ms", "itl_p99_s", 1e-3},
      {"mean_e2el_ms", "e2e_mean_s", 1e-3},          {"median_e2el_ms", "e2e_p50_s", 1e-3},
      {"p90_e2el_ms", "e2e_p90_s", 1e-3},            {"p99_e2el_ms", "e2e_p99_s", 1e-3},
  };
  std::vector<MeasuredPoint> out;
  for (const auto& m : map) {
    if (!j.contains(m.field)) continue;
    const auto& v = j[m.field];
    if (!v.is_number()) throw InputError(path + ": field '" + m.field + "' must be a number");
    const double raw = v.get<double>();
    // vLLM writes 0 for metrics it did not collect; a negative or non-finite value is no measurement.
    if (raw < 0 || !std::isfinite(raw)) {
      throw InputError(path + ": field '" + m.field + "' must be >= 0 (0: not collected) (got " + v.dump() + ")");
    }
    const double x = raw * m.scale;
    if (!(x > 0)) continue;
    MeasuredPoint p;
    p.origin = path + ": " + m.field;
    p.metric = m.metric;
    p.value = x;
    out.push_back(std::move(p));
  }
  if (out.empty()) {
    throw InputError(path + ": no known `vllm bench serve` fields (expected e.g. request_throughput, mean_ttft_ms, "
                            "median_tpot_ms, p99_e2el_ms)");
  }
  return out;
}

std::int64_t read_vllm_log_gpu_blocks(const std::string& path, int block_size) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the engine log");
  // V0: "# GPU blocks: 27000, # CPU blocks: 2048" (older: "# cuda blocks: ..."); V1: "GPU KV
  // cache size: 431,360 tokens". Plain string search: std::regex trips GCC 12's
  // maybe-uninitialized warning under the sanitizer build.
  auto number_after = [](const std::string& line, const std::string& key, std::string& digits) {
    const auto at = line.find(key);
    if (at == std::string::npos) return false;
    digits.clear();
    for (std::size_t k = at + key.size(); k < line.size(); ++k) {
      const char ch = line[k];
      if (ch >= '0' && ch <= '9') digits += ch;
      else if (ch != ',') break;
    }
    return !digits.empty();
  };
  std::int64_t blocks = -1;
  std::string line, digits;
  while (std::getline(in, line)) {
    const bool v0 = number_after(line, "# GPU blocks: ", digits) || number_after(line, "# cuda blocks: ", digits);
    const bool v1 = !v0 && number_after(line, "GPU KV cache size: ", digits) &&
                    line.find(" tokens", line.find("GPU KV cache size: ")) != std::string::npos;
    if (!v0 && !v1) continue;
    if (digits.size() > 15) throw InputError(path + ": KV cache size out of range: " + digits);
    blocks = std::stoll(digits);
    if (v1) blocks /= std::max(1, block_size);
  }
  if (blocks < 0) {
    throw InputError(path + ": no KV cache size found (expected a vLLM line '# GPU blocks: N' or 'GPU KV cache size: N "
                            "tokens')");
  }
  if (blocks < 1) throw InputError(path + ": the engine resolved 0 KV blocks");
  return blocks;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n < 2) return 0;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return 0;
  return sxy / std::sqrt(sxx * syy);
}

namespace {

MetricStats stats_of(const std::string& name, const std::vector<const ValidatedPoint*>& pts) {
  MetricStats s;
  s.metric = name;
  s.points = static_cast<int>(pts.size());
  std::vector<double> meas, pred;
  for (const auto* p : pts) {
    s.mape += std::abs(p->error);
    s.bias += p->error;
    s.max_abs = std::max(s.max_abs, std::abs(p->error));
    meas.push_back(p->point.value);
    pred.push_back(p->predicted);
  }
  if (!pts.empty()) {
    s.mape /= static_cast<double>(pts.size());
    s.bias /= static_cast<double>(pts.size());
  }
  s.pearson = pearson(meas, pred);
  return s;
}

double step_ms(const Scenario& s, const MeasuredPoint& p) {
  // A point the scenario's model cannot hold is not a measurement of it.
  if (p.context > s.model.max_context) {
    throw InputError("context " + std::to_string(p.context) + " exceeds " + s.model.name + "'s context of " +
                     std::to_string(s.model.max_context) + " tokens");
  }
  const auto cost = make_cost_model(s);
  // The first replica group's method (a fixed one, or the scenario's default).
  const std::uint8_t m = s.cluster.groups.front().method.value_or(0);
  const CompressionSpec& method = s.methods.at(m);
  const BatchShape shape =
      step_shape(p.phase == "prefill" ? StepPhase::kPrefill : StepPhase::kDecode, p.batch, p.context, method, m);
  return to_ms(cost->step_cost(shape).total_ns);
}

}  // namespace

ValidationResult validate(const ValidateOptions& opts, const std::vector<MeasuredPoint>& measured,
                          const Catalog& catalog, const CalibrationSource& calibration) {
  if (opts.repetitions < 1) throw InputError("--repetitions must be >= 1");
  ValidationResult r;
  const std::vector<std::string> names = metric_names();
  // One run (per repetition) per distinct scenario; serving metrics are read from it. The runs
  // go in parallel (parallel_for); the points are then assembled in file order, so the result and
  // the first error reported are those of a serial pass.
  auto point_sets = [&](const MeasuredPoint& p) {
    std::vector<std::string> sets = opts.overrides;
    for (const auto& [k, v] : p.keys) sets.push_back(k + "=" + v);
    return sets;
  };
  std::vector<std::vector<std::string>> distinct;  // serving scenarios, in order of first use
  std::map<std::vector<std::string>, std::size_t> index_of;
  for (const MeasuredPoint& p : measured) {
    if (p.metric == kStepMetric) continue;
    auto sets = point_sets(p);
    if (index_of.emplace(sets, distinct.size()).second) distinct.push_back(std::move(sets));
  }
  std::vector<std::vector<double>> means(distinct.size(), std::vector<double>(names.size(), 0.0));
  const ParallelOutcome ran = parallel_for(distinct.size(), opts.jobs, [&](std::size_t i) {
    const Scenario base = load_scenario(opts.scenario_path, distinct[i], std::nullopt, catalog, calibration);
    for (int rep = 0; rep < opts.repetitions; ++rep) {
      const Scenario s = rep == 0 ? base
                                  : load_scenario(opts.scenario_path, distinct[i], base.seed + static_cast<std::uint64_t>(rep),
                                                  catalog, calibration);
      const auto m = metric_values(run_scenario(s).report);
      for (std::size_t k = 0; k < m.size(); ++k) means[i][k] += m[k] / opts.repetitions;
    }
  });
  r.scenarios_run = static_cast<int>(distinct.size());
  for (const MeasuredPoint& p : measured) {
    ValidatedPoint vp;
    vp.point = p;
    try {
      if (p.metric == kStepMetric) {
        const Scenario s = load_scenario(opts.scenario_path, point_sets(p), std::nullopt, catalog, calibration);
        vp.predicted = step_ms(s, p);
      } else {
        const std::size_t i = index_of.at(point_sets(p));
        if (ran.errors[i]) std::rethrow_exception(ran.errors[i]);
        const auto idx = std::find(names.begin(), names.end(), p.metric) - names.begin();
        vp.predicted = means[i].at(static_cast<std::size_t>(idx));
      }
    } catch (const InputError& e) {
      throw InputError(p.origin + ": " + e.what());
    }
    vp.error = (vp.predicted - p.value) / p.value;
    r.points.push_back(std::move(vp));
  }
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ValidatedPoint*>> by;
  std::vector<const ValidatedPoint*> all;
  for (const auto& vp : r.points) {
    if (!by.count(vp.point.metric)) order.push_back(vp.point.metric);
    by[vp.point.metric].push_back(&vp);
    all.push_back(&vp);
  }
  for (const auto& m : order) r.metrics.push_back(stats_of(m, by[m]));
  std::vector<std::string> label_order;
  std::map<std::string, std::vector<const ValidatedPoint*>> by_label;
  for (const auto& vp : r.points) {
    if (vp.point.label.empty()) continue;
    const std::string k = vp.point.metric + " [" + vp.point.label + "]";
    if (!by_label.count(k)) label_order.push_back(k);
    by_label[k].push_back(&vp);
  }
  for (const auto& k : label_order) r.labels.push_back(stats_of(k, by_label[k]));
  r.overall = stats_of("all", all);
  return r;
}

nlohmann::json validation_json(const ValidationResult& r) {
  auto stats = [](const MetricStats& s) {
    return nlohmann::json{{"metric", s.metric}, {"points", s.points},  {"mape", s.mape},
                          {"bias", s.bias},     {"max_abs_error", s.max_abs}, {"pearson_r", s.pearson}};
  };
  nlohmann::json j;
  j["schema_version"] = 1;
  j["overall"] = stats(r.overall);
  j["scenarios_run"] = r.scenarios_run;
  for (const auto& m : r.metrics) j["metrics"].push_back(stats(m));
  for (const auto& m : r.labels) j["labels"].push_back(stats(m));
  for (const auto& p : r.points) {
    nlohmann::json keys = nlohmann::json::object();
    for (const auto& [k, v] : p.point.keys) keys[k] = v;
    nlohmann::json row = {{"origin", p.point.origin}, {"label", p.point.label}, {"metric", p.point.metric},
                          {"keys", keys},             {"measured", p.point.value}, {"predicted", p.predicted},
                          {"error", p.error}};
    if (p.point.metric == kStepMetric) {
      row["phase"] = p.point.phase;
      row["batch"] = p.point.batch;
      row["context"] = p.point.context;
    }
    j["points"].push_back(row);
  }
  return j;
}

std::string validation_text(const ValidationResult& r, int worst) {
  std::ostringstream os;
  char buf[512];
  auto describe = [](const ValidatedPoint& p) {
    std::string d = p.point.label;
    if (p.point.metric == kStepMetric) {
      d += (d.empty() ? "" : " ") + p.point.phase + " B=" + std::to_string(p.point.batch) +
           " L=" + std::to_string(p.point.context);
    }
    for (const auto& [k, v] : p.point.keys) {
      const std::string shown = v.size() > 40 ? "..." + v.substr(v.size() - 37) : v;
      d += (d.empty() ? "" : " ") + k + "=" + shown;
    }
    return d.empty() ? std::string("-") : d;
  };
  os << "kvsim validate: " << r.points.size() << " measured points, " << r.scenarios_run << " scenarios run\n\n";
  std::snprintf(buf, sizeof buf, "  %-20s %12s %12s %9s  %s\n", "metric", "measured", "predicted", "error", "point");
  os << buf;
  for (const auto& p : r.points) {
    std::snprintf(buf, sizeof buf, "  %-20s %12.6g %12.6g %+8.1f%%  %s\n", p.point.metric.c_str(), p.point.value,
                  p.predicted, p.error * 100, describe(p).c_str());
    os << buf;
  }
  os << "\n";
  std::snprintf(buf, sizeof buf, "  %-28s %6s %8s %8s %9s %9s\n", "metric", "points", "MAPE", "bias", "max|err|",
                "pearson r");
  os << buf;
  auto line = [&](const MetricStats& s) {
    std::snprintf(buf, sizeof buf, "  %-28s %6d %7.1f%% %+7.1f%% %8.1f%% %9.3f\n", s.metric.c_str(), s.points, s.mape * 100,
                  s.bias * 100, s.max_abs * 100, s.pearson);
    os << buf;
  };
  for (const auto& s : r.metrics) line(s);
  line(r.overall);
  if (!r.labels.empty()) {
    os << "\nBy label\n";
    for (const auto& s : r.labels) line(s);
  }
  if (worst > 0) {
    std::vector<const ValidatedPoint*> sorted;
    for (const auto& p : r.points) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto* a, const auto* b) { return std::abs(a->error) > std::abs(b->error); });
    os << "\nWorst points\n";
    for (int i = 0; i < worst && i < static_cast<int>(sorted.size()); ++i) {
      const auto& p = *sorted[static_cast<std::size_t>(i)];
      std::snprintf(buf, sizeof buf, "  %+8.1f%%  %-20s %s (%s)\n", p.error * 100, p.point.metric.c_str(), describe(p).c_str(),
                    p.point.origin.c_str());
      os << buf;
    }
  }
  return os.str();
}

}  // namespace kvsim
