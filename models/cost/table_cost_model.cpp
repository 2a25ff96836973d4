#include "models/cost/table_cost_model.h"

#include "models/compression/kv_layout.h"
#include "sim/core/error.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace kvsim {

const std::vector<std::string>& gemm_operators() {
  static const std::vector<std::string> ops = {"qkv", "o", "gate_up", "down", "lm_head"};
  return ops;
}

namespace {

std::string bundle_name(const CalibratedCosts& c) { return "the " + c.model_shape + " bundle on " + c.gpu_name; }

std::string or_none(const std::vector<std::string>& names) { return names.empty() ? "none" : join(names, ", "); }
}  // namespace

std::vector<std::string> framework_variant_problems(const CalibratedCosts& costs, const RooflineParams& params) {
  std::vector<std::string> problems;
  if (!params.gemm_variant.empty()) {
    for (const std::string& op : gemm_operators()) {
      if (costs.gemm.count(op + "/" + params.gemm_variant)) continue;
      std::set<std::string> dtypes;
      for (const auto& [key, fit] : costs.gemm) dtypes.insert(key.substr(key.find('/') + 1));
      problems.push_back("gemm_variant: " + bundle_name(costs) + " has no gemm '" + op + "/" + params.gemm_variant +
                         "' (a variant must cover qkv, o, gate_up, down and lm_head; it has: " +
                         or_none({dtypes.begin(), dtypes.end()}) + ")");
      break;
    }
  }
  if (params.prefill_kernel != "flash" && !costs.prefill.count(params.prefill_kernel)) {
    std::vector<std::string> variants;
    for (const auto& [variant, fit] : costs.prefill) variants.push_back(variant);
    problems.push_back("prefill_kernel: " + bundle_name(costs) + " has no prefill_attention variant '" +
                       params.prefill_kernel + "' (it has: " + or_none(variants) + ")");
  }
  return problems;
}

std::vector<std::string> framework_variants_without_bundle(const RooflineParams& params) {
  std::vector<std::string> problems;
  if (!params.gemm_variant.empty()) {
    problems.push_back("gemm_variant: needs a calibration bundle, and this cost model is the roofline");
  }
  if (params.prefill_kernel != "flash") {
    problems.push_back("prefill_kernel: needs a calibration bundle, and this cost model is the roofline");
  }
  return problems;
}

TableCostModel::TableCostModel(ModelSpec model, GpuSpec gpu, GpuSpec measured_on, HostModel overhead,
                               RooflineParams params, std::vector<CompressionSpec> methods, CalibratedCosts costs)
    : model_(model),
      gpu_(gpu),
      source_(measured_on),
      methods_(methods),
      costs_(std::move(costs)),
      target_roofline_(model, gpu, overhead, params, methods),
      source_roofline_(model, measured_on, overhead, params, methods),
      host_(std::move(overhead)),
      params_(params),
      transfer_(gpu.name != measured_on.name) {
  // Callers report these with the file or flag first; this is the backstop.
  if (const auto problems = framework_variant_problems(costs_, params_); !problems.empty()) {
    throw InputError("cost_model." + problems.front());
  }
  const std::string dtype =
      !params_.gemm_variant.empty() ? params_.gemm_variant : costs_.gemm.count("qkv/bf16") ? "bf16" : "fp16";
  for (int i = 0; i < 5; ++i) {
    const auto it = costs_.gemm.find(gemm_operators()[static_cast<std::size_t>(i)] + "/" + dtype);
    gemm_[i] = it == costs_.gemm.end() ? nullptr : &it->second;
  }
  norm_ = elementwise("rmsnorm");
  rotary_ = elementwise("rotary");
  residual_ = elementwise("residual");
  silu_ = elementwise("silu");
  softmax_ = elementwise("softmax");
  const auto pf = costs_.prefill.find(params_.prefill_kernel);
  prefill_ = pf == costs_.prefill.end() ? nullptr : &pf->second;
  // H2O's prefill scores are the materialized kernel's extra time over the flash kernel it
  // was measured beside, whichever kernel prices the attention itself.
  const auto own = costs_.prefill.find("flash");
  prefill_flash_ = own == costs_.prefill.end() ? nullptr : &own->second;
  for (const auto& m : methods_) {
    if (const Grid2D* engine = engine_decode(m)) {
      decode_.push_back({engine, 0.0});  // the engine's kernel at the batch's mean context
      continue;
    }
    const std::string key = decode_key(m);
    const auto it = costs_.decode.find(key);
    const auto sp = costs_.decode_spread_us_per_token.find(key);
    decode_.push_back({it == costs_.decode.end() ? nullptr : &it->second,
                       sp == costs_.decode_spread_us_per_token.end() ? 0.0 : sp->second});
  }
  const auto mat = costs_.prefill.find("materialized");
  prefill_materialized_ = mat == costs_.prefill.end() ? nullptr : &mat->second;
  const auto h2d = costs_.copy.find("h2d");
  h2d_ = h2d == costs_.copy.end() ? nullptr : &h2d->second;
}

