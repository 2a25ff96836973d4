#include "sim/pipeline/step_prediction.h"

#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>

#include "models/compression/compression_registry.h"
#include "models/compression/kv_layout.h"
#include "models/cost/table_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/spec/hf_config.h"
#include "sim/config/calibration_source.h"
#include "sim/core/config_reader.h"
#include "sim/core/error.h"
#include "sim/serving/cost_model_factory.h"

namespace kvsim {

StepPricer make_step_pricer(const StepQuery& q, const Catalog& catalog, const std::vector<std::string>& calibration_dirs) {
  const ModelSpec full = resolve_model(catalog, q.model);
  const GpuSpec& g = catalog.gpu(q.gpu);
  ParallelismSpec par;
  par.tensor = q.tensor;
  par.pipeline = q.pipeline;
  par.link_gbps = q.link_gbps;
  if (const auto problems = validate_parallelism(par, full); !problems.empty()) {
    throw InputError("--tensor/--pipeline: " + join(problems, "; "));
  }
  if (!par.single() && q.link_gbps <= 0 && g.nvlink_gbps <= 0) {
    throw InputError("--tensor/--pipeline: " + g.name + " has no NVLink figure in the catalog: give --link-gbps");
  }
  // Everything below costs one GPU's shard; wrap_parallel adds the communication.
  const ModelSpec m = shard_model(full, par);
  EngineConfig e = engine_preset(q.engine, g);
  if (!q.overhead.empty()) e.host = host_model_preset(q.overhead);
  // A method name, or a YAML mapping with overrides: '{method: fp8, fused_dequant: false}'.
  CompressionSpec method;
  if (!q.compression.empty() && q.compression.front() == '{') {
    ErrorList errs;
    YAML::Node root;
    try {
      root["compression"] = YAML::Load(q.compression);
    } catch (const YAML::Exception& ex) {
      throw InputError("--compression: invalid YAML: " + ex.msg);
    }
    ConfigReader r(root, "", "--compression", errs);
    method = decode_compression_method(root["compression"], "compression", r);
    errs.throw_if_any();
  } else {
    method = builtin_compression(q.compression);
  }
  const auto problems = validate_compression(method, m.head_dim);
  if (!problems.empty()) throw InputError("--compression " + q.compression + ": " + join(problems, "; "));
  RooflineParams params;
  params.kernels_per_layer = q.kernels_per_layer;
  params.extra_kernel_us = q.extra_kernel_us;
  params.prefill_kernel = q.prefill_kernel;
  params.gemm_variant = q.gemm_variant;
  // The engine profile's costing (as a scenario applies it): attention semantics and its measured
  // layer, the quantized-KV read path, the engine's own kernels.
  const EngineCosting& ec = e.profile.costing;
  apply_engine_costing(ec, g, catalog, params);
  if (!q.attention.empty()) params.batch_masked_attention = q.attention == "batch_masked";
  if (ec.dequant == DequantPath::kUnfused && method.format.quantized() && q.compression.front() != '{') {
    method.work.fused_dequant = false;
  }
  std::vector<CompressionSpec> methods{method};
  apply_engine_kernels(e.profile, m, methods, params);
  method = methods.front();
  std::optional<CalibratedCosts> costs;
  if (!q.calibration.empty()) {
    costs = load_calibration(q.calibration, m.name, catalog);
  } else if (q.cost_kind != "roofline") {
    // The same search as a scenario's cost_model.kind auto (docs/calibration.md).
    costs = find_installed_calibration(CalibrationSource(calibration_dirs), catalog, g, full, m.name);
    if (!costs && q.cost_kind == "calibrated") {
      throw InputError("--cost-model calibrated: no bundle installed for " + g.name + "/" + m.name +
                       " (give one with --calibration DIR)");
    }
  }
  // Framework kernel choices the cost model cannot serve, named by the flag that made them.
  for (const auto& problem : costs ? framework_variant_problems(*costs, params) : framework_variants_without_bundle(params)) {
    const std::string key = problem.substr(0, problem.find(':'));
    throw InputError((key == "gemm_variant" ? "--gemm-variant" : "--prefill-kernel") + problem.substr(key.size()));
  }
  const CollectiveTables tables =
      par.single() ? CollectiveTables{} : find_collective_tables(calibration_dirs, g.name, q.tensor);
  const std::vector<CompressionSpec> step_methods{method};
  std::unique_ptr<CostModel> cost_model =
      build_cost_model({m, g, e.host, params, step_methods, costs ? &*costs : nullptr,
                        costs ? &catalog.gpu(costs->catalog_gpu) : nullptr, par, tables});
  return StepPricer{full, m, g, e, method, par, std::move(cost_model)};
}

BatchShape StepPricer::shape(const StepQuery& q) const {
  if (q.context > shard.max_context) {
    throw InputError("--context " + std::to_string(q.context) + " exceeds " + model.name + "'s context of " +
                     std::to_string(shard.max_context) + " tokens");
  }
  if (q.phase != StepPhase::kMixed) return step_shape(q.phase, q.batch, q.context, method, 0);
  const std::int64_t chunk_end = static_cast<std::int64_t>(q.prefill_tokens) + q.prefill_cached;
  if (chunk_end > shard.max_context) {
    throw InputError("--prefill-tokens + --prefill-cached (" + std::to_string(chunk_end) + ") exceeds " + model.name +
                     "'s context of " + std::to_string(shard.max_context) + " tokens");
  }
  BatchShape s;
  if (q.batch > 0) s = step_shape(StepPhase::kDecode, q.batch, q.context, method, 0);
  s.prefills.push_back({q.prefill_tokens, q.prefill_cached, true, 0});
  return s;
}

StepPrediction predict_step(const StepQuery& q, const Catalog& catalog, const std::vector<std::string>& calibration_dirs) {
  const StepPricer p = make_step_pricer(q, catalog, calibration_dirs);
  return StepPrediction{p.model, p.gpu, p.engine, p.method, p.parallelism, p.cost->describe(), p.price(q)};
}

}  // namespace kvsim
