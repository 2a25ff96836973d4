#pragma once
// `kvsim step`'s question as a library call: the time of one engine iteration of one model on one
// GPU under an engine preset, with its per-operator breakdown. The cost model is chosen and built
// exactly as a scenario's (engine costing, bundle search, build_cost_model); only the flags'
// names appear in messages, since this is the step command's contract.
#include <memory>
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
  // kMixed: the prefill chunk's new tokens and the tokens it already has in the KV cache.
  int prefill_tokens = 0, prefill_cached = 0;
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

// The cost model a query names, built once so that many steps can be priced with it (`kvsim step
// --shapes`); the query's phase, batch, context and prefill fields are not used to build it.
struct StepPricer {
  ModelSpec model;  // the full model
  ModelSpec shard;  // what one GPU holds
  GpuSpec gpu;
  EngineConfig engine;
  CompressionSpec method;
  ParallelismSpec parallelism;
  std::unique_ptr<CostModel> cost;

  // The step `q` describes (phase, batch, context, prefill chunk). Throws InputError naming the
  // flag when a context exceeds the model's.
  BatchShape shape(const StepQuery& q) const;
  StepCost price(const StepQuery& q) const { return cost->step_cost(shape(q)); }
};

// Throws InputError naming the flag at fault. `calibration_dirs`: where installed bundles and
// collective tables are searched.
StepPricer make_step_pricer(const StepQuery& q, const Catalog& catalog, const std::vector<std::string>& calibration_dirs);
StepPrediction predict_step(const StepQuery& q, const Catalog& catalog, const std::vector<std::string>& calibration_dirs);

}  // namespace kvsim
