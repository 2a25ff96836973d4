#pragma once
// The sections of a scenario document, each decoded by its own function (scenario.cpp runs
// them in order). Internal to sim/config: other layers read a Scenario, not its sections.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/spec/catalog.h"
#include "sim/config/calibration_source.h"
#include "sim/config/scenario.h"
#include "sim/core/config_reader.h"

namespace kvsim::scenario_sections {

YAML::Node load_yaml_file(const std::string& path);
// `cost_model:`: the roofline parameters, with the engine profile's costing (on this GPU) as the
// defaults; `kind`, `calibration` and `profiles` receive the cost source the section names.
RooflineParams decode_roofline(ConfigReader r, const EngineConfig& engine, const GpuSpec& gpu, const Catalog& catalog,
                               std::string& kind, std::string& calibration, std::string& profiles);
// Whether `key` appears anywhere under `node`.
bool mentions_key(const YAML::Node& node, const std::string& key);
// An engine whose profile dequantizes in a separate pass prices every quantized method that way,
// unless the scenario says otherwise.
void apply_dequant_path(const EngineProfile& profile, bool scenario_says, std::vector<CompressionSpec>& methods);
// Adds `spec` to the table unless an identical name is there; returns its index.
std::uint8_t intern_method(std::vector<CompressionSpec>& table, const CompressionSpec& spec);
// `compression:`: a method name, or {method, params, length_effect, routing}.
void decode_compression(const YAML::Node& node, ConfigReader& parent, Scenario& s);
RunOptions decode_run(ConfigReader r);
ParallelismSpec decode_parallelism(ConfigReader r, ParallelismSpec p);
// `cluster:` (or one group from the top level): names, counts, roles, GPUs, engines,
// parallelism and forced methods.
void decode_cluster(ConfigReader& top, const YAML::Node& doc, Scenario& s, const Catalog& catalog);
// The capacity and cost sources of one group (after every decode error has been reported).
void resolve_group(ReplicaGroup& g, const Scenario& s, const std::string& cost_kind,
                   const std::string& calibration_dir, const std::string& vidur_dir, const Catalog& catalog,
                   const CalibrationSource& calibration);

}  // namespace kvsim::scenario_sections
