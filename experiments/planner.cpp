#include "experiments/planner.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>

#include "sim/config/scenario.h"
#include "sim/core/config_reader.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/core/worker_pool.h"
#include "sim/core/text_file.h"
#include "sim/pipeline/run_report.h"
#include "sim/pipeline/pipeline.h"

namespace kvsim {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kStable: return "stable";
    case Verdict::kBacklogged: return "backlogged";
    case Verdict::kOverloaded: return "overloaded";
  }
  return "?";
}

PlanSpec parse_plan_spec(const std::string& text, const std::string& source) {
  PlanSpec p;
  p.source = source;
  const YAML::Node doc = parse_yaml_text(text, source);
  if (!doc.IsMap()) throw InputError(source + ": a plan spec must be a mapping");
  ErrorList errors;
  ConfigReader r(doc, "", source, errors);
  // slo: {ttft_p99_s: 2, tpot_p99_s: 0.1, e2e_p90_s: 30}
  const YAML::Node goodput = r.raw("goodput");
  if (goodput) {
    ConfigReader g(goodput, "goodput", source, errors);
    p.goodput_fraction = g.require<double>("fraction", positive_upto(1));
    p.goodput_ttft_s = g.get<double>("ttft_s", 0.0, closed(0, kSimTimeLimitS, "s"));
    p.goodput_tpot_s = g.get<double>("tpot_s", 0.0, closed(0, kSimTimeLimitS, "s"));
    if (p.goodput_ttft_s <= 0 && p.goodput_tpot_s <= 0) g.error("ttft_s", "give ttft_s and/or tpot_s");
    g.finish();
  }
  const YAML::Node slo = r.raw("slo");
  const std::vector<std::string> metrics = {"ttft", "tpot", "e2e", "itl", "queueing"};
  const std::vector<std::string> pcts = {"mean", "p50", "p90", "p95", "p99", "max"};
  if (!slo && goodput) {
    // goodput alone is a valid SLO
  } else if (!slo || !slo.IsMap() || slo.size() == 0) {
    r.error("slo", "required: a mapping like {ttft_p99_s: 2.0, tpot_p99_s: 0.1} (or a goodput: section)");
  } else {
    ConfigReader sr(slo, "slo", source, errors);
    for (const auto& kv : slo) {
      const std::string key = yaml_key(kv.first).value_or("<non-scalar key>");
      std::vector<std::string> parts;
      std::stringstream ss(key);
      for (std::string t; std::getline(ss, t, '_');) parts.push_back(t);
      std::vector<std::string> valid;
      for (const auto& m : metrics) {
        for (const auto& q : pcts) valid.push_back(m + "_" + q + "_s");
      }
      if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
        sr.error(key, "unknown SLO" + did_you_mean(key, valid) + " (form: <ttft|tpot|e2e|itl|queueing>_<mean|p50|p90|p95|p99|max>_s)");
        continue;
      }
      const double v = sr.get<double>(key, 0, positive_upto(kSimTimeLimitS, "s"));
      p.slo.push_back({parts[0], parts[1], v});
    }
  }
  const YAML::Node cand = r.raw("candidates");
  if (!cand) {
    r.error("candidates", "required: axes over config keys, e.g. {axes: {compression: [fp16, kivi-4]}}");
  } else {
    YAML::Emitter em;
    em << cand;
    try {
      p.candidates = parse_sweep_spec(em.c_str(), source + " (candidates)");
    } catch (const InputError& e) {
      errors.add(e.what());
    }
  }
  p.target_rate_per_s = r.get_optional<double>("target_rate_per_s", positive_upto(1e9, "requests/s"));
  ConfigReader s = r.child("search");
  p.min_rate = s.get<double>("min_rate_per_s", p.min_rate, positive_upto(1e9, "requests/s"));
  p.max_rate = s.get<double>("max_rate_per_s", p.max_rate, positive_upto(1e9, "requests/s"));
  p.rel_tolerance = s.get<double>("rel_tolerance", p.rel_tolerance, Range{0, 0.5, true, true});
  // Fewer than 100 requests cannot tell a stable queue from a growing one.
  p.requests = s.get<std::int64_t>("requests", p.requests, closed(100, 1e9, "requests per run"));
  if (!(p.max_rate > p.min_rate)) s.error("max_rate_per_s", "need 0 < min_rate_per_s < max_rate_per_s");
  s.finish();
  p.repetitions = r.get<int>("repetitions", p.repetitions, closed(1, 1e4));
  // A negative value (the default) picks the cost model's documented error.
  p.calibration_error = r.get<double>("calibration_error", p.calibration_error, Range{-1, 1, false, true, "(a fraction; < 0: the cost model's)"});
  p.quality_key = r.get<std::string>("quality_key", p.quality_key);
  for (const char* mapkey : {"quality", "prices"}) {
    const YAML::Node m = r.raw(mapkey);
    if (!m) continue;
    if (!m.IsMap()) {
      r.error(mapkey, "expected a mapping name: number");
      continue;
    }
    ConfigReader mr(m, mapkey, source, errors);
    for (const auto& kv : m) {
      const std::string k = yaml_key(kv.first).value_or("<non-scalar key>");
      const double v = mr.get<double>(k, 0, closed(0, 1e12));
      (std::string(mapkey) == "quality" ? p.quality : p.prices)[k] = v;
    }
  }
  r.finish();
  errors.throw_if_any();
  return p;
}

