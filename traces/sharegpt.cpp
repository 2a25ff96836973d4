#include "traces/sharegpt.h"

namespace kvsim {

// Lognormal fits to published ShareGPT statistics; the numbers, their sources and the fit
// are in docs/workloads.md ("ShareGPT-like lengths"). Changing them changes golden outputs.
ShareGptLengthModel sharegpt_length_model(LengthRole role) {
  // median from the 100-sample table, sigma from mean/median = exp(sigma^2 / 2) with the
  // vLLM-bench means (prompt 229.7, output 203.1); bounds from vLLM's ShareGPT filter.
  if (role == LengthRole::kPrompt) return {141.5, 0.99, 4, 1024};
  return {164.5, 0.66, 4, 1024};
}

}  // namespace kvsim
