// vLLM V0 (<= 0.6) and V1 (>= 0.8): implementation profiles and knobs, each rule cited from
// vLLM's source at that version.
#include "sim/serving/engines/engine_rules.h"
#include "sim/serving/engines/engines.h"

namespace kvsim {
namespace {

using engine_rules::assumed;
using engine_rules::cited;
using engine_rules::note_graph_capture;

constexpr const char* kVllmV0Sched = "vllm/config.py:SchedulerConfig.__post_init__, vllm/engine/arg_utils.py (v0.6.6)";
constexpr const char* kVllmV1Args = "vllm/engine/arg_utils.py:get_batch_defaults (V1, >= 0.8)";

EngineProfile v0_profile() {
  EngineProfile p;
  p.name = "vllm-v0";
  p.engine = "vLLM V0 (<= 0.6, v2 block manager)";
  p.gemm = "cuBLAS via torch.nn.functional.linear, bf16/fp16";
  p.prefill_attention = "FlashAttention 2 varlen (vllm-flash-attn)";
  p.decode_attention = "paged attention over 16-token blocks (vLLM paged attention kernel / FlashAttention)";
  p.quantized_kv = "fp8 KV (kv_cache_dtype fp8 = fp8_e4m3): stored fp8, scales passed into the attention kernel "
                   "(v1/attention/backends/flash_attn.py: k/v_descale into flash_attn_varlen_func; no separate pass)";
  p.compression = "no KV eviction or sub-8-bit KV in the engine; methods priced as their papers describe";
  p.issue = "CUDA graphs for decode batches; prefill eager";
  p.sampling = "GPU sampler, detokenization in the engine process";
  p.memory_rule = "gpu_memory_utilization x total - weights - profiled activation - graphs - non-torch";
  p.host_preset = "vllm-v0";
  p.rules = {cited("block_size", "16", "vllm/engine/arg_utils.py (v0.6.6)"),
             cited("max_num_seqs", "256", kVllmV0Sched),
             cited("max_num_batched_tokens", "max(max_model_len, 2048); 2048 chunked", kVllmV0Sched),
             cited("gpu_memory_utilization", "0.9", "vllm/engine/arg_utils.py (v0.6.6)"),
             cited("watermark", "0.01", "vllm/core/block_manager_v2.py"),
             cited("swap_space_gib", "4", "vllm/engine/arg_utils.py (v0.6.6)"),
             assumed("graph_reserve_gib", "0.5", "kvsim estimate of captured-graph memory; not measured")};
  return p;
}

EngineProfile v1_profile() {
  EngineProfile p = v0_profile();
  p.name = "vllm-v1";
  p.engine = "vLLM V1 (>= 0.8)";
  p.prefill_attention = "FlashAttention varlen (FA3 on Hopper), chunked prefill mixed with decodes";
  p.decode_attention = "FlashAttention with a paged KV (block table), in the same launch as prefill chunks";
  p.issue = "piecewise CUDA graphs for batches up to min(2 x max_num_seqs, 512) tokens (vllm/config/vllm.py "
            "_set_cudagraph_sizes); larger batches run without a graph";
  p.host_preset = "cuda-graph";
  p.rules = {cited("block_size", "16", kVllmV1Args),
             cited("max_num_seqs", "1024 (>= 70 GiB, not A100) else 256", kVllmV1Args),
             cited("max_num_batched_tokens", "8192 (>= 70 GiB, not A100) else 2048", kVllmV1Args),
             cited("gpu_memory_utilization", "0.9", kVllmV1Args),
             cited("chunked_prefill", "always", "vllm/v1/core/sched/scheduler.py:schedule"),
             assumed("graph_reserve_gib", "0.5", "kvsim estimate of captured-graph memory; not measured")};
  p.approximations = {"prefix caching (on by default in V1) is not simulated: hits come from the trace's cached_prompt_tokens",
                      "gpu_memory_utilization is 0.92 on vLLM main (vllm/config/cache.py, after vLLM PR #38284); "
                      "0.9 is the 0.8-0.10 default kept here",
                      "graph replays are not padded to the next capture size"};
  return p;
}

}  // namespace

EngineDefinition vllm_v0_engine() {
  EngineDefinition d;
  d.profile = v0_profile();
  d.knobs = [](EngineConfig& e, const GpuSpec&) {
    e.scheduler = "vllm-v0";
    e.block_size = 16;
    e.max_num_seqs = 256;
    e.max_num_batched_tokens = 0;  // resolved in decode_engine: max(max_model_len, 2048) without chunking
    e.watermark = 0.01;
    e.graph_reserve_gib = 0.5;
  };
  d.graph_capture = [](EngineConfig& e, const GpuSpec&) {
    HostModel& h = e.host;
    // _BATCH_SIZES_TO_CAPTURE = [1, 2, 4] + 8i up to 256; a decode batch replays a graph only
    // when batch <= 256 and max_seq_len <= max_seq_len_to_capture (8192); prefills run eagerly.
    h.graph_coverage = GraphCoverage::kDecodeOnly;
    h.graph_max = 256;
    h.graph_max_context = 8192;
    note_graph_capture(e.host, "decode-only, <= 256 rows, contexts <= 8192", Provenance::kCited,
         "vllm/worker/model_runner.py _BATCH_SIZES_TO_CAPTURE, execute_model; vllm/engine/arg_utils.py "
         "max_seq_len_to_capture 8192 (v0.6)");
  };
  return d;
}

EngineDefinition vllm_v1_engine() {
  EngineDefinition d;
  d.profile = v1_profile();
  d.knobs = [](EngineConfig& e, const GpuSpec& gpu) {
    e.scheduler = "vllm-v1";
    e.block_size = 16;
    // vLLM V1 raises its budgets on large-memory GPUs, except A100 (get_batch_defaults).
    const double gib = static_cast<double>(gpu.memory_bytes) / (1024.0 * 1024 * 1024);
    const bool big = gib >= 70 && gpu.name.rfind("a100", 0) != 0;
    e.max_num_seqs = big ? 1024 : 256;
    e.max_num_batched_tokens = big ? 8192 : 2048;
    e.chunked_prefill = true;
    e.graph_reserve_gib = 0.5;
  };
  d.graph_capture = [](EngineConfig& e, const GpuSpec&) {
    HostModel& h = e.host;
    // Piecewise graphs for any batch of up to min(2 x max_num_seqs, 512) tokens (capped by the
    // token budget); num_scheduled_tokens above the largest size runs without a graph.
    h.graph_coverage = GraphCoverage::kTokens;
    h.graph_max = std::min({2 * std::int64_t{e.max_num_seqs}, std::int64_t{512}, std::int64_t{e.max_num_batched_tokens}});
    h.graph_max_context = 0;
    note_graph_capture(e.host, "steps of <= " + std::to_string(h.graph_max) + " tokens", Provenance::kCited,
         "vllm/config/vllm.py _set_cudagraph_sizes; vllm/v1/worker/gpu_model_runner.py execute_model");
  };
  return d;
}

}  // namespace kvsim
