#include "models/cost/roofline_cost_model.h"

#include "models/compression/compression_registry.h"
#include "models/compression/kv_layout.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace kvsim {

RooflineCostModel::RooflineCostModel(ModelSpec model, GpuSpec gpu, HostModel overhead, RooflineParams params,
                                     std::vector<CompressionSpec> methods)
    : model_(std::move(model)), gpu_(std::move(gpu)), host_(std::move(overhead)), params_(params) {
  if (methods.empty()) methods.push_back(builtin_compression("fp16"));
  for (auto& m : methods) {
    MethodCost mc;
    mc.kv_bytes_layer = kv_bytes_per_token_head(m.format, model_.head_dim) * model_.num_kv_heads;
    mc.fp16_bytes_layer = static_cast<double>(model_.kv_bytes_per_token_per_layer());
    // KIVI keeps (T mod R) keys and min(T, R) values in fp16: on average 0.75 R tokens;
    // GEAR flushes K and V in whole chunks (both T mod R): 0.5 R.
    mc.residual_tokens = (m.format.lowrank_fraction > 0 ? 0.5 : 0.75) * m.format.residual_tokens;
    mc.spec = std::move(m);
    methods_.push_back(std::move(mc));
  }
  const double peak = gpu_.bf16_tflops > 0 ? gpu_.bf16_tflops : gpu_.fp16_tflops;
  gemm_flops_per_ns_ = peak * 1e3 * params_.compute_efficiency;          // TFLOP/s -> FLOP/ns
  attn_flops_per_ns_ = peak * 1e3 * params_.attention_compute_efficiency;
  bytes_per_ns_ = gpu_.hbm_bandwidth_gbps * params_.memory_efficiency;   // GB/s -> B/ns
}

OpCost RooflineCostModel::roofline(double flops, double bytes, double flops_per_ns, int layers) const {
  OpCost c;
  c.flops = flops * layers;
  c.bytes = bytes * layers;
  const double t_compute = c.flops / flops_per_ns;
  const double t_memory = c.bytes / bytes_per_ns_;
  c.compute_bound = t_compute > t_memory;
  c.ns = cost_ns(std::max(t_compute, t_memory));
  return c;
}

OpCost RooflineCostModel::gemm(std::int64_t rows, std::int64_t in, std::int64_t out, int layers) const {
  if (rows <= 0) return {};
  const double r = static_cast<double>(rows);
  const double flops = 2.0 * r * static_cast<double>(in) * static_cast<double>(out);
  const double elem = model_.weight_bytes_per_param;
  const double bytes = elem * (static_cast<double>(in) * static_cast<double>(out) + r * (in + out));
  return roofline(flops, bytes, gemm_flops_per_ns_, layers);
}

