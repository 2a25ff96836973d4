#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "experiments/sweep.h"
#include "sim/cli/commands.h"
#include "sim/cli/progress.h"
#include "sim/config/scenario.h"
#include "sim/core/atomic_file.h"
#include "sim/core/error.h"
#include "sim/core/worker_pool.h"

#ifdef KVSIM_WITH_MPI
#include <boost/mpi.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#endif

namespace po = boost::program_options;

namespace kvsim::cli {

namespace {

std::string read_text(const std::string& path) {
  if (path.empty()) return default_scenario_yaml();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "kvsim sweep -c BASE.yaml --sweep GRID.yaml --out DIR [options]\n\n"
      "Run every point of a grid over scenario keys, in parallel, writing one row per point to\n"
      "DIR/sweep.csv and DIR/sweep.jsonl as points finish. Under mpirun, points are split\n"
      "across ranks and rank 0 writes the results");
  std::string config, sweep, out, shard_text;
  int jobs = available_cores();
  bool resume = false, no_progress = false;
  opts.add_options()("help,h", "show this help")("config,c", po::value(&config), "base scenario (default: built-in)")(
      "sweep", po::value(&sweep), "sweep spec YAML (axes, zip, repetitions)")("out", po::value(&out),
                                                                              "results directory")(
      "jobs,j", po::value(&jobs), "worker threads (default and limit: the cores this process may use)")("resume", po::bool_switch(&resume),
                                                                          "run only the points missing from DIR")(
      "shard", po::value(&shard_text), "run only points with index % N == i (i/N), for job arrays")(
      "no-progress", po::bool_switch(&no_progress), "no progress bar on stderr");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  ErrorList errors;
  if (sweep.empty()) errors.add("--sweep is required");
  if (out.empty()) errors.add("--out is required");
  if (jobs < 1) errors.add("--jobs must be >= 1");
  errors.throw_if_any();
  std::string lowered;
  jobs = bounded_jobs(jobs, &lowered);
  if (!lowered.empty()) std::fprintf(stderr, "kvsim sweep: %s\n", lowered.c_str());
  SweepShard shard;
  if (!shard_text.empty()) shard = parse_sweep_shard(shard_text);

#ifdef KVSIM_WITH_MPI
  // Initialize MPI only when launched by mpirun, so a plain run needs no MPI runtime.
  std::unique_ptr<boost::mpi::environment> env;
  std::unique_ptr<boost::mpi::communicator> world;
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE")) {
    env = std::make_unique<boost::mpi::environment>();
    world = std::make_unique<boost::mpi::communicator>();
  }
  const int rank = world ? world->rank() : 0;
  const int ranks = world ? world->size() : 1;
  if (ranks > 1 && !shard_text.empty()) throw InputError("--shard and mpirun both split the points; use one");
#else
  const int rank = 0;
  const int ranks = 1;
#endif

  const Catalog catalog = Catalog::builtin();
  const SweepSpec spec = load_sweep_spec(sweep);
  const CalibrationSource calibration(calibration_search_dirs());
  const Scenario base = load_scenario(config, {}, std::nullopt, catalog, calibration);
  validate_sweep_axes(spec, config, catalog, calibration);
  const std::vector<SweepPoint> all = expand_sweep(spec, base.seed);
  const std::string signature = sweep_signature(spec, read_text(config));

