#include "models/cost/roofline_cost_model.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace kvsim {

RooflineCostModel::RooflineCostModel(ModelSpec model, GpuSpec gpu, OverheadSpec overhead, RooflineParams params)
    : model_(std::move(model)), gpu_(std::move(gpu)), overhead_(std::move(overhead)), params_(params) {
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
  c.ns = static_cast<Duration>(std::ceil(std::max(t_compute, t_memory)));
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

  if (tokens > 0) {
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

  // Decode attention: each request streams its own K/V once (memory bound); the batch
  // cannot finish before its longest sequence, which can use at most
  // kv_heads * decode_max_splits SMs of the GPU (the straggler bound).
  if (shape.decode.count > 0) {
    const auto& d = shape.decode;
    const double flops = 4.0 * q * static_cast<double>(d.context_sum);
    const double bytes = kv_bytes_tok * static_cast<double>(d.context_sum) + elem * d.count * 2.0 * q;
    OpCost c = roofline(flops, bytes, attn_flops_per_ns_, L);
    const double share = std::min(1.0, static_cast<double>(model_.num_kv_heads) * params_.decode_max_splits /
                                           std::max(1, gpu_.num_sms));
    const double straggler = L * kv_bytes_tok * d.context_max / (bytes_per_ns_ * share);
    c.ns = std::max(c.ns, static_cast<Duration>(std::ceil(straggler)));
    sc[Op::kAttnDecode] = c;
  }

  const std::int32_t rows = shape.sampled_rows();
  if (rows > 0) {
    sc[Op::kLmHead] = gemm(rows, h, model_.vocab_size, 1);
    // Softmax / top-p over fp32 logits: about three passes over rows x vocab.
    const double logits = static_cast<double>(rows) * model_.vocab_size;
    sc[Op::kSampling] = roofline(logits * 10.0, logits * 4.0 * 3.0, gemm_flops_per_ns_, 1);
  }

  if (tokens > 0) {
    const Duration kernels = static_cast<Duration>(params_.kernels_per_layer) * L + 3;  // + embed, lm_head, sample
    sc[Op::kKernelGaps].ns = kernels * params_.kernel_gap_ns;
  }
  if (shape.swap_bytes > 0) {
    sc[Op::kSwap].bytes = static_cast<double>(shape.swap_bytes);
    sc[Op::kSwap].ns = static_cast<Duration>(std::ceil(shape.swap_bytes / gpu_.host_link_gbps));
  }

  Duration gpu = 0;
  for (std::size_t i = 0; i < kNumOps; ++i) gpu += sc.ops[i].ns;
  sc.gpu_ns = gpu;
  sc.cpu_ns = shape.empty() ? 0 : overhead_.for_step(shape.requests(), tokens);
  sc[Op::kCpuOverhead].ns = sc.cpu_ns;
  sc.total_ns = std::max<Duration>(sc.gpu_ns + sc.cpu_ns, shape.empty() ? 0 : 1);
  return sc;
}

std::string RooflineCostModel::describe() const {
  std::ostringstream os;
  os << "roofline (" << model_.name << " on " << gpu_.name << ": compute_efficiency " << params_.compute_efficiency
     << ", memory_efficiency " << params_.memory_efficiency << ", kernel_gap " << params_.kernel_gap_ns
     << " ns; overhead " << overhead_.preset << ")";
  return os.str();
}

}  // namespace kvsim
