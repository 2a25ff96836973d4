// Paged-KV decode attention (one query token per sequence, GQA), split-K ("flash-decoding").
//
// Grid (num_splits, kv_heads, batch); one CTA of 128 threads handles one (sequence, KV head,
// split) and all G = q_heads/kv_heads query heads that share that KV head, so each KV byte is
// read once per step. The split's tokens are streamed in tiles of 64 tokens (4 pages of 16)
// through a 2-stage cp.async (16-byte) pipeline into shared memory; dequantization happens when
// a tile is read from shared memory (FUSED). Per tile: (A) scores q.k, 2 threads per token;
// (B) online softmax per head (running max m, sum l); (C) P.V, each thread owns 8 channels of a
// strided subset of the tile's tokens for all G heads. A split writes its normalized partial
// output and log-sum-exp; a second kernel combines the splits (skipped when there is one split).
// UNFUSED integer formats run a dequantize kernel (codes -> fp16 scratch pages) and then the
// fp16 kernel.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <numeric>

#include "families.cuh"
#include "kv_format.cuh"

namespace kvcal {
namespace {

constexpr int kTile = 64;
constexpr int kThreads = 128;
constexpr int kStages = 2;
constexpr float kLog2e = 1.4426950408889634f;

struct DecodeParams {
  const half* q;             // [batch][q_heads][128]
  const uint8_t* k_codes;    // [blocks][kv_heads][16][row]
  const uint8_t* v_codes;
  const uint8_t* k_params;   // [blocks][kv_heads][16][16 B] (int formats)
  const uint8_t* v_params;
  float k_scale, v_scale;    // fp8 per-tensor scales (1 otherwise)
  const int* block_tables;   // [batch][max_blocks]
  const int* context_lens;   // [batch]
  int max_blocks;
  int kv_heads, q_heads;
  int split_tokens;          // multiple of kTile
  int num_splits;
  float scale_log2;          // softmax scale * log2(e)
  float* part_o;             // [batch][q_heads][num_splits][128]
  float* part_lse;           // [batch][q_heads][num_splits] (log2 domain)
  half* out;                 // [batch][q_heads][128]
};

template <KvFmt F>
struct Layout {
  static constexpr int kRow = code_row_bytes(F);
  static constexpr int kPad = (F == KvFmt::FP16) ? 32 : 16;  // avoids bank conflicts in phase A
  static constexpr int kRS = kRow + kPad;
  static constexpr bool kParams = fmt_has_params(F);
  static constexpr int kCodeTile = kTile * kRS;
  static constexpr int kParTile = kParams ? kTile * kParamRowBytes : 0;
  static constexpr int kStage = 2 * (kCodeTile + kParTile);  // K and V
};

template <KvFmt F, int G>
struct Smem {
  using L = Layout<F>;
  static constexpr int kRegion = std::max(kStages * L::kStage, 8 * G * kHeadDim * 4);
  static constexpr int kQ = G * kHeadDim * 4;
  static constexpr int kS = G * kTile * 4;
  static constexpr int kStat = 3 * 16 * 4;
  static constexpr int kTotal = kRegion + kQ + kS + kStat;
};

// Phase A of both decode kernels: one lane's half of q.k for one key row, for each of the G
// query heads that share the KV head. The lane pair (a_half 0 and 1) covers alternate 8-wide
// chunks; the caller adds the two halves with a shuffle.
template <KvFmt F, int G>
__device__ __forceinline__ void half_scores(const uint8_t* krow, const uint8_t* kp, const float* q_s, int a_half,
                                            float (&dot)[G]) {
#pragma unroll
  for (int g = 0; g < G; ++g) dot[g] = 0.f;
#pragma unroll
  for (int cc = 0; cc < kHeadDim / 16; ++cc) {
    const int chunk = 2 * cc + a_half;
    float kv[8];
    dequant8<F>(krow, kp, chunk, kv);
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float4 qa = *reinterpret_cast<const float4*>(q_s + g * kHeadDim + chunk * 8);
      const float4 qb = *reinterpret_cast<const float4*>(q_s + g * kHeadDim + chunk * 8 + 4);
      float t = dot[g];
      t = fmaf(qa.x, kv[0], t);
      t = fmaf(qa.y, kv[1], t);
      t = fmaf(qa.z, kv[2], t);
      t = fmaf(qa.w, kv[3], t);
      t = fmaf(qb.x, kv[4], t);
      t = fmaf(qb.y, kv[5], t);
      t = fmaf(qb.z, kv[6], t);
      t = fmaf(qb.w, kv[7], t);
      dot[g] = t;
    }
  }
}

template <KvFmt F, int G>
__global__ void __launch_bounds__(kThreads) decode_attn_kernel(const DecodeParams p) {
  using L = Layout<F>;
  using S = Smem<F, G>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int split = blockIdx.x, kvh = blockIdx.y, seq = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  const int ctx = p.context_lens[seq];
  const int t_begin = split * p.split_tokens;
  if (t_begin >= ctx) return;
  const int t_end = min(ctx, t_begin + p.split_tokens);
  const int ntiles = (t_end - t_begin + kTile - 1) / kTile;

  uint8_t* region = smem;
  float* q_s = reinterpret_cast<float*>(smem + S::kRegion);      // [G][128]
  float* s_s = q_s + G * kHeadDim;                                // [G][kTile]
  float* m_s = s_s + G * kTile;                                   // [G]
  float* l_s = m_s + 16;
  float* a_s = l_s + 16;

  auto kcode = [&](int st) { return region + st * L::kStage; };
  auto vcode = [&](int st) { return region + st * L::kStage + L::kCodeTile; };
  auto kpar = [&](int st) { return region + st * L::kStage + 2 * L::kCodeTile; };
  auto vpar = [&](int st) { return region + st * L::kStage + 2 * L::kCodeTile + L::kParTile; };

  const int* bt = p.block_tables + static_cast<size_t>(seq) * p.max_blocks;
  const size_t page_code_bytes = static_cast<size_t>(kBlockSize) * L::kRow;

  auto load_tile = [&](int ti, int st) {
    const int tb = t_begin + ti * kTile;
    const int page0 = tb / kBlockSize;
    const int npages = min(kTile / kBlockSize, (t_end - tb + kBlockSize - 1) / kBlockSize);
    constexpr int CPR = L::kRow / 16;          // 16-byte chunks per code row
    constexpr int CPP = kBlockSize * CPR;      // per page
    uint8_t* kd = kcode(st);
    uint8_t* vd = vcode(st);
    for (int idx = tid; idx < npages * CPP; idx += kThreads) {
      const int pi = idx / CPP, rem = idx % CPP, r = rem / CPR, c = rem % CPR;
      const size_t page = static_cast<size_t>(bt[page0 + pi]) * p.kv_heads + kvh;
      const size_t off = page * page_code_bytes + static_cast<size_t>(rem) * 16;
      const int row = pi * kBlockSize + r;
      cp_async16(kd + row * L::kRS + c * 16, p.k_codes + off);
      cp_async16(vd + row * L::kRS + c * 16, p.v_codes + off);
    }
    if constexpr (L::kParams) {
      uint8_t* kpd = kpar(st);
      uint8_t* vpd = vpar(st);
      for (int idx = tid; idx < npages * kBlockSize; idx += kThreads) {
        const int pi = idx / kBlockSize, r = idx % kBlockSize;
        const size_t page = static_cast<size_t>(bt[page0 + pi]) * p.kv_heads + kvh;
        const size_t off = (page * kBlockSize + r) * kParamRowBytes;
        cp_async16(kpd + idx * kParamRowBytes, p.k_params + off);
        cp_async16(vpd + idx * kParamRowBytes, p.v_params + off);
      }
    }
  };

  load_tile(0, 0);
  cp_async_commit();

  // Queries of the G heads sharing this KV head, as fp32 (fp8: k_scale folded in).
  const float qmul = (F == KvFmt::FP8) ? p.k_scale : 1.0f;
  for (int i = tid; i < G * kHeadDim; i += kThreads) {
    const int g = i / kHeadDim, d = i % kHeadDim;
    const int qh = kvh * G + g;
    q_s[i] = __half2float(p.q[(static_cast<size_t>(seq) * p.q_heads + qh) * kHeadDim + d]) * qmul;
  }
  if (tid < G) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.f;
  }