const Grid2D* TableCostModel::engine_decode(const CompressionSpec& m) const {
  if (!params_.engine_kernels || m.work.engine_kernel.empty()) return nullptr;
  const auto it = params_.engine_kernels->decode.find(m.work.engine_kernel);
  return it == params_.engine_kernels->decode.end() ? nullptr : &it->second;
}

const PiecewiseLogLog* TableCostModel::engine_prefill(const CompressionSpec& m) const {
  if (!params_.engine_kernels || m.work.engine_kernel.empty()) return nullptr;
  const auto it = params_.engine_kernels->prefill.find(m.work.engine_kernel);
  return it == params_.engine_kernels->prefill.end() ? nullptr : &it->second;
}

const LinearFit* TableCostModel::compression(const std::string& op, const std::string& format) const {
  const auto it = costs_.compression.find(op + "/" + format);
  return it == costs_.compression.end() ? nullptr : &it->second;
}

std::string TableCostModel::format_name(const CompressionSpec& m) const {
  const std::string key = decode_key(m);
  return key.substr(0, key.find('/'));
}

// Compression work from the bundle where it measured it, per layer x L: quantize-on-write
// (quant_write at the tokens written), SnapKV-style selection (snapkv_select over the
// prompt), compaction after prefill (compact at the kept tokens), and H2O's prefill scores
// (the materialized prefill minus the flash prefill). An operator keeps its roofline time
// when any part of it has no table.
void TableCostModel::compression_ops(const BatchShape& shape, StepCost& sc,
                                     const std::function<void(Op, double)>& set) const {
  const int L = model_.num_layers;
  double quant = 0, scores = 0, compact = 0;
  bool quant_ok = true, scores_ok = true, compact_ok = true;
  bool quant_any = false, scores_any = false, compact_any = false;
  auto add_quant = [&](const CompressionSpec& m, double tokens) {
    if (!m.work.quantize_on_write || tokens <= 0) return;
    quant_any = true;
    const LinearFit* f = compression("quant_write", format_name(m));
    if (f) quant += f->eval({1.0, tokens, 0.0});
    else quant_ok = false;
  };
  for (const auto& g : shape.decode) add_quant(methods_.at(g.method), g.count);
  for (const auto& c : shape.prefills) {
    const CompressionSpec& m = methods_.at(c.method);
    add_quant(m, c.new_tokens);
    const double n = c.new_tokens, p = c.cached_tokens, total = n + p;
    if (m.work.scores_at_prefill && engine_decode(m) && c.last_chunk) {
      // The engine's own score pass (the fork's: the last 64 queries against the prompt, once).
      scores_any = true;
      scores += params_.engine_kernels->h2o_score.eval(1.0, total);
    } else if (m.work.scores_at_prefill) {
      scores_any = true;
      if (prefill_flash_ && prefill_materialized_) {
        scores += std::max(0.0, prefill_materialized_->eval(n, p + 1) - prefill_flash_->eval(n, p + 1));
      } else {
        scores_ok = false;
      }
    }
    if (!c.last_chunk) continue;
    if (m.work.observation_window > 0) {
      scores_any = true;
      const LinearFit* f = compression("snapkv_select", "fp16");
      if (f) scores += f->eval({1.0, static_cast<double>(m.work.observation_window), total});
      else scores_ok = false;
    }
    const double kept = static_cast<double>(kept_after_prefill(m.retention, static_cast<std::int64_t>(total)));
    if (m.work.topk_compaction && kept < total) {
      compact_any = true;
      const LinearFit* f = compression("compact", "fp16");
      if (f) compact += f->eval({1.0, kept, total});
      else compact_ok = false;
    }
  }
  if (quant_any && quant_ok) set(Op::kKvQuantize, quant * L);
  if (scores_any && scores_ok && sc[Op::kKvScores].ns > 0) set(Op::kKvScores, scores * L);
  if (compact_any && compact_ok && sc[Op::kKvCompaction].ns > 0) set(Op::kKvCompaction, compact * L);
}