PlanSpec load_plan_spec(const std::string& path) {
  return parse_plan_spec(read_text_file(path, "plan spec"), path);
}

Verdict classify_run(const nlohmann::json& r, double offered) {
  const auto& s = r["summary"];
  if (s["requests"]["unfinished"].get<std::int64_t>() > 0) return Verdict::kOverloaded;
  // A queue that grows through the run: compare the queueing delay of the first and last
  // quarter of arrivals.
  const double first = s["queueing_trend_s"]["first_quarter"].get<double>();
  const double last = s["queueing_trend_s"]["last_quarter"].get<double>();
  if (last > 4.0 * first + 1.0) return Verdict::kOverloaded;
  // Work left over when arrivals stop: a system that keeps up drains in about one request's
  // latency; an overloaded one needs a large share of the arrival window. (Throughput over
  // the whole run is not a test: its span includes the drain, so it reads low even when
  // nothing is overloaded.)
  const double window = s["arrival_window_s"].get<double>();
  const double drain = s["drain_s"].get<double>();
  // Against the tail latency, not the median: one long answer (a length effect's tail) may
  // finish last without any queue behind it.
  const double tail = s["latency_s"]["e2e"]["p99"].get<double>();
  if (drain > 0.25 * window && drain > 2.0 * tail) return Verdict::kOverloaded;
  if (last > 2.0 * first + 0.1) return Verdict::kBacklogged;
  (void)offered;
  return Verdict::kStable;
}

std::vector<std::string> slo_violations(const std::vector<SloLimit>& slo, const nlohmann::json& r,
                                       double goodput_fraction) {
  std::vector<std::string> out;
  if (goodput_fraction > 0) {
    const double g = r["summary"]["goodput"]["fraction"].get<double>();
    if (g < goodput_fraction) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "goodput %.3f < %.3f", g, goodput_fraction);
      out.push_back(buf);
    }
  }
  for (const auto& l : slo) {
    const double v = r["summary"]["latency_s"][l.metric][l.percentile].get<double>();
    if (v > l.limit_s) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s %s %.4g s > %.4g s", l.metric.c_str(), l.percentile.c_str(), v, l.limit_s);
      out.push_back(buf);
    }
  }
  return out;
}

