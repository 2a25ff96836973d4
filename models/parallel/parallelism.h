#pragma once
// Tensor and pipeline parallelism of one replica: how the model is split over its GPUs and
// what the links between them cost. A replica of T x P GPUs holds, per GPU, 1/T of every
// layer's heads and FFN columns (Megatron-style, KV heads replicated when T exceeds them)
// for ceil(L / P) layers; every GPU of a replica holds the same number of KV blocks.
#include <string>
#include <vector>

#include "models/spec/gpu_spec.h"
#include "models/spec/model_spec.h"

namespace kvsim {

struct ParallelismSpec {
  int tensor = 1;
  int pipeline = 1;
  // Share of each layer's tensor-parallel all-reduce time hidden behind that layer's
  // compute (0: serial, as in vLLM's default; at most the layer's compute is hidden).
  double comm_overlap = 0.0;
  // Ring model of the links (used for every collective without a measured table):
  // per-direction bandwidth (0: half the GPU's bidirectional NVLink figure), achieved share
  // of it, and a fixed latency per ring hop.
  double link_gbps = 0.0;
  double link_efficiency = 0.80;  // measured bus bandwidth 360 GB/s of 450 on 4 x H200
  double hop_latency_us = 0.5;    // 4 x H200 all-reduce of 4 KiB: 3.1 us over 6 hops
  // Measured all-reduce table: "auto" (installed <gpu>-x<T>/nccl/allreduce.csv when one
  // exists), "ring" (never), or a CSV path.
  std::string collectives = "auto";

  int gpus() const { return tensor * pipeline; }
  bool single() const { return tensor == 1 && pipeline == 1; }
  double link_bytes_per_ns(const GpuSpec& gpu) const {
    const double gbps = link_gbps > 0 ? link_gbps : gpu.nvlink_gbps / 2.0;
    return gbps * link_efficiency;  // GB/s == bytes/ns
  }
};

// Problems with splitting `model` this way (empty: fine): heads and FFN columns must
// divide by the tensor degree, layers must be at least the pipeline degree.
std::vector<std::string> validate_parallelism(const ParallelismSpec& p, const ModelSpec& model);

// The part of `model` one GPU holds (the busiest pipeline stage). Its name gains "-tp<T>"
// when T > 1, the model shape calibration bundles of shards are measured for.
ModelSpec shard_model(const ModelSpec& model, const ParallelismSpec& p);

}  // namespace kvsim