StepCost RooflineCostModel::step_cost(const BatchShape& shape) const {
  StepCost sc;
  const int L = model_.num_layers;
  const std::int64_t h = model_.hidden_size;
  const std::int64_t q = model_.q_size();
  const std::int64_t kv = model_.kv_size();
  const std::int64_t tokens = shape.tokens();
  const double elem = 2.0;  // fp16/bf16 activations and KV
  const double kv_bytes_tok = static_cast<double>(model_.kv_bytes_per_token_per_layer());

  // The per-token operators depend only on the token count; decode steps repeat a few
  // hundred counts millions of times, so they are memoized (same values, computed once).
  const bool memo = tokens > 0 && tokens < static_cast<std::int64_t>(kMemoTokens);
  if (memo && token_ops_memo_[static_cast<std::size_t>(tokens)].valid) {
    const TokenOps& m = token_ops_memo_[static_cast<std::size_t>(tokens)];
    sc[Op::kQkvProj] = m.qkv;
    sc[Op::kOProj] = m.o;
    sc[Op::kGateUpProj] = m.gate_up;
    sc[Op::kDownProj] = m.down;
    sc[Op::kNormRope] = m.norm;
    sc[Op::kActivation] = m.act;
  } else if (tokens > 0) {
    sc[Op::kQkvProj] = gemm(tokens, h, q + 2 * kv, L);
    sc[Op::kOProj] = gemm(tokens, q, h, L);
    sc[Op::kGateUpProj] = gemm(tokens, h, 2 * static_cast<std::int64_t>(model_.intermediate_size), L);
    sc[Op::kDownProj] = gemm(tokens, model_.intermediate_size, h, L);
    const double t = static_cast<double>(tokens);
    // Two RMSNorms (read + write hidden) and rotary on q and k.
    sc[Op::kNormRope] = roofline(t * (10.0 * h + 4.0 * (q + kv)), elem * t * (4.0 * h + 2.0 * (q + kv)),
                                 gemm_flops_per_ns_, L);
    // SiLU(gate) * up: read 2 x intermediate, write 1.
    sc[Op::kActivation] = roofline(t * 4.0 * model_.intermediate_size, elem * t * 3.0 * model_.intermediate_size,
                                   gemm_flops_per_ns_, L);
    if (memo) {
      token_ops_memo_[static_cast<std::size_t>(tokens)] = {true,
                                                           sc[Op::kQkvProj],
                                                           sc[Op::kOProj],
                                                           sc[Op::kGateUpProj],
                                                           sc[Op::kDownProj],
                                                           sc[Op::kNormRope],
                                                           sc[Op::kActivation]};
    }
  }

  // Prefill attention (flash-style, causal): attended pairs = c * p + c(c+1)/2.
  double pf_flops = 0, pf_bytes = 0;
  for (const auto& c : shape.prefills) {
    const double n = c.new_tokens, p = c.cached_tokens;
    const double pairs = n * p + n * (n + 1) / 2.0;
    pf_flops += 4.0 * q * pairs;
    const double tiles = std::ceil(n / params_.prefill_tile_tokens);
    pf_bytes += elem * n * 2.0 * q            // read Q, write O
                + kv_bytes_tok * n            // write new K, V
                + kv_bytes_tok * (p + n) * std::max(1.0, tiles) * 0.5;  // causal: half the tiles' KV on average
  }
  if (!shape.prefills.empty()) sc[Op::kAttnPrefill] = roofline(pf_flops, pf_bytes, attn_flops_per_ns_, L);

  for (const auto& g : shape.decode) {
    if (g.count > 0) decode_attention(sc, g);
  }
  if (params_.batch_masked_attention && tokens > 0) {
    // One dense attention over the batch: (all query tokens) x (all KV tokens of the batch),
    // QK^T and PV (4 q_size flops per pair), at the attention kernel's efficiency; it
    // replaces the per-sequence prefill and decode attention above.
    double kv_total = 0;
    for (const auto& c : shape.prefills) kv_total += static_cast<double>(c.cached_tokens) + c.new_tokens;
    for (const auto& g : shape.decode) kv_total += static_cast<double>(g.context_sum);
    const double pairs = static_cast<double>(tokens) * kv_total;
    OpCost dense = roofline(4.0 * q * pairs, kv_bytes_tok * kv_total + elem * tokens * 2.0 * q, attn_flops_per_ns_, L);
    const bool single = tokens == 1 && (params_.masked_single_fixed_us > 0 || params_.masked_single_ns_per_kv > 0);
    if (single) {
      dense.ns = cost_ns(L * (params_.masked_single_fixed_us * 1e3 + params_.masked_single_ns_per_kv * kv_total));
    } else if (params_.masked_measured()) {
      dense.ns = cost_ns(L * (params_.masked_fixed_us * 1e3 + params_.masked_ns_per_kv * kv_total +
                              params_.masked_ps_per_pair * 1e-3 * pairs));
    }
    if (shape.prefills.empty() && model_.sliding_window > 0) {
      dense.ns += cost_ns(L * (params_.window_path_fixed_us * 1e3 + params_.window_path_ns_per_kv * kv_total));
    }
    sc[Op::kAttnPrefill] = shape.prefills.empty() ? OpCost{} : dense;
    sc[Op::kAttnDecode] = shape.prefills.empty() ? dense : OpCost{};
  }
  for (const auto& c : shape.prefills) prefill_compression(sc, c);

  const std::int32_t rows = shape.sampled_rows();
  if (rows > 0) {
    sc[Op::kLmHead] = gemm(rows, h, model_.vocab_size, 1);
    // Softmax / top-p over fp32 logits: about three passes over rows x vocab.
    const double logits = static_cast<double>(rows) * model_.vocab_size;
    sc[Op::kSampling] = roofline(logits * 10.0, logits * 4.0 * 3.0, gemm_flops_per_ns_, 1);
  }

  if (tokens > 0) {
    // Every kernel leaves a gap; the fused engine's 9 per layer are costed as operators, and
    // each one beyond them is a framework's small kernel: at least extra_kernel_us.
    constexpr int kFusedKernelsPerLayer = 9;
    const Duration kernels = static_cast<Duration>(params_.kernels_per_layer) * L + 3;  // + embed, lm_head, sample
    const Duration extra = static_cast<Duration>(std::max(0, params_.kernels_per_layer - kFusedKernelsPerLayer)) * L;
    const Duration extra_ns = std::max(params_.kernel_gap_ns, static_cast<Duration>(std::llround(params_.extra_kernel_us * 1e3)));
    sc[Op::kKernelGaps].ns = (kernels - extra) * params_.kernel_gap_ns + extra * extra_ns;
  }
  if (shape.swap_bytes > 0) {
    sc[Op::kSwap].bytes = static_cast<double>(shape.swap_bytes);
    sc[Op::kSwap].ns = cost_ns(shape.swap_bytes / gpu_.host_link_gbps);
  }

  Duration gpu = 0;
  for (std::size_t i = 0; i < kNumOps; ++i) gpu += sc.ops[i].ns;
  sc.gpu_ns = gpu;
  // Eager issue overlaps the device; only what the device does not cover is exposed.
  sc.cpu_ns = shape.empty() ? 0 : host_.exposed_ns(shape, model_.num_layers, gpu);
  sc[Op::kCpuOverhead].ns = sc.cpu_ns;
  sc.total_ns = std::max<Duration>(sc.gpu_ns + sc.cpu_ns, shape.empty() ? 0 : 1);
  return sc;
}