namespace {

struct Probe {
  bool ok = false;
  Verdict verdict = Verdict::kOverloaded;
  nlohmann::json report;
  std::vector<std::string> violations;
};

Probe probe(const std::string& base, std::vector<std::string> sets, double rate, std::uint64_t seed,
            const PlanSpec& spec, const Catalog& catalog, const CalibrationSource& dirs) {
  sets.push_back("workload.num_requests=" + std::to_string(spec.requests));
  sets.push_back("workload.arrival.rate_per_s=" + std::to_string(rate));
  if (spec.goodput_fraction > 0) {
    sets.push_back("run.goodput_ttft_s=" + std::to_string(spec.goodput_ttft_s));
    sets.push_back("run.goodput_tpot_s=" + std::to_string(spec.goodput_tpot_s));
  }
  const Scenario s = load_scenario(base, sets, seed, catalog, dirs);
  Probe p;
  p.report = run_scenario(s).report;
  p.verdict = classify_run(p.report, rate);
  p.violations = slo_violations(spec.slo, p.report, spec.goodput_fraction);
  p.ok = p.verdict == Verdict::kStable && p.violations.empty();
  return p;
}

struct Found {
  double rate = 0;  // 0: no load met the SLO
  Probe at;
  std::string reason;
};

// Bisection on the rate: the largest rate whose run is stable and meets every SLO.
Found bisect(const std::string& base, const std::vector<std::string>& sets, std::uint64_t seed, const PlanSpec& spec,
             const Catalog& catalog, const CalibrationSource& dirs) {
  Found f;
  Probe lo = probe(base, sets, spec.min_rate, seed, spec, catalog, dirs);
  if (!lo.ok) {
    f.reason = lo.verdict != Verdict::kStable
                   ? std::string("even ") + std::to_string(spec.min_rate) + " req/s is " + verdict_name(lo.verdict)
                   : "no load meets the SLO: at " + std::to_string(spec.min_rate) + " req/s " + join(lo.violations, "; ");
    f.at = lo;
    return f;
  }
  Probe hi = probe(base, sets, spec.max_rate, seed, spec, catalog, dirs);
  if (hi.ok) {
    f.rate = spec.max_rate;
    f.at = hi;
    f.reason = "met at the search's max_rate_per_s (raise it)";
    return f;
  }
  double a = spec.min_rate, b = spec.max_rate;
  Probe best = lo;
  while ((b - a) / b > spec.rel_tolerance) {
    const double mid = std::sqrt(a * b);  // geometric: the range spans orders of magnitude
    Probe m = probe(base, sets, mid, seed, spec, catalog, dirs);
    if (m.ok) {
      a = mid;
      best = std::move(m);
    } else {
      b = mid;
    }
  }
  f.rate = a;
  f.at = best;
  return f;
}

std::string param_value(const SweepPoint& p, const std::string& key) {
  for (const auto& [k, v] : p.params) {
    if (k == key) return v;
  }
  return "";
}

}  // namespace