  float acc[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0.f;

  const int a_tok = tid >> 1, a_half = tid & 1;  // phase A mapping
  const int c_chunk = tid & 15, c_j = tid >> 4;   // phase C mapping

  for (int ti = 0; ti < ntiles; ++ti) {
    const int st = ti & 1;
    if (ti + 1 < ntiles) load_tile(ti + 1, (ti + 1) & 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const int tb = t_begin + ti * kTile;

    // (A) scores
    {
      const uint8_t* krow = kcode(st) + a_tok * L::kRS;
      const uint8_t* kp = kpar(st) + a_tok * kParamRowBytes;
      float dot[G];
      half_scores<F, G>(krow, kp, q_s, a_half, dot);
      const bool valid = tb + a_tok < t_end;
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const float full = dot[g] + __shfl_xor_sync(0xffffffffu, dot[g], 1);
        const bool mine = (G == 1) ? (a_half == 0) : ((g & 1) == a_half);
        if (mine) s_s[g * kTile + a_tok] = valid ? full * p.scale_log2 : -INFINITY;
      }
    }
    __syncthreads();

    // (B) online softmax, one warp per head
    for (int g = warp; g < G; g += kThreads / 32) {
      const float v0 = s_s[g * kTile + lane], v1 = s_s[g * kTile + lane + 32];
      const float mx = warp_max(fmaxf(v0, v1));
      const float m_old = m_s[g];
      const float m_new = fmaxf(m_old, mx);  // finite: every tile holds >= 1 valid token
      const float p0 = exp2f(v0 - m_new), p1 = exp2f(v1 - m_new);
      const float sum = warp_sum(p0 + p1);
      s_s[g * kTile + lane] = p0;
      s_s[g * kTile + lane + 32] = p1;
      if (lane == 0) {
        const float alpha = exp2f(m_old - m_new);
        a_s[g] = alpha;
        l_s[g] = l_s[g] * alpha + sum;
        m_s[g] = m_new;
      }
    }
    __syncthreads();

    // (C) P.V
    {
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const float a = a_s[g];
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] *= a;
      }
      const uint8_t* vbase = vcode(st);
      const uint8_t* vpb = vpar(st);
#pragma unroll 2
      for (int kk = 0; kk < kTile / 8; ++kk) {
        const int tok = c_j + 8 * kk;
        if (tb + tok >= t_end) break;
        float vv[8];
        dequant8<F>(vbase + tok * L::kRS, vpb + tok * kParamRowBytes, c_chunk, vv);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float pg = s_s[g * kTile + tok];
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(pg, vv[e], acc[g][e]);
        }
      }
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  // Reduce the 8 token subsets of phase C through shared memory (aliases the tile buffers).
  float* red = reinterpret_cast<float*>(region);  // [8][G][128]
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float4* dst = reinterpret_cast<float4*>(red + (c_j * G + g) * kHeadDim + c_chunk * 8);
    dst[0] = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
    dst[1] = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
  }
  __syncthreads();
  const float vmul = (F == KvFmt::FP8) ? p.v_scale : 1.0f;
  for (int o = tid; o < G * kHeadDim; o += kThreads) {
    const int g = o / kHeadDim, d = o % kHeadDim;
    float sum = 0.f;
#pragma unroll
    for (int j = 0; j < 8; ++j) sum += red[(j * G + g) * kHeadDim + d];
    const float l = l_s[g];
    const float val = sum / l * vmul;
    const int qh = kvh * G + g;
    const size_t row = static_cast<size_t>(seq) * p.q_heads + qh;
    if (p.num_splits == 1) {
      p.out[row * kHeadDim + d] = __float2half_rn(val);
    } else {
      p.part_o[(row * p.num_splits + split) * kHeadDim + d] = val;
      if (d == 0) p.part_lse[row * p.num_splits + split] = m_s[g] + log2f(l);
    }
  }
}

__global__ void __launch_bounds__(kHeadDim) decode_combine_kernel(const DecodeParams p) {
  const int qh = blockIdx.x, seq = blockIdx.y, d = threadIdx.x;
  const int n = (p.context_lens[seq] + p.split_tokens - 1) / p.split_tokens;
  const size_t row = static_cast<size_t>(seq) * p.q_heads + qh;
  const float* lse = p.part_lse + row * p.num_splits;
  float mx = -INFINITY;
  for (int s = 0; s < n; ++s) mx = fmaxf(mx, lse[s]);
  float wsum = 0.f, acc = 0.f;
  for (int s = 0; s < n; ++s) {
    const float w = exp2f(lse[s] - mx);
    wsum += w;
    acc = fmaf(w, p.part_o[(row * p.num_splits + s) * kHeadDim + d], acc);
  }
  p.out[row * kHeadDim + d] = __float2half_rn(acc / wsum);
}

