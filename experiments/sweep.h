#pragma once
// Sweeps: a grid of config overrides x repetitions over one base scenario.
//   axes:        {key: [v1, v2, ...], ...}      cartesian product
//   zip:         [{key1: [...], key2: [...]}]   each group's lists advance together
//   repetitions: N                               seeds base_seed + 0 .. N-1
// Every point is an independent run (its own Simulation, no shared state), so points run
// in parallel and results do not depend on the thread count.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "models/spec/catalog.h"
#include "sim/config/scenario.h"

namespace kvsim {

struct SweepAxis {
  std::string key;
  std::vector<std::string> values;  // YAML flow text, applied as --set key=value
};

struct SweepSpec {
  std::string source;
  std::vector<SweepAxis> axes;
  std::vector<std::vector<SweepAxis>> zips;
  int repetitions = 1;
  std::string text;  // the file's content, for the results signature
};

struct SweepPoint {
  std::int64_t index = 0;
  int rep = 0;
  std::uint64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> params;  // key, value
};

// Strict decode; InputError names the file and key (empty grid, mismatched zip lengths...).
SweepSpec load_sweep_spec(const std::string& path);
SweepSpec parse_sweep_spec(const std::string& text, const std::string& source);
// Deterministic order: zip groups and axes in file order, repetitions innermost.
std::vector<SweepPoint> expand_sweep(const SweepSpec& spec, std::uint64_t base_seed);
// The parameter keys of every point, in column order.
std::vector<std::string> sweep_keys(const SweepSpec& spec);
// Checks that every axis key is a valid scenario key, by loading the base scenario with
// each axis set to its first value. InputError names the axis.
// `calibration`: the search directories the points will run with (a key such as
// cost_model.gemm_variant is valid only where a bundle is found).
void validate_sweep_axes(const SweepSpec& spec, const std::string& base_path, const Catalog& catalog,
                         const CalibrationSource& calibration);

// One finished point, as the CSV and JSONL lines it produces (each with its newline).
struct SweepRow {
  std::int64_t index = 0;
  std::string csv;
  std::string json;
};

// The metrics columns every row carries are the metric catalogue (sim/pipeline/metric_catalog.h).

// Runs one point and renders its row. Throws InputError / InvariantViolation like a run.
SweepRow run_sweep_point(const SweepSpec& spec, const SweepPoint& point, const std::string& base_path,
                         const Catalog& catalog, const CalibrationSource& calibration_dirs);

// Results files (sweep.csv + sweep.jsonl) that survive kill -9: every row is one write(2)
// of a whole line with O_APPEND; on resume, rows of points missing from either file and
// any torn last line are dropped (files rewritten atomically), and the done points are
// returned. The first CSV line carries a signature of the spec: resuming files written by
// another sweep (or by something else) is refused.
class SweepResults {
 public:
  // `stem` names the files (stem.csv, stem.jsonl): "sweep", or "sweep.shard<i>" for a shard
  // so shards can share a directory.
  // With `grid`, resume trusts only rows it could have written for that grid: a row whose point
  // id is outside it, whose rep/seed/parameters differ from its point's, whose metrics are cut
  // short, or that is duplicated with different contents is dropped (and re-run), and each
  // such finding is listed in findings(). Identical duplicates are kept once.
  SweepResults(const std::string& dir, const std::string& signature, const std::vector<std::string>& keys,
               bool resume, const std::string& stem = "sweep", const std::vector<SweepPoint>* grid = nullptr);
  ~SweepResults();
  SweepResults(const SweepResults&) = delete;
  SweepResults& operator=(const SweepResults&) = delete;
  const std::set<std::int64_t>& done() const { return done_; }
  const std::vector<std::string>& findings() const { return findings_; }
  void append(const SweepRow& row);  // thread-safe

 private:
  std::string csv_path_, jsonl_path_;
  int csv_fd_ = -1, jsonl_fd_ = -1;
  std::mutex mutex_;
  std::set<std::int64_t> done_;
  std::vector<std::string> findings_;
};

// `--shard i/N`: this process runs the points whose index mod N is i.
struct SweepShard {
  int index = 0;
  int count = 1;
};
SweepShard parse_sweep_shard(const std::string& text);  // InputError naming --shard

// Runs `points` on up to `jobs` threads (parallel_for). Each finished row goes to `on_row`
// (from a worker thread; it must be thread-safe), each failing point becomes one message
// ("point 3 (k=v, seed 7): ..."), sorted; `on_point` runs after every point (progress).
struct SweepBatch {
  std::vector<std::string> failures;
  int threads = 1;
};
SweepBatch run_sweep_points(const SweepSpec& spec, const std::vector<const SweepPoint*>& points,
                            const std::string& base_path, const Catalog& catalog, const CalibrationSource& calibration,
                            int jobs, const std::function<void(SweepRow&&)>& on_row,
                            const std::function<void()>& on_point);

// The identity columns of a point's CSV row ("point,rep,seed,<values>") and JSONL row.
std::string sweep_row_prefix(const SweepPoint& p);
nlohmann::json sweep_row_identity(const SweepPoint& p);

std::string sweep_signature(const SweepSpec& spec, const std::string& base_text);

}  // namespace kvsim
