#pragma once
// A bundle for a GPU and model shard assembled from every measured GPU (docs/calibration.md,
// "Cross-GPU transfer"): each operator group (a GEMM, a KV format's decode kernel, a prefill
// variant, a token-wise or compression kernel, a copy direction, a launch mode) comes from the
// target's own measurement of this shard where one exists, else from the nearest measured GPU
// that has it (gpu_match.h), every row's time transferred by the TransferModel. Copies scale
// with the host link; launch costs are host-side and kept as measured. The result is an
// ordinary in-memory bundle, so the usual fitter and TableCostModel price it.
#include <optional>
#include <string>
#include <vector>

#include "calibration/transfer/transfer_model.h"

namespace kvsim {

struct TransferredBundle {
  Bundle bundle;
  // One line per operator group: "gemm qkv: measured on a100-80gb (vidur-pytorch)" or
  // "decode_attention fp16: from h200 (kvsim-calibrate, same architecture hopper;
  // leave-one-out error of h200 from the others: 12.3 %)".
  std::vector<std::string> sources;
  std::vector<std::string> source_gpus;  // distinct GPUs the groups came from
  bool all_measured = false;             // every group measured on the target itself
  // One phrase for a report's cost-model line: "a100-80gb measured; h200 (gemm LOO 7.8 %,
  // decode_attention LOO 12.0 %)".
  std::string summary;
};

// nullopt when no measured GPU has any GPU-side table for `shard`.
std::optional<TransferredBundle> transfer_bundle(const TransferModel& m, const GpuSpec& target,
                                                 const std::string& shard);

// Leave-one-GPU-out MAPE of `gpu`'s own samples of this implementation and class (how well
// transfer predicts that GPU from the others); nullopt when it cannot be predicted.
std::optional<double> loo_error(const TransferModel& m, const std::string& gpu, const std::string& impl, OpClass cls);

}  // namespace kvsim
