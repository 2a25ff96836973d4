#include "calibration/transfer/plausibility.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include "calibration/transfer/op_sample.h"
#include "sim/core/error.h"

namespace kvsim {
namespace {

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

const BundleTable* table_of(const Bundle& b, const std::string& family) {
  const auto it = b.tables.find(family);
  return it == b.tables.end() ? nullptr : &it->second;
}

std::string where_of(const Bundle& b, const OpSample& s) {
  const BundleTable* t = table_of(b, s.family);
  if (!t || s.row >= t->lines.size()) return b.dir + "/" + s.family + ".csv";
  return t->path + ":" + std::to_string(t->lines[s.row]);
}

// The datasheet lower bound of a sample in microseconds: FLOPs at the dense tensor peak of its
// dtype (fp8 GEMMs at the fp8 peak), bytes at the HBM bandwidth.
double bound_us(const OpSample& s, const GpuSpec& gpu) {
  const bool fp8 = s.cls == OpClass::kGemm && s.key.find("/fp8") != std::string::npos && gpu.fp8_tflops > 0;
  const double peak = (fp8 ? gpu.fp8_tflops : gpu.fp16_tflops) * 1e6;  // FLOPs per us
  const double bw = gpu.hbm_bandwidth_gbps * 1e3;                       // bytes per us
  // Up to the L2's size of a working set can be served from L2 when a profiler repeats a kernel
  // without flushing the cache (Vidur's tables do), so only the rest must cross HBM.
  const double hbm_bytes = std::max(0.0, s.bytes - static_cast<double>(gpu.l2_bytes));
  return std::max(peak > 0 ? s.flops / peak : 0.0, bw > 0 ? hbm_bytes / bw : 0.0);
}

// The samples whose time the physics orders: same kernel and shape, one size growing.
// Returns (group, size) or an empty group for samples that are not ordered.
std::pair<std::string, double> monotone_axis(const OpSample& s) {
  const std::string base = s.key.substr(0, s.key.rfind('/'));
  switch (s.cls) {
    case OpClass::kGemm: return {s.key.substr(0, s.key.rfind("/m=")) + "|" + s.op, s.x};
    case OpClass::kElementwise: return {s.key.substr(0, s.key.rfind("/r=")), s.x};
    case OpClass::kPrefillAttention: return {base + "|c=" + fmt(s.y), s.x};
    default: return {"", 0};
  }
}

}  // namespace

std::vector<PlausibilityProblem> plausibility_problems(const Bundle& b, const GpuSpec& gpu,
                                                       const PlausibilityLimits& limits) {
  std::vector<PlausibilityProblem> out;
  const std::vector<OpSample> samples = samples_from_bundle(b);
  for (const OpSample& s : samples) {
    const double bound = bound_us(s, gpu);
    if (bound <= 0 || s.time_us <= 0) continue;
    if (s.time_us < bound * (1.0 - limits.faster_than_bound)) {
      out.push_back({where_of(b, s), "time_us_median " + fmt(s.time_us) + " is faster than " + gpu.name +
                                         "'s datasheet allows (" + fmt(bound) + " us for " + fmt(s.flops / 1e9) +
                                         " GFLOP and " + fmt(s.bytes / 1e6) + " MB)"});
    } else if (s.time_us > bound * limits.slower_than_bound && s.time_us > limits.slow_floor_us) {
      out.push_back({where_of(b, s), "time_us_median " + fmt(s.time_us) + " is " + fmt(s.time_us / bound) +
                                         "x the datasheet bound of " + fmt(bound) + " us on " + gpu.name +
                                         " (more than " + fmt(limits.slower_than_bound) + "x)"});
    }
  }
  // Decode attention: more sequences at one context, or a longer context at one batch, read more.
  std::map<std::string, std::vector<const OpSample*>> groups;
  for (const OpSample& s : samples) {
    if (s.cls == OpClass::kDecodeAttention) {
      if (s.key.find(",uniform") == std::string::npos) continue;  // mixed batches have no single axis
      const std::string kernel = s.key.substr(0, s.key.find("/b="));
      groups[kernel + "|c=" + fmt(s.y)].push_back(&s);
      continue;
    }
    const auto [group, size] = monotone_axis(s);
    if (!group.empty()) groups[group].push_back(&s);
  }
  for (auto& [group, members] : groups) {
    std::vector<const OpSample*> v = members;
    std::sort(v.begin(), v.end(), [](const OpSample* a, const OpSample* c) { return a->x < c->x; });
    double slowest = 0;
    const OpSample* at = nullptr;
    for (const OpSample* s : v) {
      if (at && s->x > at->x && s->time_us < slowest * (1.0 - limits.monotone_drop) &&
          slowest - s->time_us > limits.resolution_us) {
        out.push_back({where_of(b, *s), "time_us_median " + fmt(s->time_us) + " at size " + fmt(s->x) +
                                            " is more than " + fmt(limits.monotone_drop * 100) +
                                            " % below the " + fmt(slowest) + " us of the smaller size " + fmt(at->x) +
                                            " (" + where_of(b, *at) + "): times must grow with the work"});
      }
      if (s->time_us > slowest) slowest = s->time_us, at = s;
    }
  }
  return out;
}

bool has_shard_dimensions(const Bundle& b) {
  if (!b.meta.contains("model_shape") || !b.meta["model_shape"].is_object()) return false;
  const auto& m = b.meta["model_shape"];
  for (const char* k : {"layers", "hidden", "num_q_heads", "num_kv_heads", "head_dim", "ffn"}) {
    if (!m.contains(k) || !m[k].is_number_integer() || m[k].get<int>() < 1) return false;
  }
  return (m.contains("vocab") && m["vocab"].is_number_integer()) || (m.contains("vocab_shard") && m["vocab_shard"].is_number_integer());
}

void require_plausible(const Bundle& b, const GpuSpec& gpu) {
  const auto problems = plausibility_problems(b, gpu);
  if (problems.empty()) return;
  const auto& p = problems.front();
  throw InputError(p.where + ": " + p.message +
                   (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : ""));
}

double min_time_over_bound(const Bundle& b, const GpuSpec& gpu) {
  double lo = 1e300;
  for (const OpSample& s : samples_from_bundle(b)) {
    const double bound = bound_us(s, gpu);
    if (bound > 0 && s.time_us > 0) lo = std::min(lo, s.time_us / bound);
  }
  return lo;
}

}  // namespace kvsim
