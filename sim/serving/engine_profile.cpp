#include "sim/serving/engine_profile.h"

#include <sstream>

#include "sim/core/error.h"

namespace kvsim {


std::string study_kernel_for(const CompressionSpec& m) {
  const std::string& n = m.name;
  if (n.rfind("kivi-4", 0) == 0) return "kivi_int4";
  if (n.rfind("gear-4", 0) == 0 || n == "int4") return "gear_int4";
  if (!m.format.quantized()) return "fp16";
  return "";
}

double masked_kv_scale(const GpuSpec& from, const GpuSpec& to, double bandwidth_share) {
  const double bw = from.hbm_bandwidth_gbps / to.hbm_bandwidth_gbps;
  const double clock = from.boost_clock_mhz > 0 && to.boost_clock_mhz > 0 ? from.boost_clock_mhz / to.boost_clock_mhz : 1.0;
  return bandwidth_share * bw + (1 - bandwidth_share) * clock;
}

namespace {

// The fit measured on `gpu` itself, else the first one (to be moved there); null when none.
template <class Fit>
const Fit* fit_for(const std::vector<Fit>& fits, const GpuSpec& gpu) {
  if (fits.empty()) return nullptr;
  for (const auto& f : fits) {
    if (f.gpu == gpu.name) return &f;
  }
  return &fits.front();
}

void apply_window_path(const EngineCosting& c, const GpuSpec& gpu, const Catalog& catalog, RooflineParams& p) {
  const EngineCosting::WindowPathFit* fit = fit_for(c.window_paths, gpu);
  if (!fit) return;
  // 24 ns per KV token-layer (4 KiB of Mistral-7B's bf16 K and V) is ~0.17 TB/s, 5 % of the
  // H100's HBM bandwidth: the path is not bandwidth-bound, so on another GPU its per-KV term
  // follows the SM clock, as the attention layer's does (assumed; the rule cites it).
  const double kv = fit->gpu == gpu.name ? 1.0 : masked_kv_scale(catalog.gpu(fit->gpu), gpu, 0.0);
  p.window_path_fixed_us = fit->fixed_us;
  p.window_path_ns_per_kv = fit->ns_per_kv * kv;
}

}  // namespace

void apply_engine_costing(const EngineCosting& c, const GpuSpec& gpu, const Catalog& catalog, RooflineParams& p) {
  p.batch_masked_attention = c.batch_masked_attention;
  if (c.attention_compute_efficiency > 0) p.attention_compute_efficiency = c.attention_compute_efficiency;
  apply_window_path(c, gpu, catalog, p);
  if (c.masked_layers.empty()) return;
  // This GPU's own fit when it has one; else the first fit, moved here.
  const EngineCosting::MaskedLayerFit* fit = fit_for(c.masked_layers, gpu);
  double bw = 1, peak = 1;
  if (fit->gpu != gpu.name) {
    const GpuSpec from = catalog.gpu(fit->gpu);
    bw = masked_kv_scale(from, gpu, c.masked_bandwidth_share);
    peak = from.fp16_tflops / gpu.fp16_tflops;
  }
  p.masked_fixed_us = fit->fixed_us;
  p.masked_ns_per_kv = fit->ns_per_kv * bw;
  p.masked_ps_per_pair = fit->ps_per_pair * peak;
  p.masked_single_fixed_us = fit->single_fixed_us;
  p.masked_single_ns_per_kv = fit->single_ns_per_kv * bw;
}

void apply_engine_kernels(const EngineProfile& profile, const ModelSpec& model, std::vector<CompressionSpec>& methods,
                          RooflineParams& p) {
  if (profile.kernel_tables != "study-lmdeploy") return;
  auto k = study_lmdeploy_kernels(model.name);
  if (!k) return;
  p.engine_kernels = std::make_shared<const EngineKernels>(std::move(*k));
  for (auto& m : methods) m.work.engine_kernel = study_kernel_for(m);
}

std::string format_engine_profile(const EngineProfile& p, const HostModel* host, const std::string& gpu) {
  std::ostringstream os;
  os << p.name << ": " << p.engine << "\n"
     << "  gemm               " << p.gemm << "\n"
     << "  prefill attention  " << p.prefill_attention << "\n"
     << "  decode attention   " << p.decode_attention << "\n"
     << "  quantized KV       " << p.quantized_kv << "\n"
     << "  compression        " << p.compression << "\n"
     << "  issue              " << p.issue << "\n"
     << "  sampling           " << p.sampling << "\n"
     << "  memory             " << p.memory_rule << "\n"
     << "  priced as          attention " << (p.costing.batch_masked_attention ? "batch_masked" : "varlen")
     << ", quantized KV read " << (p.costing.dequant == DequantPath::kFused ? "fused" : "unfused");
  if (p.costing.attention_compute_efficiency > 0) os << ", attention efficiency " << p.costing.attention_compute_efficiency;
  if (!p.costing.masked_layers.empty()) os << ", attention layer measured";
  if (!p.costing.window_paths.empty()) os << ", sliding-window path measured";
  os
     << ", host " << p.host_preset << "\n"
     << "  rules\n";
  for (const auto& r : p.rules) {
    os << "    " << r.name << " = " << r.value << "  [" << provenance_name(r.kind) << ": " << r.source << "]\n";
  }
  const HostModel h = host ? *host : host_model_preset(p.host_preset);
  os << "  host model         " << h.summary() << (gpu.empty() ? "" : " (on " + gpu + ")") << "\n";
  for (const auto& s : h.sources) {
    os << "    " << s.name << " = " << s.value << "  [" << provenance_name(s.kind) << ": " << s.source << "]\n";
  }
  if (!p.kernel_tables.empty()) {
    os << "  kernels            " << p.kernel_tables
       << ": decode and prefill attention of fp16, GEAR (int4) and KIVI-4, and H2O's score step, from the fork's "
          "kernels timed on an H200 (with a bundle for the model; other methods keep kvsim's kernels)\n";
  }
  for (const auto& a : p.approximations) os << "  approximation: " << a << "\n";
  return os.str();
}

}  // namespace kvsim
