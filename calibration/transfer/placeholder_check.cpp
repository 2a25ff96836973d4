#include "calibration/transfer/placeholder_check.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace kvsim {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<PlaceholderRow> roofline_placeholder_errors(const TransferModel& m, const RooflineParams& p) {
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<std::vector<double>, std::vector<double>>> acc;
  std::map<std::string, std::string> placeholder;
  char buf[96];
  for (const MeasuredSet& set : m.sets()) {
    const GpuSpec& g = m.catalog().gpu(set.gpu);
    const double peak = g.fp16_tflops * 1e6, bw = g.hbm_bandwidth_gbps * 1e3;  // per us
    for (const OpSample& s : set.samples) {
      double t = 0;
      std::string cls = op_class_name(s.cls);
      switch (s.cls) {
        case OpClass::kGemm:
          t = std::max(s.flops / (peak * p.compute_efficiency), s.bytes / (bw * p.memory_efficiency));
          std::snprintf(buf, sizeof buf, "compute %.2f, memory %.2f", p.compute_efficiency, p.memory_efficiency);
          break;
        case OpClass::kPrefillAttention:
          t = s.flops / (peak * p.attention_compute_efficiency);
          std::snprintf(buf, sizeof buf, "attention compute %.2f", p.attention_compute_efficiency);
          break;
        case OpClass::kDecodeAttention:
          if (s.op != "fp16") continue;  // compressed formats: relative_decode_efficiency
          t = s.bytes / (bw * p.memory_efficiency);
          std::snprintf(buf, sizeof buf, "memory %.2f", p.memory_efficiency);
          break;
        case OpClass::kElementwise:
          t = s.bytes / (bw * p.memory_efficiency);
          std::snprintf(buf, sizeof buf, "memory %.2f", p.memory_efficiency);
          break;
        default:
          continue;  // compression: per-method work models; collectives: the ring model
      }
      if (!(t > 0)) continue;
      // The implementation without the per-kernel suffix: one row per library and class.
      const std::string impl = s.impl.substr(0, s.impl.find('/'));
      auto& [errs, ratios] = acc[{set.gpu, impl, cls}];
      errs.push_back(std::abs(t - s.time_us) / s.time_us);
      ratios.push_back(t / s.time_us);
      placeholder[cls] = buf;
    }
  }
  std::vector<PlaceholderRow> out;
  for (const auto& [key, v] : acc) {
    PlaceholderRow r;
    std::tie(r.gpu, r.impl, r.cls) = key;
    r.placeholder = placeholder[r.cls];
    r.points = static_cast<int>(v.first.size());
    double sum = 0;
    for (double e : v.first) sum += e;
    r.mape = sum / r.points;
    r.median_ratio = median(v.second);
    out.push_back(r);
  }
  return out;
}

std::vector<RelativeDecodeRow> relative_decode_efficiency(const TransferModel& m) {
  std::vector<RelativeDecodeRow> out;
  for (const MeasuredSet& set : m.sets()) {
    // fp16 achieved bandwidth by (batch, context, spec) key suffix.
    std::map<std::string, double> fp16;
    auto where = [](const OpSample& s) { return s.key.substr(s.key.find("/b=")); };
    for (const OpSample& s : set.samples) {
      if (s.cls == OpClass::kDecodeAttention && s.op == "fp16") fp16[where(s)] = s.bytes / s.time_us;
    }
    if (fp16.empty()) continue;
    std::map<std::string, std::vector<double>> by_format;
    for (const OpSample& s : set.samples) {
      if (s.cls != OpClass::kDecodeAttention || s.op == "fp16") continue;
      const auto it = fp16.find(where(s));
      if (it != fp16.end()) by_format[s.op].push_back((s.bytes / s.time_us) / it->second);
    }
    for (const auto& [format, v] : by_format) {
      RelativeDecodeRow r;
      r.gpu = set.gpu;
      r.impl = set.samples.empty() ? "" : set.samples.front().impl.substr(0, set.samples.front().impl.find('/'));
      r.shape = set.shape.name;
      r.format = format;
      r.points = static_cast<int>(v.size());
      r.relative_efficiency = median(v);
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace kvsim
