#include "calibration/transfer/transfer_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "calibration/fit/fitter.h"
#include "calibration/transfer/gpu_match.h"
#include "calibration/transfer/plausibility.h"
#include "sim/core/error.h"
#include "sim/core/text_file.h"

namespace kvsim {

namespace {

std::string impl_of(const Bundle& b, const std::string& family) {
  if (!b.meta.contains("implementation")) return "kvsim-calibrate";
  const auto& i = b.meta["implementation"];
  if (i.is_string()) return i.get<std::string>();
  if (i.is_object() && i.contains(family) && i[family].is_string()) return i[family].get<std::string>();
  throw InputError(b.dir + "/meta.json: implementation names no implementation for family '" + family + "'");
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

}  // namespace

MeasuredSet measured_set(Bundle b, const std::string& catalog_gpu) {
  MeasuredSet s;
  s.gpu = catalog_gpu;
  s.dir = b.dir;
  s.shape = shard_shape_of(b);
  s.samples = samples_from_bundle(b);
  for (OpSample& x : s.samples) {
    x.impl = impl_of(b, x.family);
    // One curve per kernel: a library's prefill variants (flash, materialized scores), KV
    // formats (fp16, int4 fused, int4 unfused, ...), token-wise and compression kernels differ
    // in kind, not only in size. GEMMs of every shape run the same cuBLAS kernel family.
    if (x.cls != OpClass::kGemm) x.impl += "/" + x.op;
  }
  s.bundle = std::move(b);
  return s;
}

std::vector<MeasuredSet> load_measured_sets(const std::vector<std::string>& roots, const Catalog& catalog) {
  namespace fs = std::filesystem;
  std::vector<MeasuredSet> out;
  for (const std::string& root : roots) {
    if (!fs::is_directory(root)) continue;
    std::vector<fs::path> metas, nccl;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
      if (it.depth() > 3) it.disable_recursion_pending();
      if (!it->is_regular_file()) continue;
      const fs::path& p = it->path();
      if (p.filename() == "meta.json") metas.push_back(p);
      const std::string stem = p.stem().string();
      if (p.parent_path().filename() == "nccl" && p.extension() == ".csv" &&
          (stem == "allreduce" || stem == "allgather" || stem == "sendrecv")) {
        nccl.push_back(p);
      }
    }
    std::sort(metas.begin(), metas.end());
    std::sort(nccl.begin(), nccl.end());
    // NCCL tables: <gpu>-x<N>/nccl/<op>.csv, their implementation in <op>_meta.json.
    for (const fs::path& p : nccl) {
      const std::string machine = p.parent_path().parent_path().filename().string();
      const auto x = machine.rfind("-x");
      if (x == std::string::npos || !catalog.has_gpu(machine.substr(0, x))) continue;
      std::string impl = "unknown";
      const fs::path meta = p.parent_path() / (p.stem().string() + "_meta.json");
      if (fs::exists(meta)) {
        const auto j = nlohmann::json::parse(read_text_file(meta.string(), "NCCL table metadata"), nullptr, false);
        if (j.is_object()) impl = j.value("implementation", j.value("tool", std::string("unknown")));
      }
      MeasuredSet set;
      set.gpu = machine.substr(0, x);
      set.dir = p.parent_path().string();
      set.shape.name = "nccl";
      set.samples = samples_from_nccl_csv(p.string(), p.stem().string());
      // One curve per collective (bus bytes normalize the GPU count; per-count curves were
      // tried and predicted worse: 29-41 % against 15-39 %).
      for (OpSample& s : set.samples) s.impl = impl + "/" + s.op;
      out.push_back(std::move(set));
    }
    for (const fs::path& meta : metas) {
      Bundle b = load_bundle(meta.parent_path().string());
      if (b.meta.value("status", std::string()) != "complete" || b.meta.value("quick", false) ||
          b.meta.value("dry_run", false)) {
        continue;
      }
      const std::string gpu = catalog_gpu_of(b);  // as fit_bundle resolves it
      if (gpu.empty() || !catalog.has_gpu(gpu)) continue;
      MeasuredSet set = measured_set(std::move(b), gpu);
      // A row faster than the datasheet is no measurement (the samples just computed).
      require_plausible(set.bundle, set.samples, catalog.gpu(gpu));
      out.push_back(std::move(set));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const MeasuredSet& a, const MeasuredSet& b) { return std::tie(a.gpu, a.dir) < std::tie(b.gpu, b.dir); });
  return out;
}

TransferModel::TransferModel(const Catalog& catalog, std::vector<MeasuredSet> sets)
    : catalog_(catalog), sets_(std::move(sets)) {
  std::map<ClassKey, std::vector<const OpSample*>> by_class;
  for (const MeasuredSet& set : sets_) {
    for (const OpSample& s : set.samples) {
      by_class[{set.gpu, s.impl, static_cast<int>(s.cls)}].push_back(&s);
      times_[{set.gpu, s.impl}].emplace(s.key, s.time_us);
    }
  }
  std::set<std::string> gpus;
  for (const MeasuredSet& set : sets_) gpus.insert(set.gpu);
  measured_gpus_.assign(gpus.begin(), gpus.end());
  for (const auto& [key, samples] : by_class) {
    params_[key] = fit_efficiency(samples, peaks_of(catalog_.gpu(std::get<0>(key)), static_cast<OpClass>(std::get<2>(key))));
  }
}

const EfficiencyParams* TransferModel::params(const std::string& gpu, const std::string& impl, OpClass cls) const {
  const auto it = params_.find({gpu, impl, static_cast<int>(cls)});
  return it == params_.end() ? nullptr : &it->second;
}


std::vector<std::string> TransferModel::ranked_sources(const GpuSpec& target, const std::string& impl, OpClass cls,
                                                      const std::string& exclude) const {
  std::vector<GpuSpec> candidates;
  for (const std::string& g : measured_gpus()) {
    if (g != exclude && g != target.name && params(g, impl, cls)) candidates.push_back(catalog_.gpu(g));
  }
  std::vector<std::string> out;
  for (const GpuSpec& g : rank_sources(target, candidates)) out.push_back(g.name);
  return out;
}

std::string TransferModel::source_for(const GpuSpec& target, const std::string& impl, OpClass cls,
                                      const std::string& exclude) const {
  const auto ranked = ranked_sources(target, impl, cls, exclude);
  return ranked.empty() ? "" : ranked.front();
}

std::optional<TransferModel::Prediction> TransferModel::predict(const GpuSpec& target, const OpSample& s,
                                                                const std::string& exclude) const {
  // The nearest GPU that ran this exact workload; if none did, the nearest GPU's fitted curve.
  const auto ranked = ranked_sources(target, s.impl, s.cls, exclude);
  if (ranked.empty()) return std::nullopt;
  std::string src = ranked.front();
  const double* measured = nullptr;
  for (const std::string& g : ranked) {
    const auto& times = times_.at({g, s.impl});
    const auto it = times.find(s.key);
    if (it != times.end()) {
      src = g;
      measured = &it->second;
      break;
    }
  }
  const EfficiencyParams& ps = *params(src, s.impl, s.cls);
  const EfficiencyParams* own = target.name == exclude ? nullptr : params(target.name, s.impl, s.cls);
  const EfficiencyParams& pt = own ? *own : ps;
  const double model_t = efficiency_time_us(pt, peaks_of(target, s.cls), s.flops, s.bytes);
  Prediction p;
  p.source = src;
  p.paired = measured != nullptr;
  p.time_us = measured ? *measured * model_t / efficiency_time_us(ps, peaks_of(catalog_.gpu(src), s.cls), s.flops, s.bytes)
                       : model_t;
  return p;
}

double TransferModel::ratio(const GpuSpec& target, const std::string& source, const OpSample& s) const {
  const EfficiencyParams* ps = params(source, s.impl, s.cls);
  if (!ps) return 1.0;
  const EfficiencyParams* own = params(target.name, s.impl, s.cls);
  const EfficiencyParams& pt = own ? *own : *ps;
  return efficiency_time_us(pt, peaks_of(target, s.cls), s.flops, s.bytes) /
         efficiency_time_us(*ps, peaks_of(catalog_.gpu(source), s.cls), s.flops, s.bytes);
}

std::vector<LooRow> leave_one_out_ops(const TransferModel& m) {
  // (gpu, impl, class label) -> errors and the source used.
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<std::vector<double>, std::set<std::string>>>
      acc;
  for (const MeasuredSet& set : m.sets()) {
    const GpuSpec& target = m.catalog().gpu(set.gpu);
    for (const OpSample& s : set.samples) {
      const auto p = m.predict(target, s, set.gpu);
      if (!p) continue;
      std::string label = op_class_name(s.cls);
      if (s.cls == OpClass::kDecodeAttention && s.op != "fp16") label += " (compressed KV)";
      auto& [errs, sources] = acc[{set.gpu, s.impl, label}];
      errs.push_back(std::abs(p->time_us - s.time_us) / s.time_us);
      sources.insert(p->source);
    }
  }
  std::vector<LooRow> out;
  for (const auto& [key, v] : acc) {
    LooRow r;
    std::tie(r.gpu, r.impl, r.cls) = key;
    std::vector<std::string> src(v.second.begin(), v.second.end());
    for (std::size_t i = 0; i < src.size(); ++i) r.source += (i ? "+" : "") + src[i];
    r.points = static_cast<int>(v.first.size());
    r.mape = mean(v.first);
    r.p90 = quantile(v.first, 0.9);
    r.max = quantile(v.first, 1.0);
    out.push_back(r);
  }
  return out;
}

namespace {

// The samples of one bundle that make up one step at size n (and attention at context c).
struct StepParts {
  std::vector<const OpSample*> ops;
  bool attention = false;
};

std::optional<StepParts> step_parts(const MeasuredSet& set, bool decode, double n, double context) {
  // Per layer: the 4 linear layers, rmsnorm twice, rotary, silu_mul, residual_add twice.
  const std::vector<std::pair<std::string, int>> linear = {{"qkv", 1}, {"o", 1}, {"gate_up", 1}, {"down", 1}};
  const std::vector<std::pair<std::string, int>> elem = {{"rmsnorm", 2}, {"rotary", 1}, {"silu_mul", 1},
                                                          {"residual_add", 2}};
  StepParts parts;
  std::string dtype;
  for (const OpSample& s : set.samples) {
    if (s.family == "gemm" && (dtype.empty() || s.key.find("/fp16/") != std::string::npos)) {
      dtype = s.key.substr(0, s.key.find("/m="));
      dtype = dtype.substr(dtype.rfind('/') + 1);
    }
  }
  auto find = [&](const std::string& family, const std::string& op, double x, double y) -> const OpSample* {
    for (const OpSample& s : set.samples) {
      if (s.family != family || s.op != op || s.x != x || s.y != y) continue;
      if (family == "gemm" && s.key.find("/" + dtype + "/") == std::string::npos) continue;
      if (family == "decode_attention" && s.key.find(",uniform") == std::string::npos) continue;
      return &s;
    }
    return nullptr;
  };
  for (const auto& [op, times] : linear) {
    const OpSample* s = find("gemm", op, n, 0);
    if (!s) return std::nullopt;
    for (int i = 0; i < times; ++i) parts.ops.push_back(s);
  }
  for (const auto& [op, times] : elem) {
    const OpSample* s = find("elementwise", op, n, 0);
    if (!s) return std::nullopt;
    for (int i = 0; i < times; ++i) parts.ops.push_back(s);
  }
  const OpSample* attn = decode ? find("decode_attention", "fp16", n, context) : find("prefill_attention", "flash", n, 0);
  if (attn) {
    parts.ops.push_back(attn);
    parts.attention = true;
  }
  return parts;
}

}  // namespace

std::vector<StepLooRow> leave_one_out_steps(const TransferModel& m) {
  constexpr double kDecodeContext = 1024;
  const std::vector<double> decode_n = {1, 8, 32, 64, 128, 256};
  const std::vector<double> prefill_n = {256, 512, 1024, 2048, 4096};
  std::vector<StepLooRow> out;
  for (const MeasuredSet& set : m.sets()) {
    const GpuSpec& target = m.catalog().gpu(set.gpu);
    for (const bool decode : {true, false}) {
      std::vector<double> errs;
      std::set<std::string> sources, impls;
      bool all_attention = true;
      for (const double n : decode ? decode_n : prefill_n) {
        const auto parts = step_parts(set, decode, n, kDecodeContext);
        if (!parts) continue;
        double measured = 0, predicted = 0;
        bool ok = true;
        for (const OpSample* s : parts->ops) {
          const auto p = m.predict(target, *s, set.gpu);
          if (!p) {
            ok = false;
            break;
          }
          measured += s->time_us;
          predicted += p->time_us;
          sources.insert(p->source);
          impls.insert(s->impl);
        }
        if (!ok) continue;
        all_attention &= parts->attention;
        errs.push_back(std::abs(predicted - measured) / measured);
      }
      if (errs.empty()) continue;
      StepLooRow r;
      r.gpu = set.gpu;
      r.shape = set.shape.name;
      r.phase = decode ? "decode" : "prefill";
      for (const auto& s : sources) r.source += (r.source.empty() ? "" : "+") + s;
      for (const auto& s : impls) r.impl += (r.impl.empty() ? "" : "+") + s;
      r.contents = all_attention ? "linear, norms, attention" : "linear, norms (no attention measured)";
      r.steps = static_cast<int>(errs.size());
      r.mape = mean(errs);
      r.max = quantile(errs, 1.0);
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace kvsim
