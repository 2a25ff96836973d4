#include <boost/program_options.hpp>
#include <iostream>

#include "experiments/validate.h"
#include "sim/cli/commands.h"
#include "sim/core/atomic_file.h"
#include "sim/core/error.h"
#include "sim/core/worker_pool.h"
#include "sim/serving/engine_config.h"

namespace po = boost::program_options;

namespace kvsim::cli {

// Exit code when the overall error exceeds --max-mape (docs/cli.md).
constexpr int kValidationFailed = 4;

int validate_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "kvsim validate -c SCENARIO.yaml --measured RESULTS.csv [options]\n\n"
      "Compare kvsim's predictions with measurements: per-point error, and per metric the mean absolute\n"
      "percentage error (MAPE), the bias, the largest error and Pearson r; the worst points. Measured\n"
      "files: a CSV (columns metric, value, and scenario keys; docs/validation.md) or a `vllm bench\n"
      "serve` result JSON. Exits with 4 when the overall MAPE exceeds --max-mape");
  std::string config, out, format = "text", vllm_log;
  std::vector<std::string> measured, sets;
  double max_mape = -1;
  int repetitions = 1, worst = 5, jobs = available_cores();
  opts.add_options()("help,h", "show this help")("config,c", po::value(&config), "scenario YAML (default: built-in)")(
      "measured,m", po::value(&measured)->composing(), "measured results: .csv or a vllm bench .json (repeatable)")(
      "set", po::value(&sets)->composing(), "override a scenario key for every point (repeatable)")(
      "vllm-log", po::value(&vllm_log), "a vLLM engine log: its resolved GPU KV blocks set engine.num_gpu_blocks")(
      "max-mape", po::value(&max_mape), "fail (exit 4) when the overall MAPE exceeds this fraction, e.g. 0.15")(
      "repetitions", po::value(&repetitions), "seeds per scenario, predictions averaged (default 1)")(
      "worst", po::value(&worst), "worst points to list (default 5)")(
      "jobs,j", po::value(&jobs), "threads for the scenarios' runs (default and limit: the cores this process may use)")(
      "out", po::value(&out), "also write the full result as JSON here")(
      "format", po::value(&format), "text (default) or json");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  ErrorList errors;
  if (measured.empty()) errors.add("--measured is required");
  if (format != "text" && format != "json") errors.add("--format must be 'text' or 'json' (got '" + format + "')");
  if (vm.count("max-mape") && !(max_mape >= 0)) errors.add("--max-mape must be >= 0 (a fraction: 0.15 is 15 %)");
  if (repetitions < 1) errors.add("--repetitions must be >= 1");
  if (worst < 0) errors.add("--worst must be >= 0");
  if (jobs < 1) errors.add("--jobs must be >= 1");
  errors.throw_if_any();

  const Catalog catalog = Catalog::builtin();
  const CalibrationSource calibration(calibration_search_dirs());
  ValidateOptions o;
  o.scenario_path = config;
  o.overrides = sets;
  o.repetitions = repetitions;
  o.jobs = jobs;
  if (!vllm_log.empty()) {
    // The block count is in the engine's own pages: read the scenario's block size first.
    const Scenario s = load_scenario(config, sets, std::nullopt, catalog, calibration);
    o.overrides.push_back("engine.num_gpu_blocks=" +
                          std::to_string(read_vllm_log_gpu_blocks(vllm_log, s.engine.block_size)));
  }
  std::vector<MeasuredPoint> points;
  for (const auto& path : measured) {
    const bool json = path.size() >= 5 && path.substr(path.size() - 5) == ".json";
    auto more = json ? read_vllm_bench_json(path) : read_measured_csv(path);
    points.insert(points.end(), more.begin(), more.end());
  }
  const ValidationResult r = validate(o, points, catalog, calibration);
  const nlohmann::json j = validation_json(r);
  if (!out.empty()) write_file_atomically(out, j.dump(2) + "\n");
  if (format == "json") std::cout << j.dump(2) << "\n";
  else std::cout << validation_text(r, worst);
  if (max_mape >= 0 && r.overall.mape > max_mape) {
    std::cerr << "kvsim validate: overall MAPE " << r.overall.mape * 100 << " % exceeds --max-mape " << max_mape * 100
              << " %\n";
    return kValidationFailed;
  }
  return 0;
}

}  // namespace kvsim::cli
