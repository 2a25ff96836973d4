#pragma once
// `kvsim step`'s question as a library call: the time of one engine iteration of one model on one
// GPU under an engine preset, with its per-operator breakdown. The cost model is chosen and built
// exactly as a scenario's (engine costing, bundle search, build_cost_model); only the flags'
// names appear in messages, since this is the step command's contract.
#include <string>
#include <vector>

#include "models/compression/compression_spec.h"
#include "models/cost/roofline_cost_model.h"
#include "models/cost/step_cost.h"
#include "models/parallel/parallelism.h"
#include "models/spec/catalog.h"
#include "sim/pipeline/pipeline.h"
#include "sim/serving/engine_config.h"

namespace kvsim {

struct StepQuery {
  std::string model, gpu, engine = "vllm-v1";
  std::string overhead;             // empty: the engine preset's host model
  std::string compression = "fp16"; // a method name, or a YAML mapping '{method: fp8, ...}'
  std::string calibration;          // a bundle directory; empty: search (cost_kind auto/calibrated)
  std::string cost_kind = "auto";   // auto, roofline or calibrated
  std::string attention;            // varlen or batch_masked; empty: the engine profile's
  std::string prefill_kernel = "flash", gemm_variant;
  int kernels_per_layer = RooflineParams{}.kernels_per_layer;
  double extra_kernel_us = 0;
  int tensor = 1, pipeline = 1;
  double link_gbps = 0;
  StepPhase phase = StepPhase::kDecode;
  int batch = 1, context = 1;
};

struct StepPrediction {
  ModelSpec model;  // the full model (the cost is one GPU's shard plus communication)
  GpuSpec gpu;
  EngineConfig engine;
  CompressionSpec method;
  ParallelismSpec parallelism;
  std::string cost_model;  // described
  StepCost cost;
};

// Throws InputError naming the flag at fault. `calibration_dirs`: where installed bundles and
// collective tables are searched.
StepPrediction predict_step(const StepQuery& q, const Catalog& catalog, const std::vector<std::string>& calibration_dirs);

}  // namespace kvsim
