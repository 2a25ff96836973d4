// LMDeploy's PyTorch engine (0.6) and the study's fork of it, run as the study ran it: profiles
// and knobs, each rule cited from LMDeploy's source or the fork's measured kernels.
#include "sim/serving/engines/engine_rules.h"
#include "sim/serving/engines/engines.h"

namespace kvsim {
namespace {

using engine_rules::cited;
using engine_rules::note_graph_capture;

constexpr const char* kLmdeployCfg = "lmdeploy/messages.py:PytorchEngineConfig (v0.6)";
constexpr const char* kStudyKernels =
    "study-lmdeploy-kernels (the study's LMDeploy-0.6 fork, kernels timed on the H200; docs/engines.md)";

EngineProfile stock_profile() {
  EngineProfile p;
  p.name = "lmdeploy-pytorch";
  p.engine = "LMDeploy PyTorch engine (0.6)";
  p.gemm = "cuBLAS via torch.nn.functional.linear, bf16/fp16";
  p.prefill_attention = "Triton flash-style prefill over paged KV (lmdeploy/pytorch/kernels/cuda)";
  p.decode_attention = "Triton paged attention, split-K + reduce, 64-token blocks";
  p.quantized_kv = "quant_policy 4/8: int4/int8 KV pages with per-token scales and zeros, dequantized inside the "
                   "Triton paged attention kernel in decode (kernels/cuda/pagedattention.py "
                   "_fwd_grouped_split_quant_kernel); newer releases dequantize the history into a flat buffer "
                   "before prefill attention (flatten_kv_cache)";
  p.compression = "no KV eviction in the stock engine; methods priced as their papers describe";
  p.issue = "CUDA graphs for decode (eager_mode false); prefill eager";
  p.sampling = "GPU sampler; detokenization in the engine loop";
  p.memory_rule = "(total - weights - non-torch - runtime cache) x cache_max_entry_count";
  p.host_preset = "lmdeploy-pytorch";
  p.rules = {cited("block_size", "64", kLmdeployCfg),
             cited("gpu_memory_utilization", "0.8", std::string(kLmdeployCfg) + ": cache_max_entry_count"),
             cited("max_num_batched_tokens", "4096", std::string(kLmdeployCfg) + ": max_prefill_token_num"),
             cited("prefill_interval", "16", "lmdeploy/pytorch/config.py (v0.6)"),
             cited("max_num_seqs", "128", "lmdeploy utils get_max_batch_size: 128 on GPUs other than A100 (384) and "
                   "H100/H200 (1024) in newer releases; the 0.6 default was not verified, kvsim keeps 128 everywhere"),
             cited("runtime cache", "max_prefill_token_num x vocab x 7 B before sizing",
                   "lmdeploy/pytorch/engine/model_agent.py:_update_cache_config")};
  p.approximations = {"prealloc of prefill_interval tokens and multi-iteration decode forwards are not modelled"};
  return p;
}

EngineProfile study_profile() {
  EngineProfile p = stock_profile();
  p.name = "lmdeploy-0.6-study";
  p.engine = "the study's LMDeploy 0.6 PyTorch-engine fork, run as the study ran it";
  p.issue = "eager: the fork disables graph capture, so every Triton kernel pays Triton's Python launch path";
  p.quantized_kv = "'KIVI' decode kernel never loads the 4-bit codes and keeps no fp16 residual; 'GEAR' is "
                   "LMDeploy's stock per-token int4 KV (no low-rank or outlier part) (" +
                   std::string(kStudyKernels) + ")";
  p.compression = "H2O: one score pass at prefill over the last 64 queries, then compaction; no per-step "
                  "eviction (" + std::string(kStudyKernels) + ")";
  p.host_preset = "lmdeploy-0.6-eager";
  p.kernel_tables = "study-lmdeploy";
  p.approximations.push_back(
      "the fork's kernel tables exist for llama-2-7b and llama-3-8b (fp16 inputs) on the H200; elsewhere, and for "
      "fp8/int8/2-bit methods, kvsim's kernels price attention; GEAR is the fork's stock int4, not GEAR's paper");
  p.approximations.push_back("the fork's fill_kv_cache and quantize-on-write kernels are not used (kvsim's quantize pricing stays)");
  p.rules.push_back(cited("eager", "true", std::string(kStudyKernels) + ": graph capture disabled in the fork"));
  return p;
}

void knobs(EngineConfig& e, const GpuSpec&) {
  e.scheduler = "lmdeploy-pytorch";
  e.block_size = 64;
  e.max_num_seqs = 128;             // max_batches
  e.max_num_batched_tokens = 4096;  // max_prefill_token_num
  e.gpu_memory_utilization = 0.8;   // cache_max_entry_count
  e.prefill_interval = 16;
  e.capacity_rule = CapacityRule::kLmdeploy;
}

}  // namespace

EngineDefinition lmdeploy_pytorch_engine() {
  EngineDefinition d;
  d.profile = stock_profile();
  d.knobs = knobs;
  d.graph_capture = [](EngineConfig& e, const GpuSpec&) {
    HostModel& h = e.host;
    h.graph_coverage = GraphCoverage::kDecodeOnly;
    h.graph_max = e.max_num_seqs;
    h.graph_max_context = 0;
    note_graph_capture(e.host, "decode-only, <= max_batches rows", Provenance::kAssumed,
         "LMDeploy captures decode graphs (eager_mode false); its capture sizes were not read");
  };
  return d;
}

// The fork disables graph capture: its host is eager, so no step replays a graph.
EngineDefinition lmdeploy_study_engine() {
  EngineDefinition d;
  d.profile = study_profile();
  d.knobs = knobs;
  return d;
}

}  // namespace kvsim
