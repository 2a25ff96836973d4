#pragma once
// The resolved value a serving simulation runs: the model, the replica groups with their GPUs,
// engines, capacities and cost sources, the compression table and routing, the decoded workload
// and the run options. sim/config builds it from a scenario file (Scenario extends it with the
// file's provenance); Simulation reads nothing else.
#include <cstdint>
#include <memory>
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
#include "traces/workload.h"

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
  std::uint8_t method = 0;             // index into ServingSetup::methods
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
  std::optional<std::uint8_t> method;  // forced method (index into ServingSetup::methods)
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

struct ServingSetup {
  std::uint64_t seed = 42;
  ModelSpec model;
  RooflineParams roofline;
  ClusterSpec cluster;
  // Compression table: [0] the default method, then routing targets, then methods named
  // by the trace's `compression` column. Routing rules and the trace's names index it.
  std::vector<CompressionSpec> methods;
  std::vector<RoutingRule> routing;
  std::vector<std::uint8_t> trace_methods;  // workload method name index -> table index
  bool length_effect = true;
  // Decoded once when the scenario loads; every run starts its own generator from it.
  std::shared_ptr<const WorkloadSpec> workload;
  RunOptions run;
};

}  // namespace kvsim
