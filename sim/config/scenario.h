#pragma once
// A scenario: everything one run needs, decoded strictly from YAML (+ --set overrides),
// validated once, resolved against the catalog, then immutable.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/calibrated_costs.h"
#include "models/cost/roofline_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/parallel/parallelism.h"
#include "models/spec/catalog.h"
#include "sim/serving/engine_config.h"
#include "sim/serving/kv_capacity.h"
#include "sim/serving/replica_role.h"

namespace kvsim {

struct RunOptions {
  std::optional<double> horizon_s;     // stop simulated time here (unfinished requests are reported)
  double sample_interval_s = 1.0;      // timeseries.csv resolution; 0 disables sampling
  std::int64_t livelock_steps = 100000;  // steps in a row without a token before aborting
  std::int64_t deep_check_every = 4096;  // events between O(batch) invariant checks
  std::int64_t max_trace_events = 200000;  // trace.json cap (the file notes truncation)
  // Events a run may process before it stops with an error (issue #16 item 1: a scenario whose
  // event count explodes ends with a message, not a hang). 1e9 is ~25x the 10M-request run of
  // docs/reliability.md.
  std::int64_t max_events = 1'000'000'000;
  // Goodput: a finished request counts as good when its TTFT and TPOT are within these limits
  // (0: no limit); the report gives the good share (summary.goodput).
  double goodput_ttft_s = 0;
  double goodput_tpot_s = 0;
};

// Per-request compression: the first rule whose prompt range contains the request's prompt
// picks its method (requests that name a method in the trace keep theirs).
struct RoutingRule {
  std::int32_t min_prompt_tokens = 0;
  std::int32_t max_prompt_tokens = 0;  // 0: no upper bound
  std::uint8_t method = 0;             // index into Scenario::methods
};

// `count` identical replicas: their GPU, engine, parallelism and (optionally) one
// compression method for every request they serve, resolved to a per-GPU shard model, a KV
// capacity and a cost source.
struct ReplicaGroup {
  std::string name;
  int count = 1;
  ReplicaRole role = ReplicaRole::kMixed;
  GpuSpec gpu;
  EngineConfig engine;
  ParallelismSpec parallelism;
  ModelSpec shard;                     // what one GPU holds (== the model without parallelism)
  KvCapacity capacity;                 // per GPU (every GPU of a replica holds the same blocks)
  std::optional<std::uint8_t> method;  // forced method (index into Scenario::methods)
  std::string cost_kind = "roofline";
  std::optional<CalibratedCosts> calibration;
  GpuSpec calibration_gpu;
  CollectiveTables collective_tables;  // measured NCCL tables (all-reduce/all-gather at T GPUs, sends)
};

// Many replicas behind a router; without a `cluster:` section, one group of one replica
// built from the top-level model/gpu/engine/parallelism/compression.
struct ClusterSpec {
  std::string router = "round_robin";
  std::vector<ReplicaGroup> groups;
  double kv_link_gbps = 50.0;    // prefill -> decode KV transfer link (per direction)
  double kv_latency_us = 20.0;   // fixed cost per transfer
  bool explicit_cluster = false; // the scenario had a cluster: section
  int replicas() const {
    int n = 0;
    for (const auto& g : groups) n += g.count;
    return n;
  }
  bool disaggregated() const {
    for (const auto& g : groups) {
      if (g.role != ReplicaRole::kMixed) return true;
    }
    return false;
  }
};

struct Scenario {
  std::string source;       // file path, or "<builtin default>"
  std::string base_dir;     // for relative paths inside the scenario
  std::uint64_t seed = 42;
  ModelSpec model;
  // The first replica group's GPU, engine, parallelism and capacity (what single-replica
  // tools such as `kvsim step` and the report's header use); cluster.groups has them all.
  GpuSpec gpu;
  EngineConfig engine;
  ParallelismSpec parallelism;
  KvCapacity capacity;
  RooflineParams roofline;
  ClusterSpec cluster;
  // Compression table: [0] the default method, then routing targets, then methods named
  // by the trace's `compression` column. Routing rules and the trace's names index it.
  std::vector<CompressionSpec> methods;
  std::vector<RoutingRule> routing;
  std::vector<std::uint8_t> trace_methods;  // workload method name index -> table index
  bool length_effect = true;
  // Cost model: "roofline", or calibrated tables (measured on calibration_gpu; a GPU other
  // than `gpu` means transfer mode). `cost_model.kind: auto` picks a bundle for exactly this
  // GPU and model from the search directories when one is installed.
  std::string cost_kind = "roofline";
  std::optional<CalibratedCosts> calibration;
  GpuSpec calibration_gpu;
  YAML::Node workload;      // decoded when the run starts (it owns RNG streams)
  RunOptions run;
  YAML::Node resolved;      // the document after --set, echoed as resolved.yaml
};

// The built-in default scenario (README's first command): Llama-3-8B on one H200 under vLLM
// V1, ShareGPT-like lengths, Poisson arrivals.
const char* default_scenario_yaml();

// Loads `path` (empty: the built-in default), applies `overrides` ("a.b=value"), decodes and
// resolves. Throws InputError listing every problem found.
// Where calibration bundles come from: search directories for installed bundles
// (<dir>/<gpu>/<model>/meta.json, used when cost_model.kind is auto) and a cache of fitted
// bundles, so a sweep or a plan fits each bundle once, not once per run. Thread-safe; owned
// by the caller (no process-wide state).
class CalibrationSource {
 public:
  CalibrationSource() = default;
  CalibrationSource(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}  // NOLINT: implicit on purpose
  const std::vector<std::string>& dirs() const { return dirs_; }
  // Loads and fits `dir` (or returns the cached fit). Throws InputError like load_calibration.
  CalibratedCosts load(const std::string& dir, const std::string& model_name, const Catalog& catalog) const;
  // Cost tables for `gpu` and `shard` assembled by the cross-GPU transfer model from every
  // bundle under dirs() (calibration/transfer/transfer_bundle.h); nullopt when no measured
  // GPU has tables for this shard. The model is built on first use and kept.
  std::optional<CalibratedCosts> transferred(const Catalog& catalog, const GpuSpec& gpu,
                                             const std::string& shard) const;

