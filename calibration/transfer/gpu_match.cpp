#include "calibration/transfer/gpu_match.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace kvsim {

namespace {

std::string memory_family(const GpuSpec& g) {
  if (g.memory_type.rfind("HBM", 0) == 0) return "HBM";
  if (g.memory_type.rfind("GDDR", 0) == 0) return "GDDR";
  return g.memory_type;
}

// 0 same chip, 1 same architecture, 2 same memory family, 3 otherwise.
int tier(const GpuSpec& t, const GpuSpec& s) {
  if (!t.chip.empty() && t.chip == s.chip) return 0;
  if (!t.architecture.empty() && t.architecture == s.architecture) return 1;
  if (!memory_family(t).empty() && memory_family(t) == memory_family(s)) return 2;
  return 3;
}

double distance(const GpuSpec& t, const GpuSpec& s) {
  return std::abs(std::log(t.hbm_bandwidth_gbps / s.hbm_bandwidth_gbps)) +
         std::abs(std::log(t.fp16_tflops / s.fp16_tflops));
}

}  // namespace

std::vector<GpuSpec> rank_sources(const GpuSpec& target, const std::vector<GpuSpec>& candidates) {
  std::vector<GpuSpec> out;
  for (const GpuSpec& c : candidates) {
    if (c.name != target.name) out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [&](const GpuSpec& a, const GpuSpec& b) {
    return std::make_tuple(tier(target, a), distance(target, a), a.name) <
           std::make_tuple(tier(target, b), distance(target, b), b.name);
  });
  return out;
}

std::string match_reason(const GpuSpec& target, const GpuSpec& source) {
  switch (tier(target, source)) {
    case 0: return "same chip " + source.chip;
    case 1: return "same architecture " + source.architecture;
    case 2: return "same memory family " + memory_family(source);
    default: return "nearest datasheet";
  }
}

}  // namespace kvsim