  std::unique_ptr<SweepResults> results;
  std::set<std::int64_t> done;
  std::string setup_error;
  if (rank == 0) {
    try {
      std::error_code ec;
      std::filesystem::create_directories(out, ec);
      if (!std::filesystem::is_directory(out)) throw InputError("--out " + out + ": cannot create directory");
      const std::string stem = shard_text.empty() ? "sweep" : "sweep.shard" + std::to_string(shard.index);
      results = std::make_unique<SweepResults>(out, signature, sweep_keys(spec), resume, stem, &all);
      done = results->done();
      // What resume did not trust, and why (those points run again).
      for (const auto& f : results->findings()) std::fprintf(stderr, "kvsim sweep: resume: %s\n", f.c_str());
    } catch (const InputError& e) {
      setup_error = e.what();
    }
  }
#ifdef KVSIM_WITH_MPI
  // Every rank learns of a failure on rank 0, so all exit with its message instead of
  // hanging in the next collective.
  if (world) {
    boost::mpi::broadcast(*world, setup_error, 0);
    boost::mpi::broadcast(*world, done, 0);
  }
#endif
  if (!setup_error.empty()) throw InputError(setup_error);
  std::vector<const SweepPoint*> mine;
  for (const auto& p : all) {
    const int owner = static_cast<int>(p.index % (ranks > 1 ? ranks : shard.count));
    if (owner == (ranks > 1 ? rank : shard.index) && !done.count(p.index)) mine.push_back(&p);
  }
  const CalibrationSource& dirs = calibration;
  Progress progress("sweep", static_cast<std::int64_t>(mine.size()), !no_progress && rank == 0);
  std::mutex mu;
  std::vector<SweepRow> gathered;  // MPI: rows kept for the final gather
  const auto t0 = std::chrono::steady_clock::now();
  SweepBatch batch = run_sweep_points(
      spec, mine, config, catalog, dirs, jobs,
      [&](SweepRow&& row) {
        if (results && ranks == 1) {
          results->append(row);
        } else {
          const std::lock_guard<std::mutex> lock(mu);
          gathered.push_back(std::move(row));
        }
      },
      [&] { progress.tick(); });
  std::vector<std::string>& failures = batch.failures;
  jobs = batch.threads;
  progress.finish();
  std::size_t run_now = mine.size();

#ifdef KVSIM_WITH_MPI
  if (world && ranks > 1) {
    std::vector<std::string> local;
    for (const auto& r : gathered) local.push_back(std::to_string(r.index) + "\x1f" + r.csv + "\x1f" + r.json);
    std::vector<std::vector<std::string>> per_rank;
    boost::mpi::gather(*world, local, per_rank, 0);
    std::vector<std::string> local_fail = failures;
    std::vector<std::vector<std::string>> fails;
    boost::mpi::gather(*world, local_fail, fails, 0);
    if (rank != 0) return 0;
    std::vector<SweepRow> rows;
    for (const auto& v : per_rank) {
      for (const auto& s : v) {
        const auto a = s.find('\x1f'), b = s.find('\x1f', a + 1);
        rows.push_back({std::stoll(s.substr(0, a)), s.substr(a + 1, b - a - 1), s.substr(b + 1)});
      }
    }
    std::sort(rows.begin(), rows.end(), [](const SweepRow& x, const SweepRow& y) { return x.index < y.index; });
    for (const auto& r : rows) results->append(r);
    run_now = rows.size();
    failures.clear();
    for (const auto& v : fails) failures.insert(failures.end(), v.begin(), v.end());
  }
#endif
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::sort(failures.begin(), failures.end());
  const nlohmann::json manifest = {{"schema_version", 1},
                                   {"signature", signature},
                                   {"base", config.empty() ? "<builtin default>" : config},
                                   {"sweep", sweep},
                                   {"points_total", all.size()},
                                   {"points_run_now", run_now},
                                   {"points_skipped_done", done.size()},
                                   {"failures", failures},
                                   {"ranks", ranks},
                                   {"shard", shard_text},
                                   {"jobs", jobs},
                                   {"wall_seconds", wall}};
  const std::string manifest_name = shard_text.empty() ? "manifest.json" : "manifest.shard" + std::to_string(shard.index) + ".json";
  write_file_atomically((std::filesystem::path(out) / manifest_name).string(), manifest.dump(2) + "\n");
  std::printf("sweep: %zu of %zu points run (%zu already done), %zu failed, %.2f s wall, results in %s\n", run_now,
              all.size(), done.size(), failures.size(), wall, out.c_str());
  for (const auto& f : failures) std::fprintf(stderr, "kvsim sweep: %s\n", f.c_str());
  return failures.empty() ? 0 : 2;
}

}  // namespace kvsim::cli
