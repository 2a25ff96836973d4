#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "experiments/planner.h"
#include "sim/cli/commands.h"
#include "sim/core/atomic_file.h"
#include "sim/core/error.h"
#include "sim/core/output_set.h"
#include "sim/core/worker_pool.h"

namespace po = boost::program_options;

namespace kvsim::cli {

int plan_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "kvsim plan -c BASE.yaml --plan PLAN.yaml [--out DIR] [options]\n\n"
      "For each candidate: the highest request rate one replica sustains under the SLOs (bisection\n"
      "on the arrival rate; overloaded runs are never an answer), replicas for a target rate,\n"
      "cost per million tokens, an uncertainty band, and a ranking");
  std::string config, plan, out, format = "text";
  int jobs = available_cores();
  opts.add_options()("help,h", "show this help")("config,c", po::value(&config), "base scenario (default: built-in)")(
      "plan", po::value(&plan), "plan spec YAML (slo, candidates, target_rate_per_s, search, quality, prices)")(
      "out", po::value(&out), "also write plan.json and plan.txt here")("jobs,j", po::value(&jobs), "worker threads")(
      "format", po::value(&format), "text (default) or json");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  ErrorList errors;
  if (plan.empty()) errors.add("--plan is required");
  if (format != "text" && format != "json") errors.add("--format must be 'text' or 'json'");
  if (jobs < 1) errors.add("--jobs must be >= 1");
  errors.throw_if_any();
  const Catalog catalog = Catalog::builtin();
  const PlanSpec spec = load_plan_spec(plan);
  const auto t0 = std::chrono::steady_clock::now();
  const CalibrationSource calibration(calibration_search_dirs());
  // plan.json and plan.txt replace the previous pair together (sim/core/output_set.h); a
  // directory kvsim cannot replace is refused before the plan runs.
  std::unique_ptr<OutputSet> out_set;
  if (!out.empty()) out_set = std::make_unique<OutputSet>(out, std::set<std::string>{"plan.json", "plan.txt"});
  const PlanResult r = run_plan(spec, config, catalog, calibration, jobs);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out_set) {
    write_file_atomically((std::filesystem::path(out_set->staging()) / "plan.json").string(), r.json.dump(2) + "\n");
    write_file_atomically((std::filesystem::path(out_set->staging()) / "plan.txt").string(), r.table);
    out_set->commit();
  }
  if (format == "json") std::cout << r.json.dump(2) << "\n";
  else std::cout << r.table;
  std::cerr << "kvsim plan: " << r.json["candidates"].size() << " candidates in " << wall << " s wall\n";
  return 0;
}

}  // namespace kvsim::cli