// ---------------------------------------------------------------------------------------------
// v2 (default): warp-streamed decode. Grid as v1 (num_splits, kv_heads, batch), 128 threads, but
// each of the 4 warps streams its own pages of the split (local pages w, w+4, w+8, ...) through a
// private 3-stage cp.async ring (one 16-token page of K and V, plus parameters, per stage), so
// the main loop has no block barrier: only __syncwarp. Per page a warp does
// (A) scores, 2 lanes per token (same mapping and conflict-free K padding as v1), a warp max and
// the online-softmax update kept in registers (m warp-uniform, l per lane, summed at the end);
// (C) P.V, lane = (8-channel chunk, token parity) for all G heads. At the end the 4 warps'
// (m, l, acc) are merged through shared memory and written exactly as v1 writes them (same
// partial/LSE format, same combine kernel). fp16 runs 2 CTAs (8 warps) per SM, the others 3.
constexpr int kWarps2 = 4;
constexpr int kThreads2 = kWarps2 * 32;

template <KvFmt F>
struct Layout2 {
  static constexpr int kRow = code_row_bytes(F);
  static constexpr int kRS = Layout<F>::kRS;  // padded K rows (phase A); V rows unpadded
  static constexpr bool kParams = fmt_has_params(F);
  static constexpr int kKCode = kBlockSize * kRS;
  static constexpr int kVCode = kBlockSize * kRow;
  static constexpr int kPar = kParams ? kBlockSize * kParamRowBytes : 0;
  static constexpr int kStage = kKCode + kVCode + 2 * kPar;
  // 3 pages per warp ring (fp16: 26 KB per warp, 2 pages in flight while one is consumed). The
  // smaller formats are compute-bound here, so they keep 3 stages and run 3 CTAs per SM instead.
  static constexpr int kStages = 3;
  static constexpr int kMinBlocks = (F == KvFmt::FP16) ? 2 : 3;
  static constexpr int kWarpRing = kStages * kStage;
};

template <KvFmt F, int G>
struct Smem2 {
  using L = Layout2<F>;
  static constexpr int kRing = kWarps2 * L::kWarpRing;
  static constexpr int kRed = kWarps2 * G * kHeadDim * 4;  // final merge, aliases the rings
  static constexpr int kRegion = std::max(kRing, kRed);
  static constexpr int kQ = G * kHeadDim * 4;
  static constexpr int kP = kWarps2 * kBlockSize * G * 4;
  static constexpr int kStat = 2 * kWarps2 * 8 * 4;
  static constexpr int kTotal = kRegion + kQ + kP + kStat;
  static_assert(kTotal * L::kMinBlocks <= 226 * 1024, "v2 decode: kMinBlocks CTAs per SM must fit");
  static_assert(L::kStage % 16 == 0 && kRegion % 16 == 0, "16-byte alignment");
};

template <KvFmt F, int G>
__global__ void __launch_bounds__(kThreads2, Layout2<F>::kMinBlocks) decode_attn_kernel_v2(const DecodeParams p) {
  using L = Layout2<F>;
  using S = Smem2<F, G>;
  constexpr int NS = L::kStages;
  extern __shared__ __align__(16) uint8_t smem[];
  const int split = blockIdx.x, kvh = blockIdx.y, seq = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  const int ctx = p.context_lens[seq];
  const int t_begin = split * p.split_tokens;  // split_tokens is a multiple of kBlockSize
  if (t_begin >= ctx) return;                  // uniform over the CTA
  const int t_end = min(ctx, t_begin + p.split_tokens);
  const int page_first = t_begin / kBlockSize;
  const int npg = (t_end - t_begin + kBlockSize - 1) / kBlockSize;
  const int my_n = warp < npg ? (npg - warp + kWarps2 - 1) / kWarps2 : 0;  // warp-uniform

  uint8_t* ring = smem + warp * L::kWarpRing;
  float* q_s = reinterpret_cast<float*>(smem + S::kRegion);  // [G][128]
  float* p_w = q_s + G * kHeadDim + warp * kBlockSize * G;    // this warp's [16][G]
  float* st_m = q_s + G * kHeadDim + kWarps2 * kBlockSize * G;  // [warps][8]
  float* st_l = st_m + kWarps2 * 8;

  auto kcode = [&](int b) { return ring + b * L::kStage; };
  auto vcode = [&](int b) { return ring + b * L::kStage + L::kKCode; };
  auto kpar = [&](int b) { return ring + b * L::kStage + L::kKCode + L::kVCode; };
  auto vpar = [&](int b) { return ring + b * L::kStage + L::kKCode + L::kVCode + L::kPar; };

  const int* bt = p.block_tables + static_cast<size_t>(seq) * p.max_blocks + page_first + warp;
  auto blk_of = [&](int i) { return __ldg(bt + kWarps2 * i); };  // block id of this warp's page i

  auto load_page = [&](int blk, int b) {
    const size_t pg = static_cast<size_t>(blk) * p.kv_heads + kvh;
    const uint8_t* ks = p.k_codes + pg * (kBlockSize * L::kRow);
    const uint8_t* vs = p.v_codes + pg * (kBlockSize * L::kRow);
    constexpr int CPR = L::kRow / 16;     // 16-byte chunks per row
    constexpr int U = kBlockSize * CPR;   // per page: 256, 128, 128, 64, 32
    static_assert(U % 32 == 0, "whole warp per chunk round");
    uint8_t* kd = kcode(b);
    uint8_t* vd = vcode(b);
#pragma unroll
    for (int u = lane; u < U; u += 32) {
      const int r = u / CPR, c = u % CPR;
      cp_async16(kd + r * L::kRS + c * 16, ks + u * 16);
      cp_async16(vd + u * 16, vs + u * 16);
    }
    if constexpr (L::kParams) {
      const size_t off = pg * (kBlockSize * kParamRowBytes) + (lane & 15) * 16;
      if (lane < 16) cp_async16(kpar(b) + lane * 16, p.k_params + off);
      else cp_async16(vpar(b) + (lane - 16) * 16, p.v_params + off);
    }
  };

  // Prologue: the first NS-1 pages (one commit group each, empty groups keep the count uniform).
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) {
    if (s < my_n) load_page(blk_of(s), s);
    cp_async_commit();
  }
  int nb = (NS - 1 < my_n) ? blk_of(NS - 1) : 0;

  const float qmul = (F == KvFmt::FP8) ? p.k_scale : 1.0f;
  for (int i = tid; i < G * kHeadDim; i += kThreads2) {
    const int g = i / kHeadDim, d = i % kHeadDim;
    const int qh = kvh * G + g;
    q_s[i] = __half2float(p.q[(static_cast<size_t>(seq) * p.q_heads + qh) * kHeadDim + d]) * qmul;
  }
  __syncthreads();

  float acc[G][8], m_run[G], l_run[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m_run[g] = -INFINITY;
    l_run[g] = 0.f;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0.f;
  }
  const int a_tok = lane >> 1, a_half = lane & 1;   // phase A
  const int c_chunk = lane & 15, c_par = lane >> 4;  // phase C

  int rb = 0;            // ring slot of page i
  int wb = NS - 1;       // ring slot of page i + NS - 1
  for (int i = 0; i < my_n; ++i) {
    cp_async_wait<NS - 2>();  // this lane's copies of page i are done
    __syncwarp();             // ... and every lane's; all lanes finished page i-1 (slot wb free)
    if (i + NS - 1 < my_n) load_page(nb, wb);
    cp_async_commit();
    if (i + NS < my_n) nb = blk_of(i + NS);
    wb = (wb + 1 == NS) ? 0 : wb + 1;

    const int tok0 = (page_first + warp + kWarps2 * i) * kBlockSize;

    // (A) scores + online softmax (registers)
    float alpha[G];
    {
      const uint8_t* krow = kcode(rb) + a_tok * L::kRS;
      const uint8_t* kp = kpar(rb) + a_tok * kParamRowBytes;
      float dot[G];
      half_scores<F, G>(krow, kp, q_s, a_half, dot);
      const bool valid = tok0 + a_tok < t_end;
      float pv[G];
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const float full = dot[g] + __shfl_xor_sync(0xffffffffu, dot[g], 1);
        const float sc = valid ? full * p.scale_log2 : -INFINITY;
        float mx = sc;  // the lane pair holds the same value: reduce over the 16 tokens
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
        const float m_new = fmaxf(m_run[g], mx);  // finite: token tok0 < t_end is valid
        alpha[g] = exp2f(m_run[g] - m_new);
        m_run[g] = m_new;
        pv[g] = exp2f(sc - m_new);
        l_run[g] = fmaf(l_run[g], alpha[g], a_half == 0 ? pv[g] : 0.f);
      }
      if (a_half == 0) {
#pragma unroll
        for (int g = 0; g < G; ++g) p_w[a_tok * G + g] = pv[g];
      }
    }
    __syncwarp();

    // (C) P.V
    {
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] *= alpha[g];
      const uint8_t* vb = vcode(rb);
      const uint8_t* vpb = vpar(rb);
