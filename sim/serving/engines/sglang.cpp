// SGLang (srt, 0.4-era defaults): implementation profile and knobs, each rule cited from SGLang's
// source.
#include "sim/serving/engines/engine_rules.h"
#include "sim/serving/engines/engines.h"

namespace kvsim {
namespace {

using engine_rules::cited;
using engine_rules::note_graph_capture;

constexpr const char* kSglangArgs = "sglang python/sglang/srt/server_args.py (v0.4.x ServerArgs.__post_init__)";
constexpr const char* kSglangPool = "sglang python/sglang/srt/model_executor/model_runner.py:profile_max_num_token";

EngineProfile profile() {
  EngineProfile p;
  p.name = "sglang";
  p.engine = "SGLang (srt, 0.4-era defaults)";
  p.gemm = "cuBLAS via torch / sgl-kernel, bf16";
  p.prefill_attention = "FlashInfer ragged prefill (FA3 optional on Hopper)";
  p.decode_attention = "FlashInfer paged decode over a token-granular pool (page_size 1)";
  p.quantized_kv = "fp8 KV (kv_cache_dtype fp8_e5m2/e4m3): read inside the FlashInfer kernel";
  p.compression = "no KV eviction or sub-8-bit KV in the engine; methods priced as their papers describe";
  p.issue = "CUDA graphs for decode batches up to cuda_graph_max_bs; prefill eager";
  p.sampling = "GPU sampler; detokenization in a separate process (overlapped)";
  p.memory_rule = "mem_fraction_static x total - weights - non-torch (activations and graphs live in the rest)";
  p.host_preset = "cuda-graph";
  p.rules = {cited("block_size", "1", std::string(kSglangArgs) + ": page_size 1"),
             cited("max_num_batched_tokens", "8192", std::string(kSglangArgs) + ": chunked_prefill_size"),
             cited("max_num_seqs", "4096",
                   "model_runner.py: max_running_requests = min(pool tokens // 2, req_to_token_pool size = "
                   "min(max(tokens / context_len x 512, 2048), 4096)); 4096 wherever the pool is large"),
             cited("gpu_memory_utilization", "0.88", std::string(kSglangArgs) + ": mem_fraction_static at TP 1 "
                   "(0.87 TP 2, 0.85 TP 4, 0.81 TP 8); v0.5.x derives it from a reserved-memory estimate"),
             cited("cuda_graph_max_bs", "160 (>= 25,000 MB; else 8 at TP < 4)", kSglangArgs),
             cited("max_prefill_tokens", "16384", kSglangArgs),
             cited("forwards", "prefill or decode, never mixed (enable_mixed_chunk false); prefill first",
                   "sglang srt/managers/scheduler.py get_next_batch_to_run"),
             cited("admission", "input + min(max_new - output, 4096) < free - sum over running of "
                   "min(max_new - output, 4096) x new_token_ratio", "sglang srt/managers/schedule_policy.py PrefillAdder"),
             cited("new_token_ratio", "0.7, -0.001003 per decode step to 0.098; reset to 0.7 when idle",
                   "sglang srt/global_config.py; scheduler.py Scheduler.__init__, update_running_batch"),
             cited("retraction", "fewest outputs first (longest input on ties) until 20 free tokens per request "
                   "left; to the back of waiting; ratio = (outputs + 20 x left) / max_new of those left",
                   "sglang srt/managers/schedule_batch.py retract_decode (0.4.x)"),
             cited("kv pool", "avail_after_weights - total x (1 - mem_fraction_static)", kSglangPool)};
  p.approximations = {
      "RadixAttention prefix reuse is not modelled (nothing is evictable; policy fcfs, not lpm)",
      "max_new_tokens is the trace's max_tokens, else the request's own output length",
      "max_num_seqs uses the 4096 cap; small pools (tokens / 2 < 4096) would admit fewer"};
  return p;
}

}  // namespace

EngineDefinition sglang_engine() {
  EngineDefinition d;
  d.profile = profile();
  d.knobs = [](EngineConfig& e, const GpuSpec& gpu) {
    e.scheduler = "sglang";
    e.block_size = 1;                 // page_size
    e.max_num_seqs = 4096;            // the req_to_token_pool cap
    // chunked_prefill_size: 2048 below 25,000 MB of GPU memory, else 8192.
    e.max_num_batched_tokens = static_cast<double>(gpu.memory_bytes) < 25'000.0 * 1024 * 1024 ? 2048 : 8192;
    e.chunked_prefill = true;
    e.gpu_memory_utilization = 0.88;  // mem_fraction_static at TP 1
    e.capacity_rule = CapacityRule::kSglang;
    e.graph_reserve_gib = 0;          // inside the (1 - mem_fraction_static) remainder
  };
  d.graph_capture = [](EngineConfig& e, const GpuSpec& gpu) {
    HostModel& h = e.host;
    // cuda_graph_max_bs: 160 on GPUs with >= 25,000 MB, else 8 (TP < 4); extend batches never
    // replay a graph (CudaGraphRunner.can_run: decode or idle only).
    const bool big = static_cast<double>(gpu.memory_bytes) >= 25'000.0 * 1024 * 1024;
    h.graph_coverage = GraphCoverage::kDecodeOnly;
    h.graph_max = big ? 160 : 8;
    h.graph_max_context = 0;
    note_graph_capture(e.host, "decode-only, <= " + std::to_string(h.graph_max) + " rows", Provenance::kCited,
         "sglang server_args.py cuda_graph_max_bs (0.4.x); model_executor/cuda_graph_runner.py can_run");
  };
  return d;
}

}  // namespace kvsim
