#include "sim/serving/engine_profile.h"

#include <sstream>

#include "sim/core/error.h"

namespace kvsim {

namespace {

SourcedValue cited(std::string key, std::string value, std::string source) {
  return {std::move(key), std::move(value), Provenance::kCited, std::move(source)};
}
SourcedValue measured(std::string key, std::string value, std::string source) {
  return {std::move(key), std::move(value), Provenance::kMeasured, std::move(source)};
}
SourcedValue assumed(std::string key, std::string value, std::string why) {
  return {std::move(key), std::move(value), Provenance::kAssumed, std::move(why)};
}

// Sources are the engines' own files, named with their version in each rule (docs/engines.md
// repeats them per rule) and, for HF continuous batching, the engine's own
// resolved configuration logged by the measurement run.
constexpr const char* kVllmV0Sched = "vllm/config.py:SchedulerConfig.__post_init__, vllm/engine/arg_utils.py (v0.6.6)";
constexpr const char* kVllmV1Args = "vllm/engine/arg_utils.py:get_batch_defaults (V1, >= 0.8)";
constexpr const char* kLmdeployCfg = "lmdeploy/messages.py:PytorchEngineConfig (v0.6)";
constexpr const char* kSglangArgs = "sglang python/sglang/srt/server_args.py (v0.4.x ServerArgs.__post_init__)";
constexpr const char* kSglangPool = "sglang python/sglang/srt/model_executor/model_runner.py:profile_max_num_token";
constexpr const char* kHfCbMeta =
    "calibration/e2e/results/h200/hf_cb/meta.json resolved_engine (transformers 5.17.0 ContinuousBatchingManager)";
constexpr const char* kHfCbPath =
    "calibration/e2e/results/h100/hf_cb_path/{scale_p700,scale_p2000,timing}/steps_*.csv (hf_cb_path_probe.py, H100, "
    "transformers 5.17.0: Mistral-7B shape with a window longer than any request vs Llama-3-8B, decode-only "
    "iteration periods, medians)";
constexpr const char* kStudyKernels =
    "study-lmdeploy-kernels (the study's LMDeploy-0.6 fork, kernels timed on the H200; docs/engines.md)";

EngineProfile vllm_v0() {
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

EngineProfile vllm_v1() {
  EngineProfile p = vllm_v0();
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
  p.approximations = {"prefix caching (on by default in V1) is not modelled",
                      "gpu_memory_utilization is 0.92 on vLLM main (vllm/config/cache.py, after vLLM PR #38284); "
                      "0.9 is the 0.8-0.10 default kept here",
                      "graph replays are not padded to the next capture size"};
  return p;
}

EngineProfile sglang() {
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

EngineProfile lmdeploy_pytorch() {
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

EngineProfile lmdeploy_study() {
  EngineProfile p = lmdeploy_pytorch();
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

EngineProfile hf_generate(const std::string& name, const std::string& attn) {
  EngineProfile p;
  p.name = name;
  p.engine = "HF transformers generate (5.17), static padded batch, DynamicCache";
  p.gemm = "cuBLAS via torch.nn.functional.linear";
  p.prefill_attention = attn == "sdpa" ? "torch SDPA (flash or efficient backend) over the padded batch"
                                       : "eager matmul + softmax + matmul over the padded batch";
  p.decode_attention = p.prefill_attention;
  p.quantized_kv = "QuantizedCache (quanto/HQQ): a PyTorch dequantize pass writes fp16 before attention";
  p.compression = "eviction as a Python cache class: explicit softmax and score accumulation in PyTorch";
  p.issue = "eager: PyTorch dispatches every kernel from Python (no CUDA graphs)";
  p.sampling = "logits processors and stopping criteria in Python each step (one .item() sync)";
  p.memory_rule = "no pool: the cache grows with the batch; kvsim sizes it like vLLM at 0.9 of memory";
  p.host_preset = name == "static" ? "eager" : name;
  p.costing.dequant = DequantPath::kUnfused;
  p.rules = {assumed("max_num_seqs", "16", "batch size: the user's choice in generate; kvsim default"),
             assumed("block_size", "16", "no paging in generate; kvsim's accounting granularity")};
  p.approximations = {"KV memory is sized by vLLM's rule; generate has no pool and would OOM instead of queueing"};
  return p;
}

EngineProfile hf_cb() {
  EngineProfile p;
  p.name = "hf-cb";
  p.engine = "HF transformers continuous batching (5.17, ContinuousBatchingManager, FIFO scheduler)";
  p.gemm = "cuBLAS via torch.nn.functional.linear, bf16";
  p.prefill_attention = "paged|sdpa: one torch SDPA over the whole batch with a block-diagonal mask";
  p.decode_attention = "same call as prefill (decodes and prefill chunks in one masked SDPA)";
  p.quantized_kv = "not supported by the paged cache";
  p.compression = "not supported by the paged cache";
  p.issue = "eager: CUDA graphs only without an attention mask, i.e. flash attention "
            "(continuous_batching/initialization.py decide_use_cuda_graphs); paged|sdpa runs eagerly";
  p.sampling = "in the manager's Python loop";
  p.memory_rule = "max_memory_percent 0.9 of free memory, solved jointly with max_batch_tokens "
                  "(the measured run's resolved num_blocks is the default)";
  p.host_preset = "hf-cb";
  p.costing.batch_masked_attention = true;
  p.costing.dequant = DequantPath::kUnfused;
  // HF's paged|sdpa layer (cache write, KV gather, repeat_kv, masked SDPA) timed on the H200 and
  // the H100 (29 shapes each, graph-replayed) and fitted by calibration/e2e/fit_paged_sdpa.py:
  // mean |error| 6.3 %, max 19.3 % on both.
  p.costing.masked_layers = {
      {"h200", 19.90, 40.1142, 41.9029, 20.70, 26.4173, "calibration/e2e/results/h200/host_probe/hf_paged_sdpa.csv"},
      {"h100-sxm", 20.62, 39.9314, 42.7327, 16.36, 28.3155,
       "calibration/e2e/results/h100/paged_sdpa_layer/hf_paged_sdpa.csv"}};
  // Elsewhere the H200 fit moves by the share of its per-KV time that follows HBM bandwidth. The
  // two direct layer fits say none does: at equal SM clocks (1980 MHz) and 1.433x less HBM
  // bandwidth the H100's per-KV term is 0.995x the H200's (the layer is latency-bound, not
  // bandwidth-bound), so the share is 0 and the per-KV terms follow the SM clock. (The masked SDPA
  // kernel alone, host_probe/masked_sdpa.csv, runs 1.10-1.18x slower on the H100; the whole layer
  // does not.)
  p.costing.masked_bandwidth_share = 0.0;
  p.costing.masked_bandwidth_share_source =
      "calibration/e2e/results/{h200/host_probe,h100/paged_sdpa_layer}/hf_paged_sdpa.csv fitted by fit_paged_sdpa.py: "
      "per-KV term 39.93 ns (H100) vs 40.11 ns (H200) at an HBM ratio of 1.433 and equal SM clocks (share "
      "(0.995 - 1) / 0.433 < 0, taken as 0); that the per-KV terms follow the SM clock on other GPUs is assumed "
      "(both measured GPUs run 1980 MHz)";
  // HF runs a model that declares a sliding window through another path: a sliding-attention
  // cache group (transformers 5.17 continuous_batching/cache.py: layer_types default to
  // "sliding_attention" whenever config.sliding_window is set) whose K/V writes are a
  // masked_scatter_ per layer, and continuous_api.py "Disable the decode path if the model has
  // sliding window attention". Timed on the H100 against the full-attention twin over
  // decode-only iterations (the period: the forward, 85 % of the extra, and the engine's Python
  // around it), fitted per layer of the 32 (fit_window_path.py).
  p.costing.window_paths = {{"h100-sxm", 106.32, 23.838, kHfCbPath}};
  p.rules = {measured("block_size", "256", kHfCbMeta),
             measured("max_num_batched_tokens", "8192", kHfCbMeta),
             measured("max_num_seqs", "1024", std::string(kHfCbMeta) + ": max_requests_per_batch"),
             measured("num_gpu_blocks", "3038 (Llama-3-8B bf16 on H200)", kHfCbMeta),
             measured("eager", "true", std::string(kHfCbMeta) + ": use_cuda_graph (False, False)"),
             measured("attention layer (H200)", "19.9 us + 40.11 ns/KV token + 41.90 ps/(query x KV) pair; one query: 20.7 us + 26.42 ns/KV",
                      "calibration/e2e/results/h200/host_probe/hf_paged_sdpa.csv (H200, transformers 5.17 paged|sdpa as in "
                      "hf_paged_sdpa_source.txt), fitted by calibration/e2e/fit_paged_sdpa.py: mean |error| 6.3 %, max 19.3 %"),
             measured("attention layer (H100)", "20.6 us + 39.93 ns/KV token + 42.73 ps/(query x KV) pair; one query: 16.4 us + 28.32 ns/KV",
                      "calibration/e2e/results/h100/paged_sdpa_layer/hf_paged_sdpa.csv (H100 SXM, transformers 5.17), fitted by "
                      "calibration/e2e/fit_paged_sdpa.py: mean |error| 6.3 %, max 19.3 %"),
             measured("attention layer on other GPUs", "the H200 fit; per-KV terms x SM-clock ratio (HBM share 0); per pair x bf16 peak ratio",
                      p.costing.masked_bandwidth_share_source),
             measured("sliding-window path (H100)",
                      "a decode-only iteration of a model with a sliding_window takes 106.3 us + 23.84 ns/KV token longer per layer",
                      std::string(kHfCbPath) + ", fitted by calibration/e2e/fit_window_path.py (iteration period, 7 batches, 1-100 requests x "
                      "700/2000 prompt tokens: within -12/+11 % of all but the 1-request batch, -22.5 %)"),
             assumed("sliding-window path on other GPUs", "the H100 fit; per-KV term x SM-clock ratio",
                      "not bandwidth-bound (24 ns per 4 KiB token-layer, ~0.17 TB/s); that it follows the SM clock is assumed"),
             cited("scheduler", "decodes, then split prefills, then waiting, FIFO",
                   "transformers generation/continuous_batching/scheduler.py:FIFOScheduler")};
  p.rules.push_back(cited("max_memory_percent", "0.9 (0.8 with logits processors)",
                          "transformers generation/continuous_batching/initialization.py"));
  // Every traced ground-truth run after the first computed exactly sum(prompt - full blocks) +
  // sum(output) - requests query tokens (experiments/validation/make_measured.py checks it).
  p.rules.push_back(cited("prefix sharing",
                          "on for full-attention models (full 256-token blocks of served prompts are reused), off when "
                          "the model declares a sliding window; kvsim takes the hits from a trace's cached_prompt_tokens",
                          "transformers docs/source/en/continuous_batching.md, \"Prefix caching\" (allow_block_sharing "
                          "default True); continuous_batching/cache.py PagedAttentionCache"));
  p.approximations = {"the engine's prefix cache is not simulated (which blocks survive, sharing between running "
                      "requests): hits come from the trace's cached_prompt_tokens",
                      "the sliding-window path is measured on decode-only forwards and priced on them alone: forwards "
                      "carrying prompts pay none of it (two 8192-token forwards of the two shapes differ by 0 and +3.5 %, "
                      "results/h100/hf_cb_path/scale_p700 b25)",
                      "FIFOScheduler's safety margin (0.15 of the blocks in transformers 5.17 scheduler.py: below it only decodes and the first prefill are scheduled) and its per-batch cache-read budget are not modelled",
                      "num_gpu_blocks is the measured run's value for Llama-3-8B on H200; other models/GPUs "
                      "use vLLM's rule at max_memory_percent 0.9 (assumed)"};
  return p;
}

}  // namespace

std::string study_kernel_for(const CompressionSpec& m) {
  const std::string& n = m.name;
  if (n.rfind("kivi-4", 0) == 0) return "kivi_int4";
  if (n.rfind("gear-4", 0) == 0 || n == "int4") return "gear_int4";
  if (!m.format.quantized()) return "fp16";
  return "";
}

double masked_kv_scale(const GpuSpec& from, const GpuSpec& to, double bandwidth_share) {
  const double bw = from.hbm_bandwidth_gbps / to.hbm_bandwidth_gbps;
  const double clock = from.boost_clock_mhz > 0 && to.boost_clock_mhz > 0 ? from.boost_clock_mhz / to.boost_clock_mhz : 1.0;
  return bandwidth_share * bw + (1 - bandwidth_share) * clock;
}

namespace {

// The fit measured on `gpu` itself, else the first one (to be moved there); null when none.
template <class Fit>
const Fit* fit_for(const std::vector<Fit>& fits, const GpuSpec& gpu) {
  if (fits.empty()) return nullptr;
  for (const auto& f : fits) {
    if (f.gpu == gpu.name) return &f;
  }
  return &fits.front();
}

void apply_window_path(const EngineCosting& c, const GpuSpec& gpu, const Catalog& catalog, RooflineParams& p) {
  const EngineCosting::WindowPathFit* fit = fit_for(c.window_paths, gpu);
  if (!fit) return;
  // 24 ns per KV token-layer (4 KiB of Mistral-7B's bf16 K and V) is ~0.17 TB/s, 5 % of the
  // H100's HBM bandwidth: the path is not bandwidth-bound, so on another GPU its per-KV term
  // follows the SM clock, as the attention layer's does (assumed; the rule cites it).
  const double kv = fit->gpu == gpu.name ? 1.0 : masked_kv_scale(catalog.gpu(fit->gpu), gpu, 0.0);
  p.window_path_fixed_us = fit->fixed_us;
  p.window_path_ns_per_kv = fit->ns_per_kv * kv;
}

}  // namespace

void apply_engine_costing(const EngineCosting& c, const GpuSpec& gpu, const Catalog& catalog, RooflineParams& p) {
  p.batch_masked_attention = c.batch_masked_attention;
  if (c.attention_compute_efficiency > 0) p.attention_compute_efficiency = c.attention_compute_efficiency;
  apply_window_path(c, gpu, catalog, p);
  if (c.masked_layers.empty()) return;
  // This GPU's own fit when it has one; else the first fit, moved here.
  const EngineCosting::MaskedLayerFit* fit = fit_for(c.masked_layers, gpu);
  double bw = 1, peak = 1;
  if (fit->gpu != gpu.name) {
    const GpuSpec from = catalog.gpu(fit->gpu);
    bw = masked_kv_scale(from, gpu, c.masked_bandwidth_share);
    peak = from.fp16_tflops / gpu.fp16_tflops;
  }
  p.masked_fixed_us = fit->fixed_us;
  p.masked_ns_per_kv = fit->ns_per_kv * bw;
  p.masked_ps_per_pair = fit->ps_per_pair * peak;
  p.masked_single_fixed_us = fit->single_fixed_us;
  p.masked_single_ns_per_kv = fit->single_ns_per_kv * bw;
}

void apply_engine_kernels(const EngineProfile& profile, const ModelSpec& model, std::vector<CompressionSpec>& methods,
                          RooflineParams& p) {
  if (profile.kernel_tables != "study-lmdeploy") return;
  auto k = study_lmdeploy_kernels(model.name);
  if (!k) return;
  p.engine_kernels = std::make_shared<const EngineKernels>(std::move(*k));
  for (auto& m : methods) m.work.engine_kernel = study_kernel_for(m);
}

std::vector<std::string> engine_profile_names() {
  return {"hf-cb", "hf-eager", "hf-sdpa", "lmdeploy-0.6-study", "lmdeploy-pytorch", "sglang", "static", "vllm-v0", "vllm-v1"};
}

EngineProfile engine_profile(const std::string& name) {
  if (name == "vllm-v0") return vllm_v0();
  if (name == "vllm-v1") return vllm_v1();
  if (name == "sglang") return sglang();
  if (name == "lmdeploy-pytorch") return lmdeploy_pytorch();
  if (name == "lmdeploy-0.6-study") return lmdeploy_study();
  if (name == "hf-eager" || name == "static") return hf_generate(name, "eager");
  if (name == "hf-sdpa") return hf_generate(name, "sdpa");
  if (name == "hf-cb") return hf_cb();
  throw InputError("unknown engine '" + name + "'" + did_you_mean(name, engine_profile_names()) +
                   "; valid engines: " + join(engine_profile_names(), ", "));
}

std::string format_engine_profile(const EngineProfile& p, const HostModel* host, const std::string& gpu) {
  std::ostringstream os;
  os << p.name << ": " << p.engine << "\n"
     << "  gemm               " << p.gemm << "\n"
     << "  prefill attention  " << p.prefill_attention << "\n"
     << "  decode attention   " << p.decode_attention << "\n"
     << "  quantized KV       " << p.quantized_kv << "\n"
     << "  compression        " << p.compression << "\n"
     << "  issue              " << p.issue << "\n"
     << "  sampling           " << p.sampling << "\n"
     << "  memory             " << p.memory_rule << "\n"
     << "  priced as          attention " << (p.costing.batch_masked_attention ? "batch_masked" : "varlen")
     << ", quantized KV read " << (p.costing.dequant == DequantPath::kFused ? "fused" : "unfused");
  if (p.costing.attention_compute_efficiency > 0) os << ", attention efficiency " << p.costing.attention_compute_efficiency;
  if (!p.costing.masked_layers.empty()) os << ", attention layer measured";
  if (!p.costing.window_paths.empty()) os << ", sliding-window path measured";
  os
     << ", host " << p.host_preset << "\n"
     << "  rules\n";
  for (const auto& r : p.rules) {
    os << "    " << r.name << " = " << r.value << "  [" << provenance_name(r.kind) << ": " << r.source << "]\n";
  }
  const HostModel h = host ? *host : host_model_preset(p.host_preset);
  os << "  host model         " << h.summary() << (gpu.empty() ? "" : " (on " + gpu + ")") << "\n";
  for (const auto& s : h.sources) {
    os << "    " << s.name << " = " << s.value << "  [" << provenance_name(s.kind) << ": " << s.source << "]\n";
  }
  if (!p.kernel_tables.empty()) {
    os << "  kernels            " << p.kernel_tables
       << ": decode and prefill attention of fp16, GEAR (int4) and KIVI-4, and H2O's score step, from the fork's "
          "kernels timed on an H200 (with a bundle for the model; other methods keep kvsim's kernels)\n";
  }
  for (const auto& a : p.approximations) os << "  approximation: " << a << "\n";
  return os.str();
}

}  // namespace kvsim