#pragma unroll
      for (int kk = 0; kk < kBlockSize / 2; ++kk) {
        const int t = 2 * kk + c_par;
        if (tok0 + t < t_end) {
          float vv[8];
          dequant8<F>(vb + t * L::kRow, vpb + t * kParamRowBytes, c_chunk, vv);
#pragma unroll
          for (int g = 0; g < G; ++g) {
            const float pg = p_w[t * G + g];
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(pg, vv[e], acc[g][e]);
          }
        }
      }
    }
    rb = (rb + 1 == NS) ? 0 : rb + 1;
  }

  // Warp totals: token parities (lane ^ 16) and the per-lane l.
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], 16);
    l_run[g] = warp_sum(l_run[g]);
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done with its ring: the merge buffer may alias it
  float* red = reinterpret_cast<float*>(smem);  // [warps][G][128]
  if (lane < 16) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float4* dst = reinterpret_cast<float4*>(red + (warp * G + g) * kHeadDim + c_chunk * 8);
      dst[0] = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
      dst[1] = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
      st_m[warp * 8 + g] = m_run[g];  // -inf for a warp without pages (its l and acc are 0)
      st_l[warp * 8 + g] = l_run[g];
    }
  }
  __syncthreads();
  const float vmul = (F == KvFmt::FP8) ? p.v_scale : 1.0f;
  for (int o = tid; o < G * kHeadDim; o += kThreads2) {
    const int g = o / kHeadDim, d = o % kHeadDim;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps2; ++w) M = fmaxf(M, st_m[w * 8 + g]);  // finite: warp 0 has a page
    float sum = 0.f, l = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps2; ++w) {
      const float wt = exp2f(st_m[w * 8 + g] - M);
      sum = fmaf(wt, red[(w * G + g) * kHeadDim + d], sum);
      l = fmaf(wt, st_l[w * 8 + g], l);
    }
    const float val = sum / l * vmul;
    const int qh = kvh * G + g;
    const size_t row = static_cast<size_t>(seq) * p.q_heads + qh;
    if (p.num_splits == 1) {
      p.out[row * kHeadDim + d] = __float2half_rn(val);
    } else {
      p.part_o[(row * p.num_splits + split) * kHeadDim + d] = val;
      if (d == 0) p.part_lse[row * p.num_splits + split] = M + log2f(l);
    }
  }
}

// UNFUSED path, pass 1: dequantize `rows` token rows of K and V to fp16 (grid.y: 0 = K, 1 = V).
template <KvFmt F>
__global__ void dequant_rows_kernel(const uint8_t* kc, const uint8_t* vc, const uint8_t* kp, const uint8_t* vp,
                                    size_t rows, half* ko, half* vo) {
  const uint8_t* codes = blockIdx.y ? vc : kc;
  const uint8_t* params = blockIdx.y ? vp : kp;
  half* out = blockIdx.y ? vo : ko;
  constexpr int kRow = code_row_bytes(F);
  const size_t total = rows * (kHeadDim / 8);
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t row = idx / (kHeadDim / 8);
    const int chunk = static_cast<int>(idx % (kHeadDim / 8));
    float v[8];
    dequant8<F>(codes + row * kRow, params + row * kParamRowBytes, chunk, v);
    uint4 o;
    o.x = pack_half2(v[0], v[1]);
    o.y = pack_half2(v[2], v[3]);
    o.z = pack_half2(v[4], v[5]);
    o.w = pack_half2(v[6], v[7]);
    *reinterpret_cast<uint4*>(out + row * kHeadDim + chunk * 8) = o;
  }
}

// ---------------------------------------------------------------------------------------------
// Host side
// KVSIM_DECODE_KERNEL=v1 selects the original block-synchronous kernel (and its split plan);
// anything else (default) the warp-streamed v2.
int decode_kernel_version() {
  static const int v = [] {
    const char* e = std::getenv("KVSIM_DECODE_KERNEL");
    return (e && std::string(e) == "v1") ? 1 : 2;
  }();
  return v;
}

