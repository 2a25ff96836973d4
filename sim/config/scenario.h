#pragma once
// A scenario: everything one run needs, decoded strictly from YAML (+ --set overrides),
// validated once, resolved against the catalog, then immutable.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/spec/catalog.h"
#include "sim/config/calibration_source.h"
#include "sim/config/overrides.h"
#include "sim/serving/serving_setup.h"

namespace kvsim {

// A scenario file decoded and resolved: the serving setup plus where it came from. Public
// inheritance on purpose: a Scenario *is* the setup it resolved to, and Simulation takes the
// setup alone.
struct Scenario : ServingSetup {
  std::string source;       // file path, or "<builtin default>"
  std::string base_dir;     // for relative paths inside the scenario
  // The first replica group's GPU, engine, parallelism and capacity (what single-replica
  // tools such as `kvsim step` and the report's header use); cluster.groups has them all.
  GpuSpec gpu;
  EngineConfig engine;
  ParallelismSpec parallelism;
  KvCapacity capacity;
  // Cost model: "roofline", or calibrated tables (measured on calibration_gpu; a GPU other
  // than `gpu` means transfer mode). `cost_model.kind: auto` picks a bundle for exactly this
  // GPU and model from the search directories when one is installed.
  std::string cost_kind = "roofline";
  std::optional<CalibratedCosts> calibration;
  GpuSpec calibration_gpu;
  YAML::Node resolved;      // the document after --set, echoed as resolved.yaml
};

// The built-in default scenario (README's first command): Llama-3-8B on one H200 under vLLM
// V1, ShareGPT-like lengths, Poisson arrivals.
const char* default_scenario_yaml();

// Loads `path` (empty: the built-in default), applies `overrides` ("a.b=value"), decodes and
// resolves. Throws InputError listing every problem found.
Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                       std::optional<std::uint64_t> seed_override, const Catalog& catalog,
                       const CalibrationSource& calibration = {});

// Same, from YAML text (tests, embedded examples). `source` names it in messages.
Scenario load_scenario_text(const std::string& yaml, const std::string& source,
                            const std::vector<std::string>& overrides, std::optional<std::uint64_t> seed_override,
                            const Catalog& catalog, const CalibrationSource& calibration = {});

}  // namespace kvsim
