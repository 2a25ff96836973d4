#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "models/cost/roofline_cost_model.h"
#include "sim/cli/commands.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"
#include "sim/pipeline/step_prediction.h"

namespace po = boost::program_options;

namespace kvsim::cli {
namespace {

// `kvsim step --shapes FILE`: every row's step priced with one cost model, as CSV on stdout (the
// row's columns, then total_ms, gpu_ms, cpu_ms). Columns: phase, batch, context, and for mixed
// rows prefill_tokens (and optionally prefill_cached); others are copied through.
int price_shapes(const std::string& path, const StepQuery& base) {
  CsvFile csv(path);
  const auto col = [&](const char* name, bool required) {
    const int c = csv.column(name);
    if (c < 0 && required) throw InputError(path + ": missing column '" + name + "' (need phase, batch, context)");
    return c;
  };
  const int phase_c = col("phase", true), batch_c = col("batch", true), context_c = col("context", true);
  const int tokens_c = col("prefill_tokens", false), cached_c = col("prefill_cached", false);
  const StepPricer pricer = make_step_pricer(base, Catalog::builtin(), calibration_search_dirs());
  std::vector<std::string> row;
  std::string out;
  for (std::size_t i = 0; i < csv.header().size(); ++i) out += csv.header()[i] + ",";
  out += "total_ms,gpu_ms,cpu_ms\n";
  while (csv.next(row)) {
    const std::string at = path + ":" + std::to_string(csv.line()) + ": ";
    const auto integer = [&](int c, const char* name, long long lo) -> int {
      const auto v = c >= 0 && !row[c].empty() ? parse_int(row[c]) : std::optional<long long>{0};
      if (!v || *v < lo || *v > 100000000) {
        throw InputError(at + name + ": must be an integer in [" + std::to_string(lo) + ", 1e8] (got '" + row[c] + "')");
      }
      return static_cast<int>(*v);
    };
    StepQuery q = base;
    const std::string& phase = row[phase_c];
    if (phase != "prefill" && phase != "decode" && phase != "mixed") {
      throw InputError(at + "phase: must be 'prefill', 'decode' or 'mixed' (got '" + phase + "')");
    }
    q.phase = phase == "prefill" ? StepPhase::kPrefill : phase == "mixed" ? StepPhase::kMixed : StepPhase::kDecode;
    q.batch = integer(batch_c, "batch", phase == "mixed" ? 0 : 1);
    q.context = integer(context_c, "context", 1);
    q.prefill_tokens = q.phase == StepPhase::kMixed ? integer(tokens_c, "prefill_tokens", 1) : 0;
    q.prefill_cached = q.phase == StepPhase::kMixed ? integer(cached_c, "prefill_cached", 0) : 0;
    StepCost c;
    try {
      c = pricer.price(q);
    } catch (const InputError& e) {
      throw InputError(at + e.what());
    }
    for (const auto& f : row) out += f + ",";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.6g,%.6g,%.6g\n", to_ms(c.total_ns), to_ms(c.gpu_ns), to_ms(c.cpu_ns));
    out += buf;
  }
  std::cout << out;  // only once every row priced: a bad row leaves no partial table
  return 0;
}

}  // namespace

int step_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "kvsim step --model M --gpu G --batch B --context L --phase prefill|decode|mixed [options]\n\n"
      "Predict the time of one engine iteration with a per-operator breakdown.\n"
      "  prefill: B requests each prefilling L prompt tokens in one step\n"
      "  decode:  B requests each generating one token over a context of L tokens\n"
      "  mixed:   the B decodes plus one prefill chunk of --prefill-tokens N after --prefill-cached C\n"
      "           tokens already cached (a chunked-prefill / continuous-batching iteration)");
  // Flags land in the query directly (its defaults are the flags' defaults).
  StepQuery q;
  std::string phase, format = "text", shapes;
  opts.add_options()("help,h", "show this help")("model", po::value(&q.model), "model name (kvsim list models) or a Hugging Face config.json")(
      "gpu", po::value(&q.gpu), "GPU name (kvsim list gpus)")("engine", po::value(&q.engine),
                                                           "engine preset: its host model and its profile's costing (kvsim list engines; default vllm-v1)")(
      "overhead", po::value(&q.overhead), "override the host-model preset (kvsim list overheads)")(
      "batch", po::value(&q.batch), "requests in the batch (>= 1; mixed: decoding requests, >= 0)")("context", po::value(&q.context),
                                                                  "tokens per request (>= 1)")(
      "phase", po::value(&phase), "prefill, decode or mixed")(
      "prefill-tokens", po::value(&q.prefill_tokens), "mixed: the prefill chunk's new tokens (>= 1)")(
      "prefill-cached", po::value(&q.prefill_cached), "mixed: tokens of that request already cached (default 0)")(
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
      "format", po::value(&format), "text (default) or json")(
      "shapes", po::value(&shapes),
      "CSV of steps to price with one cost model (columns phase, batch, context[, prefill_tokens, prefill_cached]); "
      "prints the rows with total_ms, gpu_ms, cpu_ms, and needs no --batch, --context or --phase");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) return 0;
  ErrorList errors;
  const bool from_file = vm.count("shapes") > 0;
  for (const char* req : {"model", "gpu", "batch", "context", "phase"}) {
    const bool per_row = std::string(req) == "batch" || std::string(req) == "context" || std::string(req) == "phase";
    if (from_file && per_row && vm.count(req)) errors.add(std::string("--") + req + " conflicts with --shapes (each row gives it)");
    if (!from_file || !per_row) {
      if (!vm.count(req)) errors.add(std::string("--") + req + " is required");
    }
  }
  if (from_file && format != "text") errors.add("--shapes writes CSV; --format does not apply");
  // A mixed step may hold the prefill chunk alone (no decodes).
  if (vm.count("batch") && q.batch < (phase == "mixed" ? 0 : 1)) {
    errors.add("--batch must be >= " + std::string(phase == "mixed" ? "0" : "1") + " (got " + std::to_string(q.batch) + ")");
  }
  if (vm.count("context") && q.context < 1) errors.add("--context must be >= 1 (got " + std::to_string(q.context) + ")");
  if (vm.count("phase") && phase != "prefill" && phase != "decode" && phase != "mixed") {
    errors.add("--phase must be 'prefill', 'decode' or 'mixed' (got '" + phase + "')");
  }
  if (phase == "mixed" && !vm.count("prefill-tokens")) errors.add("--phase mixed needs --prefill-tokens");
  if (phase != "mixed" && (vm.count("prefill-tokens") || vm.count("prefill-cached"))) {
    errors.add("--prefill-tokens and --prefill-cached need --phase mixed");
  }
  if (vm.count("prefill-tokens") && q.prefill_tokens < 1) {
    errors.add("--prefill-tokens must be >= 1 (got " + std::to_string(q.prefill_tokens) + ")");
  }
  if (q.prefill_cached < 0) errors.add("--prefill-cached must be >= 0 (got " + std::to_string(q.prefill_cached) + ")");
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
  if (from_file) return price_shapes(shapes, q);

  q.phase = phase == "prefill" ? StepPhase::kPrefill : phase == "mixed" ? StepPhase::kMixed : StepPhase::kDecode;
  // Tokens the step computes: every prompt token of a prefill, one per decode, plus the chunk.
  const double tokens = phase == "prefill" ? static_cast<double>(q.batch) * q.context
                                           : q.batch + (phase == "mixed" ? static_cast<double>(q.prefill_tokens) : 0.0);
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
    if (phase == "mixed") {
      j["prefill_tokens"] = q.prefill_tokens;
      j["prefill_cached"] = q.prefill_cached;
    }
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
    j["tokens_per_s"] = tokens / to_seconds(c.total_ns);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%s on %s%s, engine %s, KV %s: %s, batch %d x %d tokens\n", full.name.c_str(), g.name.c_str(),
              par.single() ? "" : (" (TP " + std::to_string(q.tensor) + " x PP " + std::to_string(q.pipeline) + ")").c_str(),
              e.preset.c_str(), method.name.c_str(), phase.c_str(), q.batch, q.context);
  if (phase == "mixed") std::printf("  + a prefill chunk of %d tokens after %d cached\n", q.prefill_tokens, q.prefill_cached);
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
  std::printf("\n  total %.3f ms (GPU %.3f ms + CPU overhead %.3f ms), %.0f tokens/s\n", to_ms(c.total_ns),
              to_ms(c.gpu_ns), to_ms(c.cpu_ns), tokens / to_seconds(c.total_ns));
  return 0;
}

}  // namespace kvsim::cli
