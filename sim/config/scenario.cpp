#include "sim/config/scenario.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "calibration/fit/fitter.h"
#include "calibration/fit/vidur_import.h"
#include "calibration/transfer/plausibility.h"
#include "calibration/transfer/transfer_bundle.h"
#include "models/compression/compression_registry.h"
#include "models/compression/length_effect.h"
#include "models/cost/table_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/spec/hf_config.h"
#include "sim/serving/router.h"
#include "sim/core/config_reader.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/core/text_file.h"
#include "traces/workload.h"
#include "sim/config/scenario_sections.h"

namespace kvsim {

const char* default_scenario_yaml() {
  return R"(# kvsim built-in default scenario (also experiments/examples/default.yaml)
seed: 42
model: llama-3-8b
gpu: h200
engine:
  preset: vllm-v1
workload:
  num_requests: 2000
  arrival: {kind: poisson, rate_per_s: 20}
  prompt_tokens: {kind: sharegpt}
  output_tokens: {kind: sharegpt}
)";
}


using namespace scenario_sections;  // NOLINT: this file runs the sections in order

namespace {
Scenario decode_scenario(YAML::Node doc, Scenario s, const std::vector<std::string>& overrides,
                         std::optional<std::uint64_t> seed_override, const Catalog& catalog,
                         const CalibrationSource& calibration);
}  // namespace

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides,
                       std::optional<std::uint64_t> seed_override, const Catalog& catalog,
                       const CalibrationSource& calibration) {
  if (path.empty()) {
    return load_scenario_text(default_scenario_yaml(), "<builtin default>", overrides, seed_override, catalog,
                              calibration);
  }
  Scenario s;
  s.source = path;
  s.base_dir = std::filesystem::path(path).parent_path().string();
  return decode_scenario(load_yaml_file(path), std::move(s), overrides, seed_override, catalog, calibration);
}

Scenario load_scenario_text(const std::string& yaml, const std::string& source,
                            const std::vector<std::string>& overrides, std::optional<std::uint64_t> seed_override,
                            const Catalog& catalog, const CalibrationSource& calibration) {
  Scenario s;
  s.source = source;
  YAML::Node doc = parse_yaml_text(yaml, source);
  if (doc.IsNull()) doc = YAML::Node(YAML::NodeType::Map);
  if (!doc.IsMap()) throw InputError(source + ": a scenario must be a YAML mapping");
  return decode_scenario(doc, std::move(s), overrides, seed_override, catalog, calibration);
}

namespace {
Scenario decode_scenario(YAML::Node doc, Scenario s, const std::vector<std::string>& overrides,
                         std::optional<std::uint64_t> seed_override, const Catalog& catalog,
                         const CalibrationSource& calibration) {
  for (const auto& o : overrides) apply_override(doc, o);
  s.resolved = YAML::Clone(doc);

  ErrorList errors;
  ConfigReader r(doc, "", s.source, errors);
  const std::int64_t seed = r.get<std::int64_t>("seed", 42, closed(0, 9.2e18));
  s.seed = seed_override ? *seed_override : static_cast<std::uint64_t>(seed);
  s.resolved["seed"] = s.seed;  // resolved.yaml reproduces the run, --seed included

  const std::string model = r.get<std::string>("model", "llama-3-8b");
  const std::string gpu = r.get<std::string>("gpu", "h200");
  bool specs_ok = true;
  try {
    s.model = resolve_model(catalog, model, s.base_dir);
  } catch (const InputError& e) {
    r.error("model", e.what());
    specs_ok = false;
  }
  try {
    s.gpu = catalog.gpu(gpu);
  } catch (const InputError& e) {
    r.error("gpu", e.what());
    specs_ok = false;
  }
  if (!specs_ok) {
    // Keep decoding the rest against a known pair so every other error is reported too.
    s.model = catalog.model(catalog.model_names().front());
    s.gpu = catalog.gpu(catalog.gpu_names().front());
  }
  s.engine = decode_engine(r.child("engine"), s.gpu, s.model);
  s.parallelism = decode_parallelism(r.child("parallelism"), {});
  std::string cost_kind, calibration_dir, vidur_dir;
  s.roofline = decode_roofline(r.child("cost_model"), s.engine, s.gpu, catalog, cost_kind, calibration_dir, vidur_dir);
  s.run = decode_run(r.child("run"));
  decode_compression(r.raw("compression"), r, s);
  const YAML::Node workload = r.raw("workload");
  if (workload && !workload.IsMap()) r.error("workload", "expected a mapping");
  // Decoded once, here, so its errors surface with the others; every run starts from it.
  if (!workload || workload.IsMap()) {
    s.workload = decode_workload(ConfigReader(workload, "workload", s.source, errors), s.base_dir);
  }
  if (s.workload) {
    for (const auto& name : s.workload->method_names()) {
      try {
        s.trace_methods.push_back(intern_method(s.methods, builtin_compression(name)));
      } catch (const InputError& e) {
        r.error("workload", std::string("trace column 'compression': ") + e.what());
      }
    }
  }
  decode_cluster(r, doc, s, catalog);
  apply_dequant_path(s.engine.profile, mentions_key(r.raw("compression"), "fused_dequant"), s.methods);
  apply_engine_kernels(s.engine.profile, s.model, s.methods, s.roofline);
  if (s.methods.size() > 32) r.error("compression", "at most 32 distinct methods per scenario");
  // A key already reported out of range reads clamped; checking the method again would only
  // repeat that error in other words.
  const bool keys_ok = errors.empty();
  for (std::size_t i = 0; i < s.methods.size(); ++i) {
    for (const auto& problem : keys_ok ? validate_compression(s.methods[i], s.model.head_dim) : std::vector<std::string>{}) {
      r.error("compression", "method '" + s.methods[i].name + "': " + problem);
    }
    try {
      LengthEffectSampler probe_length(s.methods[i].length);
    } catch (const InputError& e) {
      r.error("compression", "method '" + s.methods[i].name + "': " + e.what());
    }
  }
  r.finish();
  errors.throw_if_any();

  const WorkloadSpec* probe = s.workload.get();
  const std::int32_t max_len = s.engine.effective_max_model_len(s.model);
  if (probe && probe->max_prompt_tokens() >= max_len) {
    throw InputError(s.source + ": " + probe->max_prompt_origin() + ": prompt can be " +
                     std::to_string(probe->max_prompt_tokens()) + " tokens, but " + s.model.name +
                     " serves at most " + std::to_string(max_len) +
                     " tokens (prompt + at least one output token); lower the prompt length's max");
  }
  for (ReplicaGroup& g : s.cluster.groups) {
    resolve_group(g, s, cost_kind, calibration_dir, vidur_dir, catalog, calibration);
    if (g.engine.effective_max_model_len(g.shard) < max_len && probe &&
        probe->max_prompt_tokens() >= g.engine.effective_max_model_len(g.shard)) {
      throw InputError(s.source + ": cluster group '" + g.name + "': " + probe->max_prompt_origin() + ": prompt can be " +
                       std::to_string(probe->max_prompt_tokens()) + " tokens, but its max_model_len is " +
                       std::to_string(g.engine.effective_max_model_len(g.shard)));
    }
  }
  // The first group stands for the scenario in single-replica tools and report headers.
  const ReplicaGroup& first = s.cluster.groups.front();
  s.gpu = first.gpu;
  s.engine = first.engine;
  s.parallelism = first.parallelism;
  s.capacity = first.capacity;
  s.calibration = first.calibration;
  s.cost_kind = first.cost_kind;
  s.calibration_gpu = first.calibration_gpu;
  return s;
}
}  // namespace

}  // namespace kvsim
