#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "sim/cli/commands.h"
#include "sim/core/atomic_file.h"
#include "sim/core/output_set.h"
#include "sim/core/error.h"
#include "sim/metrics/output_writers.h"
#include "sim/pipeline/run_report.h"
#include "sim/pipeline/pipeline.h"

namespace po = boost::program_options;

namespace kvsim::cli {

int run_command(const std::vector<std::string>& args) {
  po::options_description opts("kvsim run [options]\n\nSimulate a scenario and print a summary");
  std::string config, out_dir, format = "text", catalog_dir, calibration;
  std::vector<std::string> sets;
  std::int64_t seed = -1;
  opts.add_options()("help,h", "show this help")(
      "config,c", po::value(&config), "scenario YAML (default: the built-in default scenario)")(
      "set", po::value(&sets)->composing(), "override a scenario key: --set engine.max_num_seqs=64 (repeatable)")(
      "seed", po::value(&seed), "override the scenario's seed")(
      "out", po::value(&out_dir), "also write report.json, requests.csv, timeseries.csv, trace.json, resolved.yaml here")(
      "format", po::value(&format), "stdout format: text (default) or json")(
      "catalog", po::value(&catalog_dir), "extra catalog directory (models/*.yaml, gpus/*.yaml)")(
      "calibration", po::value(&calibration),
      "calibration bundle directory (calibrated cost model; transfer mode if measured on another GPU)");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  if (format != "text" && format != "json") throw InputError("--format must be 'text' or 'json' (got '" + format + "')");
  if (vm.count("seed") && seed < 0) throw InputError("--seed must be >= 0");

  Catalog catalog = Catalog::builtin();
  if (!catalog_dir.empty()) catalog.add_directory(catalog_dir);
  if (!calibration.empty()) sets.push_back("cost_model.calibration=" + calibration);
  const Scenario scenario = load_scenario(
      config, sets, vm.count("seed") ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(seed)) : std::nullopt,
      catalog, calibration_search_dirs());

  // The files of one run replace the previous run's as a set (sim/core/output_set.h).
  std::unique_ptr<OutputSet> out_set;
  std::string staging;
  if (!out_dir.empty()) {
    out_set = std::make_unique<OutputSet>(
        out_dir, std::set<std::string>{"report.json", "requests.csv", "timeseries.csv", "trace.json", "resolved.yaml"});
    staging = out_set->staging();
  }
  std::vector<MetricsSink*> files;
  std::unique_ptr<RequestCsvWriter> requests;
  std::unique_ptr<TimeseriesWriter> timeseries;
  std::unique_ptr<ChromeTraceWriter> trace;
  if (!out_dir.empty()) {
    namespace fs = std::filesystem;
    requests = std::make_unique<RequestCsvWriter>((fs::path(staging) / "requests.csv").string());
    timeseries = std::make_unique<TimeseriesWriter>((fs::path(staging) / "timeseries.csv").string());
    trace = std::make_unique<ChromeTraceWriter>((fs::path(staging) / "trace.json").string(),
                                                scenario.run.max_trace_events);
    files = {requests.get(), timeseries.get(), trace.get()};
  }
  const RunOutcome outcome = run_scenario(scenario, {files, /*describe_workload=*/true});
  const RunResult& result = outcome.result;
  const nlohmann::json& report = outcome.report;
  const double wall = outcome.wall_s;
  if (!out_dir.empty()) {
    namespace fs = std::filesystem;
    nlohmann::json full = report;
    // Volatile fields live only in the file's context, never on stdout.
    full["context"]["wall_seconds"] = wall;
    full["context"]["steps_per_wall_second"] = wall > 0 ? static_cast<double>(result.counters.steps) / wall : 0.0;
    if (scenario.calibration) full["context"]["calibration_bundle"] = scenario.calibration->bundle_dir;
    write_file_atomically((fs::path(staging) / "report.json").string(), full.dump(2) + "\n");
    YAML::Emitter em;
    em << scenario.resolved;
    write_file_atomically((fs::path(staging) / "resolved.yaml").string(), std::string(em.c_str()) + "\n");
    requests->commit();
    timeseries->commit();
    trace->commit();
    out_set->commit();
  }
  if (format == "json") std::cout << report.dump(2) << "\n";
  else std::cout << render_text_summary(report);
  std::cerr << "kvsim run: " << result.counters.steps << " steps, " << result.events << " events in " << wall
            << " s wall\n";
  return 0;
}

}  // namespace kvsim::cli