PlanResult run_plan(const PlanSpec& spec, const std::string& base_path, const Catalog& catalog,
                    const CalibrationSource& dirs, int jobs) {
  SweepSpec cands = spec.candidates;
  cands.repetitions = 1;
  const Scenario base = load_scenario(base_path, {}, std::nullopt, catalog, dirs);
  std::vector<SweepPoint> points = expand_sweep(cands, base.seed);
  validate_sweep_axes(cands, base_path, catalog, dirs);
  // One bisection per (candidate, repetition), in parallel; results land by index.
  const std::size_t n = points.size() * static_cast<std::size_t>(spec.repetitions);
  std::vector<Found> found(n);
  parallel_for(n, jobs, [&](std::size_t i) {
    const SweepPoint& p = points[i / static_cast<std::size_t>(spec.repetitions)];
    const std::uint64_t seed = base.seed + i % static_cast<std::size_t>(spec.repetitions);
    std::vector<std::string> sets;
    for (const auto& [k, v] : p.params) sets.push_back(k + "=" + v);
    found[i] = bisect(base_path, sets, seed, spec, catalog, dirs);
  }).rethrow_first();  // the first failure as thrown: an InvariantViolation stays one (exit 3)

  nlohmann::json out = nlohmann::json::array();
  for (std::size_t c = 0; c < points.size(); ++c) {
    const SweepPoint& p = points[c];
    std::vector<double> rates;
    const Found* median_run = nullptr;
    std::vector<const Found*> reps;
    for (int r = 0; r < spec.repetitions; ++r) reps.push_back(&found[c * static_cast<std::size_t>(spec.repetitions) + static_cast<std::size_t>(r)]);
    std::sort(reps.begin(), reps.end(), [](const Found* a, const Found* b) { return a->rate < b->rate; });
    for (const Found* f : reps) rates.push_back(f->rate);
    median_run = reps[reps.size() / 2];
    std::vector<std::string> sets;
    for (const auto& [k, v] : p.params) sets.push_back(k + "=" + v);
    const Scenario s = load_scenario(base_path, sets, std::nullopt, catalog, dirs);
    const double cal_err = spec.calibration_error >= 0 ? spec.calibration_error : (s.calibration ? 0.10 : 0.25);
    nlohmann::json j;
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : p.params) params[k] = v;
    j["params"] = params;
    const double rate = median_run->rate;
    j["rate_per_s"] = rate;
    j["band_per_s"] = {rates.front() * (1 - cal_err), rates.back() * (1 + cal_err)};
    j["seed_rates_per_s"] = rates;
    j["calibration_error"] = cal_err;
    j["cost_model"] = s.calibration ? "calibrated" : "roofline";
    if (rate <= 0) {
      j["answer"] = median_run->reason;
    } else {
      const auto& sum = median_run->at.report["summary"];
      j["verdict"] = verdict_name(median_run->at.verdict);
      j["note"] = median_run->reason;
      j["ttft_p99_s"] = sum["latency_s"]["ttft"]["p99"];
      j["tpot_p99_s"] = sum["latency_s"]["tpot"]["p99"];
      j["e2e_p99_s"] = sum["latency_s"]["e2e"]["p99"];
      const double out_tps = sum["throughput"]["output_tokens_per_s"].get<double>();
      const double all_tps = out_tps + sum["throughput"]["prompt_tokens_per_s"].get<double>();
      // The scenario is one serving unit: every GPU of every replica of every group.
      double price = 0;
      int gpus = 0;
      for (const ReplicaGroup& g : s.cluster.groups) {
        const double each = spec.prices.count(g.gpu.name) ? spec.prices.at(g.gpu.name) : g.gpu.price_per_hour_usd;
        price += each * g.count * g.parallelism.gpus();
        gpus += g.count * g.parallelism.gpus();
      }
      j["gpu"] = s.gpu.name;
      j["gpus_per_unit"] = gpus;
      j["price_per_hour_usd"] = price;
      j["usd_per_million_output_tokens"] = out_tps > 0 ? price / (out_tps * 3600.0) * 1e6 : 0.0;
      j["usd_per_million_tokens"] = all_tps > 0 ? price / (all_tps * 3600.0) * 1e6 : 0.0;
      if (spec.target_rate_per_s) {
        j["replicas_for_target"] = static_cast<int>(std::ceil(*spec.target_rate_per_s / rate - 1e-9));
        j["gpus_for_target"] = j["replicas_for_target"].get<int>() * gpus;
      }
    }
    std::string qkey = param_value(p, spec.quality_key);
    if (qkey.empty()) qkey = s.methods.front().name;
    const double q = spec.quality.count(qkey) ? spec.quality.at(qkey) : 1.0;
    j["quality"] = q;
    j["score"] = rate * q;
    out.push_back(j);
  }
  // Rank by quality-weighted sustainable rate (the rate alone when no scores are given).
  std::vector<std::size_t> order(out.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return out[a]["score"].get<double>() > out[b]["score"].get<double>(); });
  nlohmann::json ranked = nlohmann::json::array();
  std::ostringstream t;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-4s %-34s %10s %19s %9s %9s %9s %8s %9s %7s\n", "rank", "candidate", "req/s@SLO",
                "band", "TTFT p99", "TPOT p99", "E2E p99", "replicas", "$/M out", "score");
  t << buf;
  for (std::size_t k = 0; k < order.size(); ++k) {
    nlohmann::json j = out[order[k]];
    j["rank"] = k + 1;
    std::string name;
    for (auto it = j["params"].begin(); it != j["params"].end(); ++it) {
      name += (name.empty() ? "" : " ") + it.key() + "=" + it.value().get<std::string>();
    }
    if (j["rate_per_s"].get<double>() <= 0) {
      std::snprintf(buf, sizeof buf, "%-4zu %-34s %s\n", k + 1, name.c_str(), j["answer"].get<std::string>().c_str());
    } else {
      char band[64];
      std::snprintf(band, sizeof band, "[%.2f, %.2f]", j["band_per_s"][0].get<double>(), j["band_per_s"][1].get<double>());
      const std::string reps = j.contains("replicas_for_target") ? std::to_string(j["replicas_for_target"].get<int>()) : "-";
      if (j.contains("note") && !j["note"].get<std::string>().empty()) name += " *";
      std::snprintf(buf, sizeof buf, "%-4zu %-34s %10.2f %19s %8.3fs %7.1fms %8.2fs %8s %9.3f %7.2f\n", k + 1, name.c_str(),
                    j["rate_per_s"].get<double>(), band, j["ttft_p99_s"].get<double>(),
                    j["tpot_p99_s"].get<double>() * 1e3, j["e2e_p99_s"].get<double>(), reps.c_str(),
                    j["usd_per_million_output_tokens"].get<double>(), j["score"].get<double>());
    }
    t << buf;
    ranked.push_back(j);
  }
  bool any_note = false;
  for (const auto& j : ranked) any_note = any_note || (j.contains("note") && !j["note"].get<std::string>().empty());
  if (any_note) t << "* met at the search's max_rate_per_s: the true limit is higher (raise search.max_rate_per_s)\n";
  PlanResult r;
  r.json = {{"schema_version", 1}, {"plan", spec.source}, {"base", base_path.empty() ? "<builtin default>" : base_path},
            {"candidates", ranked}};
  r.table = t.str();
  return r;
}

}  // namespace kvsim