std::string TableCostModel::decode_key(const CompressionSpec& m) const {
  const KvFormat& f = m.format;
  const double bits = std::max(f.key_bits, f.value_bits);
  std::string fmt = "fp16";
  if (bits <= 2) fmt = "int2";
  else if (bits <= 4) fmt = "int4";
  else if (bits <= 8) fmt = (f.per_head_scales || f.group_size > 0) ? "int8" : "fp8_e4m3";
  const bool fused = m.work.fused_dequant || !f.quantized();
  // A generic cast pass (PyTorch) followed by the fp16 kernel: attention is the fp16 table's,
  // the pass is priced at its own bandwidth (RooflineCostModel).
  if (!fused && m.work.dequant_bandwidth_gbps > 0) return "fp16/fused";
  const std::string key = fmt + "/" + (fused ? "fused" : "unfused");
  // No unfused fp8 kernel is measured; the int8 dequantize pass moves about the same bytes.
  if (key == "fp8_e4m3/unfused" && !costs_.decode.count(key)) return "int8/unfused";
  return key;
}

const PiecewiseLogLog* TableCostModel::elementwise(const std::string& needle) const {
  for (const auto& [op, fit] : costs_.elementwise) {
    if (op.find(needle) != std::string::npos) return &fit;
  }
  return nullptr;
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
    sc[op].ns = cost_ns(ns);
  };
  const double tokens = static_cast<double>(shape.tokens());
  if (tokens > 0) {
    auto layers = [&](double us) { return us < 0 ? -1.0 : us * L; };
    set(Op::kQkvProj, layers(at(gemm_[0], tokens)));
    set(Op::kOProj, layers(at(gemm_[1], tokens)));
    set(Op::kGateUpProj, layers(at(gemm_[2], tokens)));
    set(Op::kDownProj, layers(at(gemm_[3], tokens)));
    const double norm = at(norm_, tokens), rope = at(rotary_, tokens), add = at(residual_, tokens),
                 act = at(silu_, tokens);
    if (norm >= 0 && rope >= 0) set(Op::kNormRope, L * (2 * norm + rope + 2 * std::max(add, 0.0)));
    set(Op::kActivation, layers(act));
    // Measured per-launch times include each kernel's launch gap. Kernels the bundle does
    // not measure (an implementation's extra elementwise kernels beyond the 11 costed per
    // layer: 4 GEMMs, attention, 2 norms, rotary, activation, 2 residual adds) each cost a
    // minimal elementwise launch at this row count, or the framework's own small kernel
    // (extra_kernel_us) where that costs more.
    constexpr int kCostedKernelsPerLayer = 11;
    const double extra = std::max(0, params_.kernels_per_layer - kCostedKernelsPerLayer);
    const double small = std::max({add, costs_.graph_us_per_kernel, params_.extra_kernel_us});
    if (small > 0) set(Op::kKernelGaps, extra * L * small + 3 * costs_.graph_us_per_kernel);
  }
  const std::int32_t rows = shape.sampled_rows();
  if (rows > 0) {
    set(Op::kLmHead, at(gemm_[4], rows));
    set(Op::kSampling, at(softmax_, rows));
  }
  if (!shape.prefills.empty() && !params_.batch_masked_attention) {
    if (prefill_) {
      double us = 0;
      for (const auto& c : shape.prefills) {
        // The engine's own prefill kernel is timed on whole prompts; a chunk pays its share.
        const PiecewiseLogLog* own = engine_prefill(methods_.at(c.method));
        const double total = static_cast<double>(c.new_tokens) + c.cached_tokens;
        us += own ? own->eval(total) * c.new_tokens / total : prefill_->eval(c.new_tokens, c.cached_tokens + 1.0);
      }
      set(Op::kAttnPrefill, us * L);
    }
  }
  if (!shape.decode.empty() && !params_.batch_masked_attention) {
    double us = 0;
    bool all = true;
    for (const auto& g : shape.decode) {
      const DecodeTable& t = decode_.at(g.method);
      if (!t.grid) {
        all = false;
        break;
      }
      const double mean = static_cast<double>(g.context_sum) / g.count;
      us += t.grid->eval(g.count, mean) + t.spread * (g.context_max - mean);
    }
    if (all) {
      set(Op::kAttnDecode, us * L);
      // A measured unfused decode already includes its dequantize pass; a cast pass priced at
      // its own bandwidth (dequant_bandwidth_gbps) stays.
      bool cast_pass = false;
      for (const auto& g : shape.decode) cast_pass |= methods_.at(g.method).work.dequant_bandwidth_gbps > 0;
      if (!cast_pass) sc[Op::kKvDequant] = OpCost{};
    }
  }
  compression_ops(shape, sc, set);
  if (shape.swap_bytes > 0) {
    set(Op::kSwap, at(h2d_, static_cast<double>(shape.swap_bytes)));
  }
  Duration gpu = 0;
  for (std::size_t i = 0; i < kNumOps; ++i) {
    if (static_cast<Op>(i) != Op::kCpuOverhead) gpu += sc.ops[i].ns;
  }
  sc.gpu_ns = gpu;
  // The roofline's host cost was exposed against its own device time; redo it against this one.
  if (!shape.empty()) {
    sc.cpu_ns = host_.exposed_ns(shape, model_.num_layers, gpu);
    // An engine score step with host work of its own (the fork's H2O layer: a CPU tensor, its
    // copy, two .item() syncs) is serial, per prefill sequence and layer.
    for (const auto& c : shape.prefills) {
      const CompressionSpec& m = methods_.at(c.method);
      if (!c.last_chunk || !m.work.scores_at_prefill || !engine_decode(m)) continue;
      const double total = static_cast<double>(c.new_tokens) + c.cached_tokens;
      sc.cpu_ns += cost_ns(params_.engine_kernels->h2o_host.eval(total) * 1e3 * L);
    }
    sc[Op::kCpuOverhead].ns = sc.cpu_ns;
  }
  sc.total_ns = std::max<Duration>(sc.gpu_ns + sc.cpu_ns, shape.empty() ? 0 : 1);
  return sc;
}

std::string TableCostModel::describe() const {
  std::ostringstream os;
  os << (transfer_ ? "transfer: calibrated on " + source_.name + ", scaled to " + gpu_.name + " by roofline ratios"
                   : "calibrated")
     << " (" << costs_.provenance << "; roofline fallback for unmeasured operators; host " << host_.preset;
  // Framework kernels chosen over kvsim-calibrate's own, so a report says what priced it.
  if (!params_.gemm_variant.empty()) os << "; gemm " << params_.gemm_variant;
  if (params_.prefill_kernel != "flash") os << "; prefill " << params_.prefill_kernel;
  if (params_.extra_kernel_us > 0) os << "; extra kernels " << params_.extra_kernel_us << " us";
  os << ")";
  return os.str();
}

}  // namespace kvsim
