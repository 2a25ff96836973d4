#pragma once
// How far the roofline's placeholder efficiencies (RooflineParams defaults: compute 0.70,
// memory 0.85, attention 0.50) are from every measured GPU, per kernel class; and what the
// compressed-KV decode kernels really reach relative to the fp16 kernel on the GPUs that
// measured them (the roofline's per-method attention_efficiency placeholders). The roofline is
// what prices an operator no GPU measured for the shard; these are its validation errors
// (docs/calibration.md, "Roofline placeholders against measurements").
#include <string>
#include <vector>

#include "calibration/transfer/transfer_model.h"
#include "models/cost/roofline_cost_model.h"

namespace kvsim {

struct PlaceholderRow {
  std::string gpu, impl, cls, placeholder;
  int points = 0;
  double mape = 0;     // |roofline - measured| / measured
  double median_ratio = 0;  // median of roofline / measured (< 1: the roofline is too fast)
};
std::vector<PlaceholderRow> roofline_placeholder_errors(const TransferModel& m, const RooflineParams& p);

// Measured bandwidth of each KV format's decode kernel relative to the fp16 kernel's at the same
// batch and context (median over the grid), per GPU and implementation.
struct RelativeDecodeRow {
  std::string gpu, impl, shape, format;
  int points = 0;
  double relative_efficiency = 0;
};
std::vector<RelativeDecodeRow> relative_decode_efficiency(const TransferModel& m);

}  // namespace kvsim