 private:
  std::vector<std::string> dirs_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, CalibratedCosts> cache_;
  mutable std::map<std::string, std::optional<CalibratedCosts>> transferred_;
  mutable std::shared_ptr<const void> transfer_model_;  // TransferModel + its Catalog copy
};

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                       std::optional<std::uint64_t> seed_override, const Catalog& catalog,
                       const CalibrationSource& calibration = {});

// Same, from YAML text (tests, embedded examples). `source` names it in messages.
Scenario load_scenario_text(const std::string& yaml, const std::string& source,
                            const std::vector<std::string>& overrides, std::optional<std::uint64_t> seed_override,
                            const Catalog& catalog, const CalibrationSource& calibration = {});

// The installed calibration for `shard` of `model` on `gpu` (cost_model.kind auto): a bundle in a
// search directory for this GPU and shard; else one measured for a catalog model with the same
// layer shapes (ModelSpec::same_kernel_shapes); else the transfer model's tables for either name;
// nullopt: the roofline.
std::optional<CalibratedCosts> find_installed_calibration(const CalibrationSource& calibration, const Catalog& catalog,
                                                         const GpuSpec& gpu, const ModelSpec& model, const std::string& shard);

// Loads and fits a bundle for `model_name` from `dir` (a bundle directory). Throws InputError if it
// is malformed, measured for another model shape, or physically implausible on its GPU.
// `catalog` holds the GPU the bundle names (built in, or added with --catalog): its datasheet
// figures bound the bundle's times (require_plausible).
CalibratedCosts load_calibration(const std::string& dir, const std::string& model_name, const Catalog& catalog);

// The catalog GPU a bundle in `dir` was measured on; InputError when meta.json names no known
// GPU or the catalog lacks it (naming --catalog as the fix). Used by loading and by `calibrate check`.
const GpuSpec& bundle_gpu(const CalibratedCosts& c, const std::string& dir, const Catalog& catalog);

// Applies one "a.b.c=value" override to a YAML document (value parsed as YAML).
void apply_override(YAML::Node& doc, const std::string& assignment);

}  // namespace kvsim
