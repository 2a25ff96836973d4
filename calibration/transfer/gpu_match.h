#pragma once
// Which measured GPU stands in for a target GPU (docs/calibration.md, "Cross-GPU transfer"):
// the same die first (an A800 for an A100, an H100 for an H200: same SMs, tensor cores and
// caches, only memory or interconnect differ), then the same architecture generation (same
// SM design and instruction set), then the same DRAM family (HBM or GDDR: a different memory
// controller and achievable fraction of peak), then the nearest in datasheet peak FLOP/s and
// bandwidth (log distance). Names break ties, so the order is deterministic.
#include <string>
#include <vector>

#include "models/spec/gpu_spec.h"

namespace kvsim {

// `candidates` in the order they should be tried for `target` (target itself excluded).
std::vector<GpuSpec> rank_sources(const GpuSpec& target, const std::vector<GpuSpec>& candidates);

// Why `source` was chosen for `target`: "same chip GH100", "same architecture ampere",
// "same memory family HBM", "nearest datasheet".
std::string match_reason(const GpuSpec& target, const GpuSpec& source);

}  // namespace kvsim
