#pragma once
// A KV-cache compression method, described mostly as data (docs/compression.md):
//   KvFormat       how K and V are stored (bits, groups, scales, fp16 residual window,
//                  low-rank and outlier terms) -> bytes per token
//   Retention      which tokens are kept (none, sink + recent window, heavy hitters,
//                  prefill-only selection) -> resident tokens as a function of length
//   ExtraWork      device work the method adds per phase -> cost model operators
//   LengthEffect   how it changes output lengths -> per-request multipliers
#include <cstdint>
#include <string>
#include <vector>

namespace kvsim {

struct KvFormat {
  double key_bits = 16;
  double value_bits = 16;
  // Elements that share one scale/zero pair; 0 = no scales (fp16) or one per token-head
  // (per_head_scales below). Keys may group along tokens (per-channel, KIVI) and values
  // along head_dim (per-token); the bytes per token are the same: bits/8 + scale_bytes/G.
  int group_size = 0;
  bool key_per_channel = false;     // KIVI: keys grouped over tokens for each channel
  int scale_bytes = 0;              // bytes of (scale, zero) per group, e.g. 4 for two fp16
  bool per_head_scales = false;     // one (scale, zero) per token per head (LMDeploy int8/int4)
  int residual_tokens = 0;          // R: most recent tokens kept in fp16 (KIVI, GEAR)
  double lowrank_fraction = 0;      // GEAR: rank r = fraction x head_dim of P (tokens x r), Q (D x r)
  double lowrank_rank(int head_dim) const { return lowrank_fraction * head_dim; }
  double outlier_fraction = 0;      // GEAR: share of entries kept sparse in fp16 + index
  int outlier_index_bytes = 4;

  bool quantized() const { return key_bits < 16 || value_bits < 16; }
};

enum class RetentionKind : std::uint8_t {
  kNone,         // keep every token
  kWindow,       // sink + recent window (StreamingLLM)
  kHeavyHitter,  // heavy hitters + recent window (H2O)
  kSnapshot,     // select once from the prompt by observation-window scores (SnapKV/PyramidKV)
};

struct Retention {
  RetentionKind kind = RetentionKind::kNone;
  int sink_tokens = 0;
  int recent_tokens = 0;   // recent window (StreamingLLM / H2O) or observation window (SnapKV)
  int heavy_tokens = 0;    // H2O heavy hitters
  int budget_tokens = 0;   // total kept (sink+recent, hh+recent, or SnapKV capacity C)
  double keep_fraction = 0; // > 0: keep this share of the prompt instead of budget_tokens
  bool every_step = false; // evict during decode too (else: once, right after prefill)
  bool pyramid = false;    // PyramidKV per-layer budgets (same total; noted in reports)
  double pyramid_beta = 20;

  bool evicts() const { return kind != RetentionKind::kNone; }
};

struct ExtraWork {
  bool quantize_on_write = false;   // new K/V are quantized as they are written
  bool fused_dequant = true;        // dequantize inside attention (else a separate pass)
  // Effective share of HBM bandwidth the compressed decode-attention kernel reaches,
  // relative to the fp16 kernel (implementation quality; 1 = as good as fp16).
  double attention_efficiency = 1.0;
  // Unfused only: the bandwidth (bytes read + written, GB/s) the separate dequantize pass
  // reaches when it is a generic cast kernel rather than the engine's own, e.g. PyTorch's
  // `.to(float16)` of an fp8 cache (about 1,000 GB/s on H200,
  // calibration/e2e/results/h200/torch_cast). 0: the engine's kernel (the bundle's measured
  // unfused kernel, or the roofline). When set, attention runs as the fp16 kernel.
  double dequant_bandwidth_gbps = 0;
  bool scores_at_prefill = false;   // materialized attention scores at prefill (no flash)
  bool scores_at_decode = false;    // materialized scores every decode step (per-step H2O)
  bool topk_compaction = false;     // top-k + gather/compaction of kept tokens
  int observation_window = 0;       // SnapKV: W queries scored against the prompt
  int flush_every = 0;              // KIVI/GEAR: quantize a residual chunk every R tokens
  // The engine's own kernel family this method runs as ("fp16", "gear_int4", "kivi_int4"; empty:
  // kvsim's kernels). Set by the engine profile, e.g. lmdeploy-0.6-study (RooflineParams).
  std::string engine_kernel;
};

// Output-length multipliers r = compressed / baseline length, as a mixture:
//   P(r <= 0.5) = shorter_2x              r ~ U(0.2, 0.5)
//   P(0.5 < r <= 1) = (1 - longer_1_5x - shorter_2x) / 2   r ~ U(0.5, 1)
//   P(1 < r < 1.5) = same                 r ~ U(1, 1.5)
//   P(r >= 1.5) = longer_1_5x             r ~ 1.5 + Exponential(mean excess)
// with the excess chosen so that E[r | r > 1] = mean_ratio_longer (docs/compression.md).
struct LengthEffect {
  bool enabled = false;
  double longer_1_5x = 0;       // share of answers at least 1.5x longer
  double shorter_2x = 0;        // share of answers at least 2x shorter
  double mean_ratio_longer = 1; // mean ratio on the answers that got longer
  std::string pairs_file;       // user (baseline, compressed) pairs; overrides the mixture
  std::string source;
};

struct CompressionSpec {
  std::string name;        // "fp16", "kivi-4", "ratio:4", ...
  std::string family;      // "none", "quantization", "eviction", "ratio"
  std::string description;
  std::string source;
  KvFormat format;
  Retention retention;
  ExtraWork work;
  LengthEffect length;
};

}  // namespace kvsim