template <KvFmt F, int G>
void launch_fused_t(const DecodeParams& p, int batch, cudaStream_t s) {
  dim3 grid(p.num_splits, p.kv_heads, batch);
  if (decode_kernel_version() == 1) {
    constexpr int smem = Smem<F, G>::kTotal;
    static bool configured = false;
    if (!configured) {
      CK(cudaFuncSetAttribute(decode_attn_kernel<F, G>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      configured = true;
    }
    decode_attn_kernel<F, G><<<grid, kThreads, smem, s>>>(p);
  } else {
    constexpr int smem = Smem2<F, G>::kTotal;
    static bool configured = false;
    if (!configured) {
      CK(cudaFuncSetAttribute(decode_attn_kernel_v2<F, G>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      configured = true;
    }
    decode_attn_kernel_v2<F, G><<<grid, kThreads2, smem, s>>>(p);
  }
  CK_LAUNCH();
  if (p.num_splits > 1) {
    decode_combine_kernel<<<dim3(p.q_heads, batch), kHeadDim, 0, s>>>(p);
    CK_LAUNCH();
  }
}

template <KvFmt F>
void launch_fused_g(const DecodeParams& p, int G, int batch, cudaStream_t s) {
  switch (G) {
    case 1: launch_fused_t<F, 1>(p, batch, s); break;
    case 2: launch_fused_t<F, 2>(p, batch, s); break;
    case 4: launch_fused_t<F, 4>(p, batch, s); break;
    case 8: launch_fused_t<F, 8>(p, batch, s); break;
    default: die("decode attention supports q_heads/kv_heads in {1,2,4,8}, got " + std::to_string(G));
  }
}

void launch_fused(KvFmt f, const DecodeParams& p, int G, int batch, cudaStream_t s) {
  switch (f) {
    case KvFmt::FP16: launch_fused_g<KvFmt::FP16>(p, G, batch, s); break;
    case KvFmt::FP8: launch_fused_g<KvFmt::FP8>(p, G, batch, s); break;
    case KvFmt::INT8: launch_fused_g<KvFmt::INT8>(p, G, batch, s); break;
    case KvFmt::INT4: launch_fused_g<KvFmt::INT4>(p, G, batch, s); break;
    case KvFmt::INT2: launch_fused_g<KvFmt::INT2>(p, G, batch, s); break;
  }
}

void launch_dequant(KvFmt f, const DecodeParams& p, size_t rows, half* ko, half* vo, int sm_count, cudaStream_t s) {
  const size_t threads = rows * (kHeadDim / 8);
  const unsigned blocks = static_cast<unsigned>(std::max<size_t>(
      1, std::min<size_t>((threads + 255) / 256, static_cast<size_t>(sm_count) * 16)));
  dim3 grid(blocks, 2);
  switch (f) {
    case KvFmt::INT8:
      dequant_rows_kernel<KvFmt::INT8><<<grid, 256, 0, s>>>(p.k_codes, p.v_codes, p.k_params, p.v_params, rows, ko, vo);
      break;
    case KvFmt::INT4:
      dequant_rows_kernel<KvFmt::INT4><<<grid, 256, 0, s>>>(p.k_codes, p.v_codes, p.k_params, p.v_params, rows, ko, vo);
      break;
    case KvFmt::INT2:
      dequant_rows_kernel<KvFmt::INT2><<<grid, 256, 0, s>>>(p.k_codes, p.v_codes, p.k_params, p.v_params, rows, ko, vo);
      break;
    default: die("internal: unfused path is for integer formats");
  }
  CK_LAUNCH();
}

struct SplitPlan {
  int split_tokens;
  int num_splits;
};

// v1: split so that the number of non-empty CTAs is about 4 per SM, with at least 2 tiles per split.
SplitPlan plan_splits_v1(const std::vector<int>& ctx, int kv_heads, int sm_count) {
  long long tiles = 0;
  int max_ctx = 0;
  for (int c : ctx) {
    tiles += (c + kTile - 1) / kTile;
    max_ctx = std::max(max_ctx, c);
  }
  tiles *= kv_heads;
  const long long target = 4LL * sm_count;
  long long per = std::max<long long>(2, (tiles + target - 1) / target);
  SplitPlan sp;
  sp.split_tokens = static_cast<int>(std::min<long long>(per * kTile, 1LL << 30));
  sp.num_splits = std::max(1, (max_ctx + sp.split_tokens - 1) / sp.split_tokens);
  // Even out the splits of the longest sequence (e.g. 4096 -> 2 x 2048, not 3968 + 128).
  const int tiles_max = (max_ctx + kTile - 1) / kTile;
  sp.split_tokens = std::max(2, (tiles_max + sp.num_splits - 1) / sp.num_splits) * kTile;
  sp.num_splits = std::max(1, (max_ctx + sp.split_tokens - 1) / sp.split_tokens);
  return sp;
}

// v2: (at least) 2 CTAs per SM run at once. For each candidate split (a multiple of kTile = 4
// warps x one page), simulate the block scheduler (CTAs in launch order, each to the earliest free slot, a
// CTA costing its tokens plus a fixed start-up/merge cost, an empty CTA almost nothing) and add
// the combine kernel's cost when there are several splits; keep the cheapest (fewest splits on
// ties). Costs are in tokens streamed by one CTA slot at its fair share of HBM bandwidth.
SplitPlan plan_splits_v2(const std::vector<int>& ctx, int kv_heads, int sm_count) {
  const int slots = 2 * std::max(1, sm_count);
  const double kCtaCost = 48, kEmptyCost = 8, kCombineCost = 100;
  int max_ctx = 1;
  for (int c : ctx) max_ctx = std::max(max_ctx, c);
  const int tiles_max = (max_ctx + kTile - 1) / kTile;
  const long long units = static_cast<long long>(ctx.size()) * kv_heads;
  // Candidates up to ~128 CTAs (mostly empty ones, for one long sequence among short ones) per slot.
  const int s_cap = static_cast<int>(std::min<long long>(tiles_max, std::max<long long>(1, (128LL * slots) / units)));
  SplitPlan best{tiles_max * kTile, 1};
  double best_cost = 1e300;
  int last_split_tokens = -1;
  std::vector<double> heap;
  for (int s = 1; s <= s_cap; ++s) {
    const int split_tokens = ((tiles_max + s - 1) / s) * kTile;
    if (split_tokens == last_split_tokens) continue;
    last_split_tokens = split_tokens;
    const int ns = (max_ctx + split_tokens - 1) / split_tokens;
    heap.assign(static_cast<size_t>(slots), 0.0);  // min-heap of slot free times
    double makespan = 0;
    for (size_t b = 0; b < ctx.size(); ++b) {
      for (int h = 0; h < kv_heads; ++h) {
        for (int sp = 0; sp < ns; ++sp) {
          const int tb = sp * split_tokens;
          const double cost = tb >= ctx[b] ? kEmptyCost : kCtaCost + std::min(split_tokens, ctx[b] - tb);
          std::pop_heap(heap.begin(), heap.end(), std::greater<double>());
          heap.back() += cost;
          makespan = std::max(makespan, heap.back());
          std::push_heap(heap.begin(), heap.end(), std::greater<double>());
        }
      }
    }
    const double total = makespan + (ns > 1 ? kCombineCost : 0.0);
    if (total < best_cost * (1 - 1e-9)) {
      best_cost = total;
      best = SplitPlan{split_tokens, ns};
    }
  }
  return best;
}

SplitPlan plan_splits(const std::vector<int>& ctx, int kv_heads, int sm_count) {
  return decode_kernel_version() == 1 ? plan_splits_v1(ctx, kv_heads, sm_count) : plan_splits_v2(ctx, kv_heads, sm_count);
}

// A decode batch: contexts, a shuffled page assignment and the device-side tables.
struct Batch {
  std::vector<int> ctx;
  int max_blocks = 0;
  long long total_blocks = 0;
  std::vector<int> block_table;  // [batch][max_blocks], local block ids in [0, total_blocks)
};

Batch make_batch(const std::vector<int>& ctx, uint64_t seed) {
  Batch b;
  b.ctx = ctx;
  for (int c : ctx) {
    const int nb = (c + kBlockSize - 1) / kBlockSize;
    b.max_blocks = std::max(b.max_blocks, nb);
    b.total_blocks += nb;
  }
  std::vector<int> perm(static_cast<size_t>(b.total_blocks));
  std::iota(perm.begin(), perm.end(), 0);
  HostRng rng(seed);
  for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[rng.next() % i]);
  b.block_table.assign(ctx.size() * static_cast<size_t>(std::max(1, b.max_blocks)), 0);
  size_t next = 0;
  for (size_t s = 0; s < ctx.size(); ++s) {
    const int nb = (ctx[s] + kBlockSize - 1) / kBlockSize;
    for (int i = 0; i < nb; ++i) b.block_table[s * b.max_blocks + i] = perm[next++];
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// CPU check
void check_decode(Ctx& ctx) {
  const int G = ctx.shape.group();
  const int kvh = 2, qh = kvh * G;
  const std::vector<int> contexts = {1, 77, 300, 1000, 129};
  const int batch = static_cast<int>(contexts.size());
  Batch b = make_batch(contexts, 11);
  HostRng rng(1234 + G);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));

  std::vector<half> q(static_cast<size_t>(batch) * qh * kHeadDim);
  for (auto& x : q) x = __float2half(static_cast<float>(rng.uniform(-1, 1)));
  DevBuf dq = upload(q);
  DevBuf dbt = upload(b.block_table);
  DevBuf dctx = upload(b.ctx);
  DevBuf dout(q.size() * sizeof(half));
  const size_t rows = static_cast<size_t>(b.total_blocks) * kvh * kBlockSize;

  for (KvFmt f : {KvFmt::FP16, KvFmt::FP8, KvFmt::INT8, KvFmt::INT4, KvFmt::INT2}) {
    const int rowb = code_row_bytes(f);
    std::vector<uint8_t> kc(rows * rowb), vc(rows * rowb);
    std::vector<uint8_t> kp(rows * kParamRowBytes, 0), vp(rows * kParamRowBytes, 0);
    const float k_scale = 0.5f, v_scale = 0.25f;
    for (auto* codes : {&kc, &vc}) {
      for (size_t r = 0; r < rows; ++r) {
        uint8_t* row = codes->data() + r * rowb;
        for (int e = 0; e < kHeadDim; ++e) {
          if (f == KvFmt::FP16) {
            reinterpret_cast<half*>(row)[e] = __float2half(static_cast<float>(rng.uniform(-1, 1)));
          } else if (f == KvFmt::FP8) {
            row[e] = __nv_cvt_float_to_fp8(static_cast<float>(rng.uniform(-2, 2)), __NV_SATFINITE, __NV_E4M3);
          } else {
            host_set_code(f, row, e, rng.uniform_int(0, (1 << fmt_bits(f)) - 1));
          }
        }
      }
    }
    if (fmt_has_params(f)) {
      for (auto* params : {&kp, &vp}) {
        half2* pp = reinterpret_cast<half2*>(params->data());
        const double levels = (1 << fmt_bits(f)) - 1;
        for (size_t i = 0; i < rows * kGroupsPerRow; ++i)
          pp[i] = __floats2half2_rn(static_cast<float>(rng.uniform(0.5, 2.0) / levels),
                                    static_cast<float>(rng.uniform(-1.0, 0.0)));
      }
    }
    // Reference (double), using the dequantized values.
    std::vector<double> ref(q.size());
    std::vector<double> kr(kHeadDim), vr(kHeadDim);
    for (int s = 0; s < batch; ++s) {
      for (int h = 0; h < qh; ++h) {
        const int kh = h / G;
        std::vector<double> sc(contexts[s]);
        double mx = -1e300;
        for (int t = 0; t < contexts[s]; ++t) {
          const size_t r = (static_cast<size_t>(b.block_table[s * b.max_blocks + t / kBlockSize]) * kvh + kh) * kBlockSize +
                           t % kBlockSize;
          host_dequant_row(f, kc.data() + r * rowb, kp.data() + r * kParamRowBytes, k_scale, kr.data());
          double d = 0;
          for (int e = 0; e < kHeadDim; ++e)
            d += static_cast<double>(__half2float(q[(static_cast<size_t>(s) * qh + h) * kHeadDim + e])) * kr[e];
          sc[t] = d * scale;
          mx = std::max(mx, sc[t]);
        }
        double l = 0;
        for (auto& x : sc) l += (x = std::exp(x - mx));
        for (int t = 0; t < contexts[s]; ++t) {
          const size_t r = (static_cast<size_t>(b.block_table[s * b.max_blocks + t / kBlockSize]) * kvh + kh) * kBlockSize +
                           t % kBlockSize;
          host_dequant_row(f, vc.data() + r * rowb, vp.data() + r * kParamRowBytes, v_scale, vr.data());
          for (int e = 0; e < kHeadDim; ++e) ref[(static_cast<size_t>(s) * qh + h) * kHeadDim + e] += sc[t] / l * vr[e];
        }
      }
    }
    DevBuf dkc = upload(kc), dvc = upload(vc), dkp = upload(kp), dvp = upload(vp);
    DevBuf sk(rows * kHeadDim * sizeof(half)), sv(rows * kHeadDim * sizeof(half));
    for (int forced : {kTile * 2, 1 << 20}) {  // multi-split (+ combine) and single-split paths
      for (int fused = 1; fused >= (fmt_is_int(f) ? 0 : 1); --fused) {
        DecodeParams p{};
        p.q = dq.as<half>();
        p.k_codes = dkc.as<uint8_t>();
        p.v_codes = dvc.as<uint8_t>();
        p.k_params = dkp.as<uint8_t>();
        p.v_params = dvp.as<uint8_t>();
        p.k_scale = f == KvFmt::FP8 ? k_scale : 1.f;
        p.v_scale = f == KvFmt::FP8 ? v_scale : 1.f;
        p.block_tables = dbt.as<int>();
        p.context_lens = dctx.as<int>();
        p.max_blocks = b.max_blocks;
        p.kv_heads = kvh;
        p.q_heads = qh;
        p.split_tokens = forced;
        p.num_splits = std::max(1, (1000 + forced - 1) / forced);
        p.scale_log2 = scale * kLog2e;
        DevBuf po(static_cast<size_t>(batch) * qh * p.num_splits * kHeadDim * sizeof(float));
        DevBuf pl(static_cast<size_t>(batch) * qh * p.num_splits * sizeof(float));
        p.part_o = po.as<float>();
        p.part_lse = pl.as<float>();
        p.out = dout.as<half>();
        fill_bytes(dout.get(), dout.bytes(), 77);  // poison: every element must be written
        if (fused) {
          launch_fused(f, p, G, batch, ctx.stream);
        } else {
          launch_dequant(f, p, rows, sk.as<half>(), sv.as<half>(), ctx.dev.sm_count, ctx.stream);
          DecodeParams p16 = p;
          p16.k_codes = sk.as<uint8_t>();
          p16.v_codes = sv.as<uint8_t>();
          launch_fused(KvFmt::FP16, p16, G, batch, ctx.stream);
        }
        CK(cudaStreamSynchronize(ctx.stream));
        std::vector<half> out = download<half>(dout, q.size());
        std::vector<double> o(out.size());
        for (size_t i = 0; i < out.size(); ++i) o[i] = __half2float(out[i]);
        std::string name = std::string(fmt_name(f)) + (fused ? "/fused" : "/unfused") + "/G" + std::to_string(G) +
                           (p.num_splits > 1 ? "/splits" : "/nosplit");
        require_close("decode", name, o, ref, 2e-3);
      }
    }
  }
}

struct Spec {
  std::string name;  // "uniform" or a mixed-batch description
  std::vector<int> ctx;
};

std::vector<int> repeat(int n, int v) { return std::vector<int>(static_cast<size_t>(n), v); }

std::vector<Spec> build_specs(const Ctx& ctx, std::vector<long long>& batches, std::vector<long long>& contexts) {
  if (ctx.dry()) {
    batches = {2};
    contexts = {200};
  } else if (ctx.quick()) {
    batches = {1, 16, 128};
    contexts = {512, 4096, 32768};
  } else {
    batches = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    contexts = {128, 512, 1024, 2048, 4096, 8192, 16384, 32768};
  }
  std::vector<Spec> specs;
  for (long long bsz : batches)
    for (long long c : contexts) specs.push_back({"uniform", repeat(static_cast<int>(bsz), static_cast<int>(c))});
  if (ctx.dry()) {
    specs.push_back({"mixed_1x1000+1x40", {1000, 40}});
    return specs;
  }
  std::vector<int> mixed_batches = ctx.quick() ? std::vector<int>{32} : std::vector<int>{8, 32, 128};
  for (int bsz : mixed_batches) {
    std::vector<int> half_half = repeat(bsz / 2, 256);
    for (int i = 0; i < bsz / 2; ++i) half_half.push_back(8192);
    specs.push_back({"half256_half8192", half_half});
    std::vector<int> one_long = {32768};
    for (int i = 1; i < bsz; ++i) one_long.push_back(512);
    specs.push_back({"one32768_rest512", one_long});
    if (!ctx.quick()) {
      HostRng rng(97 + bsz);
      std::vector<int> lu;
      for (int i = 0; i < bsz; ++i)
        lu.push_back(static_cast<int>(std::exp(rng.uniform(std::log(128.0), std::log(16384.0)))));
      specs.push_back({"loguniform128to16384", lu});
    }
  }
  return specs;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
void run_decode_attention(Ctx& ctx, std::string& grid) {
  const ModelShape& m = ctx.shape;
  if (m.head_dim != kHeadDim) die("decode attention is built for head_dim 128");
  const int G = m.group();
  logf("[decode_attention] checks (kernel v%d%s)\n", decode_kernel_version(),
       decode_kernel_version() == 1 ? ", KVSIM_DECODE_KERNEL=v1" : "");
  check_decode(ctx);

  std::vector<long long> batches, contexts;
  std::vector<Spec> specs = build_specs(ctx, batches, contexts);
  struct Variant {
    KvFmt f;
    bool fused;
  };
  const std::vector<Variant> variants = {{KvFmt::FP16, true}, {KvFmt::FP8, true},   {KvFmt::INT8, true},
                                         {KvFmt::INT8, false}, {KvFmt::INT4, true}, {KvFmt::INT4, false},
                                         {KvFmt::INT2, true},  {KvFmt::INT2, false}};
  Table tab("decode_attention",
            {"kv_format", "fused", "batch", "context_mean", "context_max", "context_spec", "num_q_heads",
             "num_kv_heads", "head_dim", "block_size", "kv_bytes"},
            {"achieved_gbps", "num_splits", "split_tokens"});
  const double max_bytes = ctx.opt.max_kv_gb * 1e9;
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  int done = 0, skipped = 0;
  const int total = static_cast<int>(specs.size() * variants.size());
  for (const Spec& sp : specs) {
    const int batch = static_cast<int>(sp.ctx.size());
    Batch b = make_batch(sp.ctx, 5 + batch);
    long long tokens = 0;
    int cmax = 0;
    for (int c : sp.ctx) {
      tokens += c;
      cmax = std::max(cmax, c);
    }
    const SplitPlan plan = plan_splits(sp.ctx, m.kv_heads, ctx.dev.sm_count);
    const size_t rows = static_cast<size_t>(b.total_blocks) * m.kv_heads * kBlockSize;  // per set
    DevBuf dq(static_cast<size_t>(batch) * m.q_heads * kHeadDim * sizeof(half));
    fill_half(dq.as<half>(), static_cast<size_t>(batch) * m.q_heads * kHeadDim, 3, -1.f, 1.f, ctx.stream);
    DevBuf dbt = upload(b.block_table);
    DevBuf dctx = upload(b.ctx);
    DevBuf dout(static_cast<size_t>(batch) * m.q_heads * kHeadDim * sizeof(half));
    DevBuf po(static_cast<size_t>(batch) * m.q_heads * plan.num_splits * kHeadDim * sizeof(float));
    DevBuf pl(static_cast<size_t>(batch) * m.q_heads * plan.num_splits * sizeof(float));

    for (const Variant& v : variants) {
      ++done;
      const size_t code_bytes = rows * code_row_bytes(v.f);
      const size_t par_bytes = rows * param_row_bytes(v.f);
      const size_t set_bytes = 2 * (code_bytes + par_bytes);
      const size_t scratch_bytes = v.fused ? 0 : 2 * rows * kHeadDim * sizeof(half);
      const double kv_bytes = 2.0 * static_cast<double>(tokens) * m.kv_heads * token_head_bytes(v.f);
      if (static_cast<double>(set_bytes + scratch_bytes) > max_bytes) {
        ++skipped;
        continue;
      }
      const int nsets = ctx.sets_for(set_bytes);
      DevBuf kc(code_bytes * nsets), vc(code_bytes * nsets);
      DevBuf kp(par_bytes * nsets), vp(par_bytes * nsets);
      if (v.f == KvFmt::FP16) {
        fill_half(kc.as<half>(), kc.bytes() / 2, 21, -1.f, 1.f, ctx.stream);
        fill_half(vc.as<half>(), vc.bytes() / 2, 22, -1.f, 1.f, ctx.stream);
      } else if (v.f == KvFmt::FP8) {
        fill_fp8(kc.as<uint8_t>(), kc.bytes(), 21, -2.f, 2.f, ctx.stream);
        fill_fp8(vc.as<uint8_t>(), vc.bytes(), 22, -2.f, 2.f, ctx.stream);
      } else {
        fill_bytes(kc.get(), kc.bytes(), 21, ctx.stream);
        fill_bytes(vc.get(), vc.bytes(), 22, ctx.stream);
        const float lv = static_cast<float>((1 << fmt_bits(v.f)) - 1);
        fill_half2(kp.as<half2>(), kp.bytes() / 4, 23, 0.5f / lv, 2.f / lv, -1.f, 0.f, ctx.stream);
        fill_half2(vp.as<half2>(), vp.bytes() / 4, 24, 0.5f / lv, 2.f / lv, -1.f, 0.f, ctx.stream);
      }
      DevBuf sk(scratch_bytes / 2), sv(scratch_bytes / 2);
      DecodeParams base{};
      base.q = dq.as<half>();
      base.k_scale = v.f == KvFmt::FP8 ? 0.5f : 1.f;
      base.v_scale = v.f == KvFmt::FP8 ? 0.25f : 1.f;
      base.block_tables = dbt.as<int>();
      base.context_lens = dctx.as<int>();
      base.max_blocks = b.max_blocks;
      base.kv_heads = m.kv_heads;
      base.q_heads = m.q_heads;
      base.split_tokens = plan.split_tokens;
      base.num_splits = plan.num_splits;
      base.scale_log2 = scale * kLog2e;
      base.part_o = po.as<float>();
      base.part_lse = pl.as<float>();
      base.out = dout.as<half>();
      const KvFmt f = v.f;
      const bool fused = v.fused;
      auto enqueue = [&](int i, cudaStream_t s) {
        DecodeParams p = base;
        p.k_codes = kc.as<uint8_t>() + code_bytes * i;
        p.v_codes = vc.as<uint8_t>() + code_bytes * i;
        p.k_params = kp.as<uint8_t>() + par_bytes * i;
        p.v_params = vp.as<uint8_t>() + par_bytes * i;
        if (fused) {
          launch_fused(f, p, G, batch, s);
        } else {
          launch_dequant(f, p, rows, sk.as<half>(), sv.as<half>(), ctx.dev.sm_count, s);
          DecodeParams p16 = p;
          p16.k_codes = sk.as<uint8_t>();
          p16.v_codes = sv.as<uint8_t>();
          launch_fused(KvFmt::FP16, p16, G, batch, s);
        }
      };
      Stats st = ctx.time(enqueue, nsets);
      const double gbps = kv_bytes / (st.median * 1e-6) / 1e9;
      tab.add({fmt_name(v.f), fused ? "1" : "0", fmti(batch), fmtd(static_cast<double>(tokens) / batch, 1), fmti(cmax),
               sp.name, fmti(m.q_heads), fmti(m.kv_heads), fmti(kHeadDim), fmti(kBlockSize), fmtd(kv_bytes, 0)},
              st, {fmtd(gbps, 1), fmti(plan.num_splits), fmti(plan.split_tokens)});
      logf("[decode_attention] %d/%d %-8s %-7s b=%-3d ctx=%-6d %-22s %9.2f us %7.1f GB/s\n", done, total, fmt_name(v.f),
           fused ? "fused" : "unfused", batch, cmax, sp.name.c_str(), st.median, gbps);
    }
  }
  if (skipped) logf("[decode_attention] skipped %d points above %.1f GB of KV\n", skipped, ctx.opt.max_kv_gb);
  tab.write(ctx.opt.out_dir);
  grid = "{\"batch\":" + json_int_list(batches) + ",\"context\":" + json_int_list(contexts) +
         ",\"mixed\":[\"half256_half8192\",\"one32768_rest512\",\"loguniform128to16384\"]" +
         ",\"formats\":[\"fp16\",\"fp8_e4m3\",\"int8\",\"int4\",\"int2\"],\"block_size\":16,\"quant_group\":32" +
         ",\"max_kv_gb\":" + fmtg(ctx.opt.max_kv_gb) + "}";
}

}  // namespace kvcal
