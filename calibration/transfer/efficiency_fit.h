#pragma once
// Achieved efficiency of one operator class on one GPU, fitted on its measured samples:
//   t(F, B) = floor_us + max(F / (peak * compute_eff), B / (bandwidth * memory_eff))
// where peak and bandwidth are the GPU's datasheet figures (models/catalog/gpus). floor_us
// is the time a kernel of this class cannot go below (launch, one wave of tiles, tail);
// compute_eff and memory_eff are the fractions of datasheet peak the class reaches once the
// work dominates. The fit minimizes the squared log error over all samples (relative error,
// so a 5 us kernel weighs as much as a 5 ms one). Deterministic: bounded coordinate descent
// with golden-section line searches from fixed starting points.
#include <vector>

#include "calibration/transfer/op_sample.h"
#include "models/spec/gpu_spec.h"

namespace kvsim {

struct GpuPeaks {
  double flops_per_us = 0;  // dense fp16 tensor-core peak (FP32 accumulate), FLOP per us
  double bytes_per_us = 0;  // DRAM bandwidth, bytes per us
};
GpuPeaks peaks_of(const GpuSpec& gpu);
// The peaks a class runs against: collectives the GPU's link (NVLink per direction, or the host
// link on GPUs without NVLink), every other class the tensor-core peak and DRAM bandwidth.
GpuPeaks peaks_of(const GpuSpec& gpu, OpClass cls);

struct EfficiencyParams {
  double floor_us = 0;
  double compute_eff = 1;
  double memory_eff = 1;
  bool uses_compute = false, uses_memory = false;  // whether the samples had FLOPs / bytes
  int points = 0;
  double rms_log_error = 0;  // of the fit on its own samples
};

double efficiency_time_us(const EfficiencyParams& p, const GpuPeaks& g, double flops, double bytes);

// Fits one class's samples measured on `gpu`. Throws std::invalid_argument with no samples.
EfficiencyParams fit_efficiency(const std::vector<const OpSample*>& samples, const GpuPeaks& gpu);

}  // namespace kvsim
