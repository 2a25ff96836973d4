#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "models/cost/roofline_cost_model.h"
#include "sim/cli/commands.h"
#include "sim/core/error.h"
#include "sim/pipeline/step_prediction.h"

namespace po = boost::program_options;

namespace kvsim::cli {

int step_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "kvsim step --model M --gpu G --batch B --context L --phase prefill|decode [options]\n\n"
      "Predict the time of one engine iteration with a per-operator breakdown.\n"
      "  prefill: B requests each prefilling L prompt tokens in one step\n"
      "  decode:  B requests each generating one token over a context of L tokens");
  // Flags land in the query directly (its defaults are the flags' defaults).
  StepQuery q;
  std::string phase, format = "text";
  opts.add_options()("help,h", "show this help")("model", po::value(&q.model), "model name (kvsim list models) or a Hugging Face config.json")(
      "gpu", po::value(&q.gpu), "GPU name (kvsim list gpus)")("engine", po::value(&q.engine),
                                                           "engine preset: its host model and its profile's costing (kvsim list engines; default vllm-v1)")(
      "overhead", po::value(&q.overhead), "override the host-model preset (kvsim list overheads)")(
      "batch", po::value(&q.batch), "requests in the batch (>= 1)")("context", po::value(&q.context),
                                                                  "tokens per request (>= 1)")(
      "phase", po::value(&phase), "prefill or decode")(
      "compression", po::value(&q.compression), "KV compression method (kvsim list compression; default fp16)")(
      "calibration", po::value(&q.calibration), "calibration bundle directory (default: an installed one for this GPU and model)")(
      "cost-model", po::value(&q.cost_kind), "auto (default: calibrated if a bundle is installed), roofline or calibrated")(
      "kernels-per-layer", po::value(&q.kernels_per_layer),
      "kernels the implementation launches per layer (default 9: a fused engine); unfused frameworks launch more")(
      "extra-kernel-us", po::value(&q.extra_kernel_us),
      "device time of each kernel beyond the costed ones, gap included (default: kvsim's minimal kernel); "
      "PyTorch's small kernels: 2.26")(
      "prefill-kernel", po::value(&q.prefill_kernel),
      "with a bundle: the prefill_attention variant that prices prefill (default flash: kvsim's kernel)")(
      "gemm-variant", po::value(&q.gemm_variant),
      "with a bundle: the gemm dtype that prices linear layers (default bf16 if measured, else fp16)")(
      "attention", po::value(&q.attention), "varlen (per-sequence kernels; the default unless the engine's profile says otherwise) or batch_masked (one dense masked SDPA over the batch)")(
      "tensor", po::value(&q.tensor), "tensor-parallel GPUs (default 1)")(
      "pipeline", po::value(&q.pipeline), "pipeline-parallel stages (default 1)")(
      "link-gbps", po::value(&q.link_gbps), "link bandwidth per direction for --tensor/--pipeline (default: the GPU's NVLink / 2)")(
      "format", po::value(&format), "text (default) or json");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  ErrorList errors;
  for (const char* req : {"model", "gpu", "batch", "context", "phase"}) {
    if (!vm.count(req)) errors.add(std::string("--") + req + " is required");
  }
  if (vm.count("batch") && q.batch < 1) errors.add("--batch must be >= 1 (got " + std::to_string(q.batch) + ")");
  if (vm.count("context") && q.context < 1) errors.add("--context must be >= 1 (got " + std::to_string(q.context) + ")");
  if (vm.count("phase") && phase != "prefill" && phase != "decode") {
    errors.add("--phase must be 'prefill' or 'decode' (got '" + phase + "')");
  }
  if (format != "text" && format != "json") errors.add("--format must be 'text' or 'json'");
  if (q.kernels_per_layer < 1) errors.add("--kernels-per-layer must be >= 1");
  if (!(q.extra_kernel_us >= 0 && q.extra_kernel_us <= 1e3)) errors.add("--extra-kernel-us must be in [0, 1000]");
  if (q.prefill_kernel.empty()) errors.add("--prefill-kernel must name a prefill_attention variant of the bundle (default flash)");
  if (vm.count("attention") && q.attention != "varlen" && q.attention != "batch_masked") {
    errors.add("--attention must be 'varlen' or 'batch_masked' (got '" + q.attention + "')");
  }
  if (q.cost_kind == "roofline" && !q.calibration.empty()) errors.add("--calibration conflicts with --cost-model roofline");
  if (q.cost_kind != "auto" && q.cost_kind != "roofline" && q.cost_kind != "calibrated") {
    errors.add("--cost-model must be auto, roofline or calibrated (got '" + q.cost_kind + "')");
  }
  errors.throw_if_any();

  q.phase = phase == "prefill" ? StepPhase::kPrefill : StepPhase::kDecode;
  const StepPrediction pred = predict_step(q, Catalog::builtin(), calibration_search_dirs());
  const ModelSpec& full = pred.model;
  const GpuSpec& g = pred.gpu;
  const EngineConfig& e = pred.engine;
  const CompressionSpec& method = pred.method;
  const ParallelismSpec& par = pred.parallelism;
  const StepCost& c = pred.cost;

  if (format == "json") {
    nlohmann::json j;
    j["model"] = full.name;
    j["tensor"] = q.tensor;
    j["pipeline"] = q.pipeline;
    j["gpu"] = g.name;
    j["engine"] = e.preset;
    j["phase"] = phase;
    j["compression"] = method.name;
    j["batch"] = q.batch;
    j["context"] = q.context;
    j["cost_model"] = pred.cost_model;
    j["total_ms"] = to_ms(c.total_ns);
    j["gpu_ms"] = to_ms(c.gpu_ns);
    j["cpu_ms"] = to_ms(c.cpu_ns);
    for (std::size_t i = 0; i < kNumOps; ++i) {
      const OpCost& o = c.ops[i];
      if (o.ns == 0) continue;
      j["ops"][std::string(op_name(static_cast<Op>(i)))] = {
          {"ms", to_ms(o.ns)}, {"flops", o.flops}, {"bytes", o.bytes}, {"bound", o.compute_bound ? "compute" : "memory"}};
    }
    const double tokens = phase == "prefill" ? static_cast<double>(q.batch) * q.context : q.batch;
    j["tokens_per_s"] = tokens / to_seconds(c.total_ns);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s on %s%s, engine %s, KV %s: %s, batch %d x %d tokens\n", full.name.c_str(), g.name.c_str(),
              par.single() ? "" : (" (TP " + std::to_string(q.tensor) + " x PP " + std::to_string(q.pipeline) + ")").c_str(),
              e.preset.c_str(), method.name.c_str(), phase.c_str(), q.batch, q.context);
  std::printf("cost model: %s\n\n", pred.cost_model.c_str());
  std::printf("  %-14s %10s %7s %12s %12s  %s\n", "operator", "time_ms", "share", "GFLOP", "MB", "bound");
  for (std::size_t i = 0; i < kNumOps; ++i) {
    const OpCost& o = c.ops[i];
    if (o.ns == 0) continue;
    const bool roofline_op = o.flops > 0 || o.bytes > 0;
    std::printf("  %-14s %10.3f %6.1f%% %12.2f %12.2f  %s\n", std::string(op_name(static_cast<Op>(i))).c_str(),
                to_ms(o.ns), 100.0 * static_cast<double>(o.ns) / static_cast<double>(c.total_ns), o.flops / 1e9,
                o.bytes / 1e6, roofline_op ? (o.compute_bound ? "compute" : "memory") : "-");
  }
  const double tokens = phase == "prefill" ? static_cast<double>(q.batch) * q.context : q.batch;
  std::printf("\n  total %.3f ms (GPU %.3f ms + CPU overhead %.3f ms), %.0f tokens/s\n", to_ms(c.total_ns),
              to_ms(c.gpu_ns), to_ms(c.cpu_ns), tokens / to_seconds(c.total_ns));
  return 0;
}

}  // namespace kvsim::cli
