#include "models/cost/table_cost_model.h"

#include <cmath>
#include <sstream>

namespace kvsim {

TableCostModel::TableCostModel(ModelSpec model, GpuSpec gpu, GpuSpec measured_on, OverheadSpec overhead,
                               RooflineParams params, std::vector<CompressionSpec> methods, CalibratedCosts costs)
    : model_(model),
      gpu_(gpu),
      source_(measured_on),
      methods_(methods),
      costs_(std::move(costs)),
      target_roofline_(model, gpu, overhead, params, methods),
      source_roofline_(model, measured_on, overhead, params, methods),
      overhead_(std::move(overhead)),
      params_(params),
      transfer_(gpu.name != measured_on.name) {
  gemm_dtype_ = costs_.gemm.count("qkv/bf16") ? "bf16" : "fp16";
}

double TableCostModel::gemm_us(const std::string& op, double rows) const {
  const auto it = costs_.gemm.find(op + "/" + gemm_dtype_);
  return it == costs_.gemm.end() ? -1.0 : it->second.eval(rows);
}

std::string TableCostModel::decode_key(const CompressionSpec& m) const {
  const KvFormat& f = m.format;
  const double bits = std::max(f.key_bits, f.value_bits);
  std::string fmt = "fp16";
  if (bits <= 2) fmt = "int2";
  else if (bits <= 4) fmt = "int4";
  else if (bits <= 8) fmt = (f.per_head_scales || f.group_size > 0) ? "int8" : "fp8_e4m3";
  const bool fused = m.work.fused_dequant || !f.quantized();
  const std::string key = fmt + "/" + (fused ? "fused" : "unfused");
  // No unfused fp8 kernel is measured; the int8 dequantize pass moves about the same bytes.
  if (key == "fp8_e4m3/unfused" && !costs_.decode.count(key)) return "int8/unfused";
  return key;
}

double TableCostModel::elementwise_us(const std::string& needle, double rows) const {
  for (const auto& [op, fit] : costs_.elementwise) {
    if (op.find(needle) != std::string::npos) return fit.eval(rows);
  }
  return -1.0;
}

StepCost TableCostModel::step_cost(const BatchShape& shape) const {
  // Start from the roofline (the fallback for anything unmeasured, and the source of the
  // per-operator FLOPs and bytes); then replace what the bundle measured.
  StepCost sc = target_roofline_.step_cost(shape);
  const StepCost src = transfer_ ? source_roofline_.step_cost(shape) : sc;
  const int L = model_.num_layers;
  auto set = [&](Op op, double us) {
    if (us < 0) return;
    double ns = us * 1e3;
    if (transfer_ && src[op].ns > 0) ns *= static_cast<double>(sc[op].ns) / static_cast<double>(src[op].ns);
    sc[op].ns = static_cast<Duration>(std::ceil(ns));
  };
  const double tokens = static_cast<double>(shape.tokens());
  if (tokens > 0) {
    auto layers = [&](double us) { return us < 0 ? -1.0 : us * L; };
    set(Op::kQkvProj, layers(gemm_us("qkv", tokens)));
    set(Op::kOProj, layers(gemm_us("o", tokens)));
    set(Op::kGateUpProj, layers(gemm_us("gate_up", tokens)));
    set(Op::kDownProj, layers(gemm_us("down", tokens)));
    const double norm = elementwise_us("rmsnorm", tokens), rope = elementwise_us("rotary", tokens),
                 add = elementwise_us("residual", tokens), act = elementwise_us("silu", tokens);
    if (norm >= 0 && rope >= 0) set(Op::kNormRope, L * (2 * norm + rope + 2 * std::max(add, 0.0)));
    set(Op::kActivation, layers(act));
    // Measured per-launch times include each kernel's launch gap. Kernels the bundle does
    // not measure (an implementation's extra elementwise kernels beyond the 11 costed per
    // layer: 4 GEMMs, attention, 2 norms, rotary, activation, 2 residual adds) each cost a
    // minimal elementwise launch at this row count.
    constexpr int kCostedKernelsPerLayer = 11;
    const double extra = std::max(0, params_.kernels_per_layer - kCostedKernelsPerLayer);
    const double small = std::max(elementwise_us("residual", tokens), costs_.graph_us_per_kernel);
    if (small > 0) set(Op::kKernelGaps, extra * L * small + 3 * costs_.graph_us_per_kernel);
  }
  const std::int32_t rows = shape.sampled_rows();
  if (rows > 0) {
    set(Op::kLmHead, gemm_us("lm_head", rows));
    set(Op::kSampling, elementwise_us("softmax", rows));
  }
  if (!shape.prefills.empty()) {
    const auto it = costs_.prefill.find("flash");
    if (it != costs_.prefill.end()) {
      double us = 0;
      for (const auto& c : shape.prefills) us += it->second.eval(c.new_tokens, c.cached_tokens + 1.0);
      set(Op::kAttnPrefill, us * L);
    }
  }
  if (!shape.decode.empty()) {
    double us = 0;
    bool all = true;
    for (const auto& g : shape.decode) {
      const std::string key = decode_key(methods_.at(g.method));
      const auto it = costs_.decode.find(key);
      if (it == costs_.decode.end()) {
        all = false;
        break;
      }
      const double mean = static_cast<double>(g.context_sum) / g.count;
      const auto sp = costs_.decode_spread_us_per_token.find(key);
      us += it->second.eval(g.count, mean) +
            (sp == costs_.decode_spread_us_per_token.end() ? 0.0 : sp->second * (g.context_max - mean));
    }
    if (all) set(Op::kAttnDecode, us * L);
  }
  if (shape.swap_bytes > 0) {
    const auto it = costs_.copy.find("h2d");
    if (it != costs_.copy.end()) set(Op::kSwap, it->second.eval(static_cast<double>(shape.swap_bytes)));
  }
  Duration gpu = 0;
  for (std::size_t i = 0; i < kNumOps; ++i) {
    if (static_cast<Op>(i) != Op::kCpuOverhead) gpu += sc.ops[i].ns;
  }
  sc.gpu_ns = gpu;
  sc.total_ns = std::max<Duration>(sc.gpu_ns + sc.cpu_ns, shape.empty() ? 0 : 1);
  return sc;
}

std::string TableCostModel::describe() const {
  std::ostringstream os;
  os << (transfer_ ? "transfer: calibrated on " + source_.name + ", scaled to " + gpu_.name + " by roofline ratios"
                   : "calibrated")
     << " (" << costs_.provenance << "; roofline fallback for unmeasured operators; overhead " << overhead_.preset
     << ")";
  return os.str();
}

}  // namespace kvsim
