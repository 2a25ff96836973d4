#include "calibration/transfer/plausibility.h"

#include <algorithm>
#include <cstdio>
#include <map>

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

// The samples whose time the physics orders share a group (same kernel and shape, one size
// growing along OpSample::x); "" for samples that are not ordered.
std::string monotone_group(const OpSample& s) {
  switch (s.cls) {
    case OpClass::kGemm: return s.key.substr(0, s.key.rfind("/m=")) + "|" + s.op;
    case OpClass::kElementwise: return s.key.substr(0, s.key.rfind("/r="));
    case OpClass::kPrefillAttention: return s.key.substr(0, s.key.rfind('/')) + "|c=" + fmt(s.y);
    case OpClass::kDecodeAttention:
      // More sequences at one context read more; mixed batches have no single axis.
      if (s.key.find(",uniform") == std::string::npos) return "";
      return s.key.substr(0, s.key.find("/b=")) + "|c=" + fmt(s.y);
    default: return "";
  }
}

}  // namespace

std::vector<PlausibilityProblem> plausibility_problems(const Bundle& b, const GpuSpec& gpu,
                                                       const PlausibilityLimits& limits) {
  return plausibility_problems(b, samples_from_bundle(b), gpu, limits);
}

std::vector<PlausibilityProblem> plausibility_problems(const Bundle& b, const std::vector<OpSample>& samples,
                                                       const GpuSpec& gpu, const PlausibilityLimits& limits) {
  std::vector<PlausibilityProblem> out;
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
  std::map<std::string, std::vector<const OpSample*>> groups;
  for (const OpSample& s : samples) {
    if (std::string group = monotone_group(s); !group.empty()) groups[group].push_back(&s);
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
  try {
    shard_shape_of(b);  // the transfer's own reading of model_shape
    return true;
  } catch (const InputError&) {
    return false;
  }
}

void require_plausible(const Bundle& b, const GpuSpec& gpu) { require_plausible(b, samples_from_bundle(b), gpu); }

void require_plausible(const Bundle& b, const std::vector<OpSample>& samples, const GpuSpec& gpu) {
  const auto problems = plausibility_problems(b, samples, gpu);
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
