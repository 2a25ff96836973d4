#include "calibration/transfer/transfer_bundle.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "calibration/fit/profile_table.h"
#include "calibration/transfer/gpu_match.h"

namespace kvsim {

namespace {

// The column that splits a family into operator groups.
std::string group_of(const BundleTable& t, const std::string& family, std::size_t r) {
  if (family == "gemm") return t.str(r, "op") + "/" + t.str(r, "dtype");
  if (family == "decode_attention") return t.str(r, "kv_format") + "/" + t.str(r, "fused");
  if (family == "prefill_attention") return t.str(r, "variant");
  if (family == "copy") return t.str(r, "direction");
  if (family == "launch") return t.str(r, "mode");
  if (family == "compression") return t.str(r, "op") + "/" + t.str(r, "format");
  return t.str(r, "op");
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", v * 100);
  return buf;
}

}  // namespace

std::optional<double> loo_error(const TransferModel& m, const std::string& gpu, const std::string& impl, OpClass cls) {
  double sum = 0;
  int n = 0;
  const GpuSpec& g = m.catalog().gpu(gpu);
  for (const MeasuredSet& set : m.sets()) {
    if (set.gpu != gpu) continue;
    for (const OpSample& s : set.samples) {
      if (s.impl != impl || s.cls != cls) continue;
      const auto p = m.predict(g, s, gpu);
      if (!p) continue;
      sum += std::abs(p->time_us - s.time_us) / s.time_us;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::optional<TransferredBundle> transfer_bundle(const TransferModel& m, const GpuSpec& target,
                                                 const std::string& shard) {
  // (family, group) -> candidate sets of this shard that measured it.
  std::map<std::pair<std::string, std::string>, std::vector<const MeasuredSet*>> have;
  for (const MeasuredSet& set : m.sets()) {
    if (set.shape.name != shard) continue;
    for (const auto& [family, t] : set.bundle.tables) {
      for (std::size_t r = 0; r < t.rows.size(); ++r) {
        auto& v = have[{family, group_of(t, family, r)}];
        if (v.empty() || v.back() != &set) v.push_back(&set);
      }
    }
  }
  if (have.empty()) return std::nullopt;
  TransferredBundle out;
  out.all_measured = true;
  Bundle& b = out.bundle;
  const MeasuredSet* shape_from = nullptr;
  std::set<std::string> gpus;
  // Leave-one-out error by (source GPU, implementation, class); nullopt: not checkable.
  std::map<std::tuple<std::string, std::string, OpClass>, std::optional<double>> loo_cache;
  // Source GPU -> class -> the worst error of its kernels (nullopt, not checkable, counts as worst).
  std::map<std::string, std::map<std::string, std::optional<double>>> loo_by_gpu;
  const auto text = [](const std::optional<double>& e) { return e ? pct(*e) : std::string("not checkable"); };
  std::set<std::string> measured_here;
  // The source of each group: the target's own measurement first (a kvsim-calibrate bundle
  // before imported ones, as the sets are sorted by directory and public/ sorts after the GPU
  // folders), else the nearest GPU; rank 0 is the target itself.
  std::map<std::pair<std::string, std::string>, std::pair<const MeasuredSet*, int>> chosen;
  std::vector<GpuSpec> all;
  for (const std::string& g : m.measured_gpus()) all.push_back(m.catalog().gpu(g));
  const auto order = rank_sources(target, all);
  for (const auto& [fg, sets] : have) {
    const MeasuredSet* src = nullptr;
    int rank = 0;
    for (const MeasuredSet* s : sets) {
      if (s->gpu == target.name && !src) src = s;
    }
    if (!src) {
      std::vector<GpuSpec> candidates;
      for (const MeasuredSet* s : sets) candidates.push_back(m.catalog().gpu(s->gpu));
      const auto ranked = rank_sources(target, candidates);
      for (const MeasuredSet* s : sets) {
        if (!src && s->gpu == ranked.front().name) src = s;
      }
      for (std::size_t i = 0; i < order.size(); ++i) {
        if (order[i].name == src->gpu) rank = static_cast<int>(i) + 1;
      }
    }
    chosen[fg] = {src, rank};
  }
  // A GEMM measured in one dtype on a nearer GPU beats the other dtype from a farther one
  // (TableCostModel prices with bf16 where a table has it, so a far bf16 would win otherwise).
  auto beaten = [&](const std::string& family, const std::string& group, int rank) {
    if (family != "gemm") return false;
    const std::string op = group.substr(0, group.find('/'));
    for (const auto& [fg, c] : chosen) {
      if (fg.first == "gemm" && fg.second != group && fg.second.substr(0, fg.second.find('/')) == op &&
          c.second < rank) {
        return true;
      }
    }
    return false;
  };
  for (const auto& [fg, sets] : have) {
    const auto& [family, group] = fg;
    const auto [src, rank] = chosen.at(fg);
    if (beaten(family, group, rank)) continue;
    if (!shape_from || src->gpu == target.name) shape_from = src;
    gpus.insert(src->gpu);
    const BundleTable& t = src->bundle.tables.at(family);
    // Sources differ in their extra columns: every table keeps the columns the fitter reads.
    BundleTable& dst = b.tables[family];
    if (dst.header.empty()) {
      dst.header = bundle_required_columns().at(family);
      if (family == "compression") dst.header.push_back("batch");  // h2o_topk's grid axis
      dst.path = "transferred:" + family;
    }
    // Row -> sample, for transferring times.
    std::map<std::size_t, const OpSample*> sample_of;
    for (const OpSample& s : src->samples) {
      if (s.family == family) sample_of[s.row] = &s;
    }
    std::string impl;
    OpClass cls = OpClass::kGemm;
    bool transferred_any = false;
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      if (group_of(t, family, r) != group) continue;
      double ratio = 1.0;
      if (src->gpu != target.name) {
        const GpuSpec& sg = m.catalog().gpu(src->gpu);
        if (family == "copy") {
          ratio = sg.host_link_gbps / target.host_link_gbps;
        } else if (const auto it = sample_of.find(r); it != sample_of.end()) {
          ratio = m.ratio(target, src->gpu, *it->second);
          impl = it->second->impl;
          cls = it->second->cls;
          transferred_any = true;
        }
      } else if (const auto it = sample_of.find(r); it != sample_of.end()) {
        impl = it->second->impl;
      }
      std::vector<std::string> row;
      for (const std::string& col : dst.header) {
        if (col == "time_us_median") row.push_back(csv_number(t.num(r, col) * ratio));
        else row.push_back(t.col(col) >= 0 ? t.str(r, col) : "0");
      }
      dst.rows.push_back(std::move(row));
      dst.lines.push_back(t.lines[r]);
    }
    std::string line = family + " " + group + ": ";
    if (src->gpu == target.name) {
      line += "measured on " + target.name + (impl.empty() ? "" : " (" + impl + ")");
      measured_here.insert(target.name);
    } else {
      out.all_measured = false;
      line += "from " + src->gpu + " (" + match_reason(target, m.catalog().gpu(src->gpu));
      if (family == "copy") line += "; scaled by host link bandwidth";
      if (family == "launch") line += "; host-side, kept as measured";
      if (transferred_any) {
        const auto key = std::make_tuple(src->gpu, impl, cls);
        if (!loo_cache.count(key)) loo_cache[key] = loo_error(m, src->gpu, impl, cls);
        const std::optional<double>& e = loo_cache[key];
        line += "; " + impl + "; leave-one-out error of " + src->gpu + ": " + text(e);
        // Per class, the worst of its kernels (a class's kernels may come from several curves).
        auto& classes = loo_by_gpu[src->gpu];
        const std::string name = op_class_name(cls);
        if (!classes.count(name)) classes[name] = e;
        else if (classes[name] && (!e || *e > *classes[name])) classes[name] = e;
      }
      line += ")";
    }
    out.sources.push_back(line);
  }
  for (const std::string& g : measured_here) out.summary += g + " measured";
  for (const std::string& g : gpus) {
    if (g == target.name) continue;
    out.summary += (out.summary.empty() ? "" : "; ") + g;
    const auto it = loo_by_gpu.find(g);
    if (it != loo_by_gpu.end()) {
      std::string list;
      for (const auto& [cls, e] : it->second) list += (list.empty() ? "" : ", ") + cls + " LOO " + text(e);
      out.summary += " (" + list + ")";
    }
  }
  b.dir = "transferred:" + target.name + "/" + shard;
  b.meta = {{"schema_version", 1},
            {"status", "complete"},
            {"gpu_name", target.display_name},
            {"catalog_gpu", target.name},
            {"sm_count", target.num_sms},
            {"memory_bytes", target.memory_bytes},
            {"date_utc", "assembled by the transfer model"},
            {"model_shape", shape_from->bundle.meta["model_shape"]}};
  out.source_gpus.assign(gpus.begin(), gpus.end());
  return out;
}

}  // namespace kvsim