void RooflineCostModel::add_memory_op(StepCost& sc, Op op, double flops, double bytes) const {
  const OpCost c = roofline(flops, bytes, gemm_flops_per_ns_, model_.num_layers);
  OpCost& dst = sc[op];
  dst.flops += c.flops;
  dst.bytes += c.bytes;
  dst.ns += c.ns;
  dst.compute_bound = c.compute_bound;
}

// Decode attention: each request streams its own resident K/V once (memory bound), at the
// method's bytes per token and its kernel's efficiency; the batch cannot finish before its
// longest sequence, which can use at most kv_heads * decode_max_splits SMs (straggler).
void RooflineCostModel::decode_attention(StepCost& sc, const DecodeGroup& g) const {
  const MethodCost& m = methods_.at(g.method);
  const int L = model_.num_layers;
  const double q = model_.q_size();
  const double elem = 2.0;
  const double sum = static_cast<double>(g.context_sum);
  const double residual = std::min(m.residual_tokens * g.count, sum);
  const bool fused = m.spec.work.fused_dequant || !m.spec.format.quantized();
  // Bytes the attention kernel reads: compressed tokens, the fp16 residual, Q and O.
  const double stored = m.kv_bytes_layer * (sum - residual) + m.fp16_bytes_layer * residual;
  const double attn_bytes = fused ? stored : m.fp16_bytes_layer * sum;
  const double qo = elem * g.count * 2.0 * q;
  OpCost c = roofline(4.0 * q * sum, attn_bytes + qo, attn_flops_per_ns_, L);
  const double eff = fused ? m.spec.work.attention_efficiency : 1.0;
  c.ns = cost_ns(static_cast<double>(c.ns) / eff);
  const double share = std::min(1.0, static_cast<double>(model_.num_kv_heads) * params_.decode_max_splits /
                                         std::max(1, gpu_.num_sms));
  const double per_token = fused ? m.kv_bytes_layer / eff : m.fp16_bytes_layer;
  const double straggler = L * per_token * g.context_max / (bytes_per_ns_ * share);
  c.ns = std::max(c.ns, cost_ns(straggler));
  OpCost& dst = sc[Op::kAttnDecode];
  dst.flops += c.flops;
  dst.bytes += c.bytes;
  dst.ns += c.ns;

  const auto& w = m.spec.work;
  if (!fused) {
    const double bytes = sum * (m.kv_bytes_layer + m.fp16_bytes_layer);
    if (w.dequant_bandwidth_gbps > 0) {
      // A generic cast kernel at its measured bandwidth (GB/s == bytes/ns).
      OpCost& dq = sc[Op::kKvDequant];
      dq.bytes += bytes * L;
      dq.ns += cost_ns(bytes * L / w.dequant_bandwidth_gbps);
    } else {
      add_memory_op(sc, Op::kKvDequant, 0, bytes);
    }
  }
  if (w.quantize_on_write) {
    // Each new token is read in fp16 and written compressed; a residual flush every R
    // tokens re-reads R tokens, one token's worth per step on average.
    const double flush = w.flush_every > 0 ? m.fp16_bytes_layer : 0.0;
    add_memory_op(sc, Op::kKvQuantize, g.count * 8.0 * model_.kv_size(),
                  g.count * (m.fp16_bytes_layer + m.kv_bytes_layer + flush));
  }
  if (w.scores_at_decode) {
    // Materialized probabilities (fp32, written and read) and a gather of the kept cache.
    add_memory_op(sc, Op::kKvScores, 0, sum * model_.num_attention_heads * 4.0 * 2.0);
    add_memory_op(sc, Op::kKvCompaction, 0, sum * m.fp16_bytes_layer * 2.0);
  }
  if (m.spec.format.lowrank_fraction > 0) {
    // a @ Q @ P^T for every stored token: 4 r flops per token per query head.
    add_memory_op(sc, Op::kKvLowRank, 4.0 * sum * m.spec.format.lowrank_rank(model_.head_dim) * model_.num_attention_heads,
                  sum * 2.0 * m.spec.format.lowrank_rank(model_.head_dim) * model_.num_kv_heads);
  }
}

