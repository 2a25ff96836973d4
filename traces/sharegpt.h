#pragma once
// The built-in ShareGPT-like length model. Parameters and their sources: docs/workloads.md.
#include <cstdint>

#include "traces/length_distribution.h"

namespace kvsim {

struct ShareGptLengthModel {
  double median;  // of the underlying lognormal
  double sigma;   // log-space standard deviation
  std::int32_t min;
  std::int32_t max;
};

ShareGptLengthModel sharegpt_length_model(LengthRole role);

}  // namespace kvsim
