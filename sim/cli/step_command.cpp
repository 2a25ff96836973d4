#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <iostream>
#include <nlohmann/json.hpp>

#include <yaml-cpp/yaml.h>

#include "models/compression/compression_registry.h"
#include "sim/core/config_reader.h"
#include "models/compression/kv_layout.h"
#include "models/cost/roofline_cost_model.h"
#include "models/cost/table_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/spec/hf_config.h"
#include "sim/config/scenario.h"
#include "models/spec/catalog.h"
#include "sim/cli/commands.h"
#include "sim/core/error.h"
#include "sim/pipeline/pipeline.h"
#include "sim/serving/cost_model_factory.h"
#include "sim/serving/engine_config.h"

namespace po = boost::program_options;

namespace kvsim::cli {

int step_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "kvsim step --model M --gpu G --batch B --context L --phase prefill|decode [options]\n\n"
      "Predict the time of one engine iteration with a per-operator breakdown.\n"
      "  prefill: B requests each prefilling L prompt tokens in one step\n"
      "  decode:  B requests each generating one token over a context of L tokens");
  std::string model, gpu, engine = "vllm-v1", phase, format = "text", overhead, compression = "fp16", calibration,
      cost_kind = "auto", attention = "varlen", prefill_kernel = "flash", gemm_variant;
  int batch = 0, context = 0, kernels_per_layer = RooflineParams{}.kernels_per_layer, tensor = 1, pipeline = 1;
  double link_gbps = 0, extra_kernel_us = 0;
  opts.add_options()("help,h", "show this help")("model", po::value(&model), "model name (kvsim list models) or a Hugging Face config.json")(
      "gpu", po::value(&gpu), "GPU name (kvsim list gpus)")("engine", po::value(&engine),
                                                           "engine preset: its host model and its profile's costing (kvsim list engines; default vllm-v1)")(
      "overhead", po::value(&overhead), "override the host-model preset (kvsim list overheads)")(
      "batch", po::value(&batch), "requests in the batch (>= 1)")("context", po::value(&context),
                                                                  "tokens per request (>= 1)")(
      "phase", po::value(&phase), "prefill or decode")(
      "compression", po::value(&compression), "KV compression method (kvsim list compression; default fp16)")(
      "calibration", po::value(&calibration), "calibration bundle directory (default: an installed one for this GPU and model)")(
      "cost-model", po::value(&cost_kind), "auto (default: calibrated if a bundle is installed), roofline or calibrated")(
      "kernels-per-layer", po::value(&kernels_per_layer),
      "kernels the implementation launches per layer (default 9: a fused engine); unfused frameworks launch more")(
      "extra-kernel-us", po::value(&extra_kernel_us),
      "device time of each kernel beyond the costed ones, gap included (default: kvsim's minimal kernel); "
      "PyTorch's small kernels: 2.26")(
      "prefill-kernel", po::value(&prefill_kernel),
      "with a bundle: the prefill_attention variant that prices prefill (default flash: kvsim's kernel)")(
      "gemm-variant", po::value(&gemm_variant),
      "with a bundle: the gemm dtype that prices linear layers (default bf16 if measured, else fp16)")(
      "attention", po::value(&attention), "varlen (per-sequence kernels; the default unless the engine's profile says otherwise) or batch_masked (one dense masked SDPA over the batch)")(
      "tensor", po::value(&tensor), "tensor-parallel GPUs (default 1)")(
      "pipeline", po::value(&pipeline), "pipeline-parallel stages (default 1)")(
      "link-gbps", po::value(&link_gbps), "link bandwidth per direction for --tensor/--pipeline (default: the GPU's NVLink / 2)")(
      "format", po::value(&format), "text (default) or json");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  ErrorList errors;
  for (const char* req : {"model", "gpu", "batch", "context", "phase"}) {
    if (!vm.count(req)) errors.add(std::string("--") + req + " is required");
  }
  if (vm.count("batch") && batch < 1) errors.add("--batch must be >= 1 (got " + std::to_string(batch) + ")");
  if (vm.count("context") && context < 1) errors.add("--context must be >= 1 (got " + std::to_string(context) + ")");
  if (vm.count("phase") && phase != "prefill" && phase != "decode") {
    errors.add("--phase must be 'prefill' or 'decode' (got '" + phase + "')");
  }
  if (format != "text" && format != "json") errors.add("--format must be 'text' or 'json'");
  if (kernels_per_layer < 1) errors.add("--kernels-per-layer must be >= 1");
  if (!(extra_kernel_us >= 0 && extra_kernel_us <= 1e3)) errors.add("--extra-kernel-us must be in [0, 1000]");
  if (prefill_kernel.empty()) errors.add("--prefill-kernel must name a prefill_attention variant of the bundle (default flash)");
  if (attention != "varlen" && attention != "batch_masked") {
    errors.add("--attention must be 'varlen' or 'batch_masked' (got '" + attention + "')");
  }
  if (cost_kind == "roofline" && !calibration.empty()) errors.add("--calibration conflicts with --cost-model roofline");
  if (cost_kind != "auto" && cost_kind != "roofline" && cost_kind != "calibrated") {
    errors.add("--cost-model must be auto, roofline or calibrated (got '" + cost_kind + "')");
  }
  errors.throw_if_any();

  const Catalog catalog = Catalog::builtin();
  const ModelSpec full = resolve_model(catalog, model);
  const GpuSpec& g = catalog.gpu(gpu);
  ParallelismSpec par;
  par.tensor = tensor;
  par.pipeline = pipeline;
  par.link_gbps = link_gbps;
  if (const auto problems = validate_parallelism(par, full); !problems.empty()) {
    throw InputError("--tensor/--pipeline: " + join(problems, "; "));
  }
  if (!par.single() && link_gbps <= 0 && g.nvlink_gbps <= 0) {
    throw InputError("--tensor/--pipeline: " + g.name + " has no NVLink figure in the catalog: give --link-gbps");
  }
  // Everything below costs one GPU's shard; wrap_parallel adds the communication.
  const ModelSpec m = shard_model(full, par);
  EngineConfig e = engine_preset(engine, g);
  if (!overhead.empty()) e.host = host_model_preset(overhead);
  if (context > m.max_context) {
    throw InputError("--context " + std::to_string(context) + " exceeds " + full.name + "'s context of " +
                     std::to_string(m.max_context) + " tokens");
  }
  // A method name, or a YAML mapping with overrides: '{method: fp8, fused_dequant: false}'.
  CompressionSpec method;
  if (!compression.empty() && compression.front() == '{') {
    ErrorList errs;
    YAML::Node root;
    try {
      root["compression"] = YAML::Load(compression);
    } catch (const YAML::Exception& ex) {
      throw InputError("--compression: invalid YAML: " + ex.msg);
    }
    ConfigReader r(root, "", "--compression", errs);
    method = decode_compression_method(root["compression"], "compression", r);
    errs.throw_if_any();
  } else {
    method = builtin_compression(compression);
  }
  const auto problems = validate_compression(method, m.head_dim);
  if (!problems.empty()) throw InputError("--compression " + compression + ": " + join(problems, "; "));
  RooflineParams params;
  params.kernels_per_layer = kernels_per_layer;
  params.extra_kernel_us = extra_kernel_us;
  params.prefill_kernel = prefill_kernel;
  params.gemm_variant = gemm_variant;
  // The engine profile's costing (as a scenario applies it): attention semantics and its measured
  // layer, the quantized-KV read path, the engine's own kernels.
  const EngineCosting& ec = e.profile.costing;
  apply_engine_costing(ec, g, catalog, params);
  if (vm.count("attention")) params.batch_masked_attention = attention == "batch_masked";
  if (ec.dequant == DequantPath::kUnfused && method.format.quantized() && compression.front() != '{') {
    method.work.fused_dequant = false;
  }
  std::vector<CompressionSpec> methods{method};
  apply_engine_kernels(e.profile, m, methods, params);
  method = methods.front();
  std::optional<CalibratedCosts> costs;
  if (!calibration.empty()) {
    costs = load_calibration(calibration, m.name, catalog);
  } else if (cost_kind != "roofline") {
    // The same search as a scenario's cost_model.kind auto (docs/calibration.md).
    costs = find_installed_calibration(CalibrationSource(calibration_search_dirs()), catalog, g, full, m.name);
    if (!costs && cost_kind == "calibrated") {
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
      par.single() ? CollectiveTables{} : find_collective_tables(calibration_search_dirs(), g.name, tensor);
  const std::vector<CompressionSpec> step_methods{method};
  const std::unique_ptr<CostModel> cost_model =
      build_cost_model({m, g, e.host, params, step_methods, costs ? &*costs : nullptr,
                        costs ? &catalog.gpu(costs->catalog_gpu) : nullptr, par, tables});
  const CostModel& cost = *cost_model;
  const BatchShape shape = step_shape(phase == "prefill" ? StepPhase::kPrefill : StepPhase::kDecode, batch, context, method, 0);
  const StepCost c = cost.step_cost(shape);

  if (format == "json") {
    nlohmann::json j;
    j["model"] = full.name;
    j["tensor"] = tensor;
    j["pipeline"] = pipeline;
    j["gpu"] = g.name;
    j["engine"] = e.preset;
    j["phase"] = phase;
    j["compression"] = method.name;
    j["batch"] = batch;
    j["context"] = context;
    j["cost_model"] = cost.describe();
    j["total_ms"] = to_ms(c.total_ns);
    j["gpu_ms"] = to_ms(c.gpu_ns);
    j["cpu_ms"] = to_ms(c.cpu_ns);
    for (std::size_t i = 0; i < kNumOps; ++i) {
      const OpCost& o = c.ops[i];
      if (o.ns == 0) continue;
      j["ops"][std::string(op_name(static_cast<Op>(i)))] = {
          {"ms", to_ms(o.ns)}, {"flops", o.flops}, {"bytes", o.bytes}, {"bound", o.compute_bound ? "compute" : "memory"}};
    }
    const double tokens = phase == "prefill" ? static_cast<double>(batch) * context : batch;
    j["tokens_per_s"] = tokens / to_seconds(c.total_ns);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s on %s%s, engine %s, KV %s: %s, batch %d x %d tokens\n", full.name.c_str(), g.name.c_str(),
              par.single() ? "" : (" (TP " + std::to_string(tensor) + " x PP " + std::to_string(pipeline) + ")").c_str(),
              e.preset.c_str(), method.name.c_str(), phase.c_str(), batch, context);
  std::printf("cost model: %s\n\n", cost.describe().c_str());
  std::printf("  %-14s %10s %7s %12s %12s  %s\n", "operator", "time_ms", "share", "GFLOP", "MB", "bound");
  for (std::size_t i = 0; i < kNumOps; ++i) {
    const OpCost& o = c.ops[i];
    if (o.ns == 0) continue;
    const bool roofline_op = o.flops > 0 || o.bytes > 0;
    std::printf("  %-14s %10.3f %6.1f%% %12.2f %12.2f  %s\n", std::string(op_name(static_cast<Op>(i))).c_str(),
                to_ms(o.ns), 100.0 * static_cast<double>(o.ns) / static_cast<double>(c.total_ns), o.flops / 1e9,
                o.bytes / 1e6, roofline_op ? (o.compute_bound ? "compute" : "memory") : "-");
  }
  const double tokens = phase == "prefill" ? static_cast<double>(batch) * context : batch;
  std::printf("\n  total %.3f ms (GPU %.3f ms + CPU overhead %.3f ms), %.0f tokens/s\n", to_ms(c.total_ns),
              to_ms(c.gpu_ns), to_ms(c.cpu_ns), tokens / to_seconds(c.total_ns));
  return 0;
}

}  // namespace kvsim::cli