void RooflineCostModel::prefill_compression(StepCost& sc, const PrefillChunk& c) const {
  const MethodCost& m = methods_.at(c.method);
  const auto& w = m.spec.work;
  const double n = c.new_tokens, p = c.cached_tokens;
  const double hq = model_.num_attention_heads;
  if (w.quantize_on_write) {
    add_memory_op(sc, Op::kKvQuantize, n * 8.0 * model_.kv_size(), n * (m.fp16_bytes_layer + m.kv_bytes_layer));
  }
  if (w.scores_at_prefill) {
    // No flash attention: scores written, softmaxed, read for PV and for column sums (fp16).
    const double pairs = n * p + n * (n + 1) / 2.0;
    add_memory_op(sc, Op::kKvScores, 2.0 * hq * pairs, hq * pairs * 2.0 * 4.0);
  }
  if (m.spec.format.lowrank_fraction > 0) {
    // Power iteration (3 loops) on the quantization error of the new tokens, every chunk.
    add_memory_op(sc, Op::kKvLowRank, 3.0 * 4.0 * n * model_.head_dim * m.spec.format.lowrank_rank(model_.head_dim) * model_.num_kv_heads,
                  3.0 * n * m.fp16_bytes_layer);
  }
  if (!c.last_chunk) return;
  const double total = p + n;
  const double kept = static_cast<double>(kept_after_prefill(m.spec.retention, static_cast<std::int64_t>(total)));
  if (w.observation_window > 0) {
    const double win = std::min<double>(w.observation_window, total);
    add_memory_op(sc, Op::kKvScores, 2.0 * hq * model_.head_dim * win * total, hq * win * total * 4.0 * 2.0);
  }
  if (w.topk_compaction && kept < total) {
    // Top-k over per-token scores, then a gather of the kept tokens into fresh pages.
    add_memory_op(sc, Op::kKvCompaction, total * hq, total * hq * 4.0 + kept * m.fp16_bytes_layer * 2.0);
  }
}

std::string RooflineCostModel::describe() const {
  std::ostringstream os;
  os << "roofline (" << model_.name << " on " << gpu_.name << ": compute_efficiency " << params_.compute_efficiency
     << ", memory_efficiency " << params_.memory_efficiency << ", kernel_gap " << params_.kernel_gap_ns
     << " ns; host " << host_.preset << ")";
  return os.str();
}

}  // namespace kvsim
