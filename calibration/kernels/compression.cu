// KV-compression side work: the extra device passes compression methods add to a step.
//
//   quant_write      quantize new K/V tokens into the paged cache (fp16 = plain cache write,
//                    fp8 e4m3 per-tensor, int8/4/2 per-token group-32 asymmetric; kv_format.cuh)
//   kivi_key_flush   KIVI: quantize a 128-token fp16 key residual window per channel (groups of
//                    32 tokens along the token axis), int2/int4
//   h2o_accumulate   H2O: add this step's attention probabilities (summed over the query heads of
//                    each KV head) into the per-token score vector
//   h2o_topk         H2O: top-k (radix select) of a token budget over each KV head's score vector
//   snapkv_select    SnapKV at prefill: scores of the last 32 queries over the prompt (cuBLAS),
//                    causal softmax, sum over window queries and the KV head's query heads,
//                    1-D max-pool (kernel 7), top-k of (budget - 32) prompt positions per KV head
//   compact          gather kept tokens of every (sequence, KV head) into freshly allocated pages
//                    (K and V, codes and parameters)
//   gear_lowrank     GEAR: quantization error of a 64-token chunk (int2, kv_format rule) and a
//                    rank-r power iteration (3 loops, Gram-Schmidt) giving E ~= P Q^T
//   gear_outliers    GEAR: top 2% entries by magnitude of a 64-token chunk (radix select)
// Simple, correct implementations with realistic memory traffic; not tuned production kernels.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "families.cuh"
#include "kv_format.cuh"

namespace kvcal {
namespace {

// ---------------------------------------------------------------------------------------------
// quant_write: one warp per (token, KV head, K|V) row; each lane owns 4 channels.
template <KvFmt F>
__global__ void quant_write_kernel(const half* __restrict__ k, const half* __restrict__ v, const int* __restrict__ slots,
                                   int T, int kvh, uint8_t* kc, uint8_t* vc, uint8_t* kp, uint8_t* vp, float inv_ks,
                                   float inv_vs) {
  const int lane = threadIdx.x & 31;
  const long long warp = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
  const long long nrows = 2LL * T * kvh;
  if (warp >= nrows) return;
  const int which = static_cast<int>(warp % 2);  // 0 = K, 1 = V
  const long long th = warp / 2;
  const int t = static_cast<int>(th / kvh), h = static_cast<int>(th % kvh);
  const half* src = (which ? v : k) + (static_cast<size_t>(t) * kvh + h) * kHeadDim + lane * 4;
  const int slot = slots[t];
  const size_t row = (static_cast<size_t>(slot / kBlockSize) * kvh + h) * kBlockSize + slot % kBlockSize;
  uint8_t* codes = (which ? vc : kc) + row * code_row_bytes(F);
  const uint2 raw = *reinterpret_cast<const uint2*>(src);
  if constexpr (F == KvFmt::FP16) {
    *reinterpret_cast<uint2*>(codes + lane * 8) = raw;
    return;
  } else {
    const half2 h01 = *reinterpret_cast<const half2*>(&raw.x), h23 = *reinterpret_cast<const half2*>(&raw.y);
    const float x[4] = {__low2float(h01), __high2float(h01), __low2float(h23), __high2float(h23)};
    if constexpr (F == KvFmt::FP8) {
      const float inv = which ? inv_vs : inv_ks;
      uint32_t w = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i)
        w |= static_cast<uint32_t>(__nv_cvt_float_to_fp8(x[i] * inv, __NV_SATFINITE, __NV_E4M3)) << (8 * i);
      *reinterpret_cast<uint32_t*>(codes + lane * 4) = w;
    } else {
      constexpr int B = fmt_bits(F);
      float mn = fminf(fminf(x[0], x[1]), fminf(x[2], x[3]));
      float mx = fmaxf(fmaxf(x[0], x[1]), fmaxf(x[2], x[3]));
#pragma unroll
      for (int o = 1; o < 8; o <<= 1) {  // the 8 lanes of a 32-channel group
        mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
      }
      half sh, zh;
      quant_params(mn, mx, B, sh, zh);
      int c[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) c[i] = quant_code(x[i], sh, zh, B);
      if constexpr (B == 8) {
        *reinterpret_cast<uint32_t*>(codes + lane * 4) = c[0] | (c[1] << 8) | (c[2] << 16) | (c[3] << 24);
      } else if constexpr (B == 4) {
        *reinterpret_cast<uint16_t*>(codes + lane * 2) = static_cast<uint16_t>(c[0] | (c[1] << 4) | (c[2] << 8) | (c[3] << 12));
      } else {
        codes[lane] = static_cast<uint8_t>(c[0] | (c[1] << 2) | (c[2] << 4) | (c[3] << 6));
      }
      if ((lane & 7) == 0) {
        uint8_t* params = (which ? vp : kp) + row * kParamRowBytes;
        *reinterpret_cast<half2*>(params + (lane >> 3) * 4) = __halves2half2(sh, zh);
      }
    }
  }
}

struct QuantWriteArgs {
  const half *k, *v;
  const int* slots;
  int T, kvh;
  uint8_t *kc, *vc, *kp, *vp;
};

void launch_quant_write(KvFmt f, const QuantWriteArgs& a, cudaStream_t s) {
  const long long threads = 2LL * a.T * a.kvh * 32;
  const unsigned blocks = static_cast<unsigned>((threads + 255) / 256);
  const float inv_ks = 1.f / 0.5f, inv_vs = 1.f / 0.25f;  // fp8 per-tensor scales 0.5 (K), 0.25 (V)
#define QW(FMT) quant_write_kernel<FMT><<<blocks, 256, 0, s>>>(a.k, a.v, a.slots, a.T, a.kvh, a.kc, a.vc, a.kp, a.vp, inv_ks, inv_vs)
  switch (f) {
    case KvFmt::FP16: QW(KvFmt::FP16); break;
    case KvFmt::FP8: QW(KvFmt::FP8); break;
    case KvFmt::INT8: QW(KvFmt::INT8); break;
    case KvFmt::INT4: QW(KvFmt::INT4); break;
    case KvFmt::INT2: QW(KvFmt::INT2); break;
  }
#undef QW
  CK_LAUNCH();
}

// ---------------------------------------------------------------------------------------------
// KIVI key flush: in [S][128][kvh][128] fp16 -> codes [S][kvh][128 ch][128*B/8], params
// [S][kvh][128 ch][4 groups] half2 (scale, zero). CTA per (sequence, head), thread per channel.
constexpr int kKiviR = 128;
template <int B>
__global__ void __launch_bounds__(128) kivi_key_flush_kernel(const half* __restrict__ x, int kvh, uint8_t* codes,
                                                             half2* params) {
  const int s = blockIdx.y, h = blockIdx.x, d = threadIdx.x;
  constexpr int kGroupBytes = kQGroup * B / 8;
  const size_t ch = (static_cast<size_t>(s) * kvh + h) * kHeadDim + d;
  for (int g = 0; g < kKiviR / kQGroup; ++g) {
    float v[kQGroup];
    float mn = INFINITY, mx = -INFINITY;
#pragma unroll
    for (int t = 0; t < kQGroup; ++t) {
      v[t] = __half2float(x[((static_cast<size_t>(s) * kKiviR + g * kQGroup + t) * kvh + h) * kHeadDim + d]);
      mn = fminf(mn, v[t]);
      mx = fmaxf(mx, v[t]);
    }
    half sh, zh;
    quant_params(mn, mx, B, sh, zh);
    uint32_t w[kGroupBytes / 4];
#pragma unroll
    for (int i = 0; i < kGroupBytes / 4; ++i) w[i] = 0;
#pragma unroll
    for (int t = 0; t < kQGroup; ++t) {
      const uint32_t c = static_cast<uint32_t>(quant_code(v[t], sh, zh, B));
      w[(t * B) / 32] |= c << ((t * B) % 32);
    }
    uint32_t* dst = reinterpret_cast<uint32_t*>(codes + ch * (kKiviR * B / 8) + g * kGroupBytes);
#pragma unroll
    for (int i = 0; i < kGroupBytes / 4; ++i) dst[i] = w[i];
    params[ch * (kKiviR / kQGroup) + g] = __halves2half2(sh, zh);
  }
}

// ---------------------------------------------------------------------------------------------
// H2O accumulate: score[b][kh][t] += sum_g probs[b][kh*G+g][t]; 4 tokens per thread.
__global__ void h2o_accumulate_kernel(const half* __restrict__ probs, float* __restrict__ score, int B, int kvh, int G,
                                      int ctx) {
  const size_t n4 = static_cast<size_t>(B) * kvh * (ctx / 4);
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t bh = i / (ctx / 4);
    const int t4 = static_cast<int>(i % (ctx / 4));
    const int b = static_cast<int>(bh / kvh), kh = static_cast<int>(bh % kvh);
    float4 acc = reinterpret_cast<float4*>(score + bh * ctx)[t4];
    for (int g = 0; g < G; ++g) {
      const uint2 r = reinterpret_cast<const uint2*>(probs + (static_cast<size_t>(b) * kvh * G + kh * G + g) * ctx)[t4];
      const float2 a = __half22float2(*reinterpret_cast<const half2*>(&r.x));
      const float2 c = __half22float2(*reinterpret_cast<const half2*>(&r.y));
      acc.x += a.x;
      acc.y += a.y;
      acc.z += c.x;
      acc.w += c.y;
    }
    reinterpret_cast<float4*>(score + bh * ctx)[t4] = acc;
  }
}

// ---------------------------------------------------------------------------------------------
// Radix select (block-wide): indices of the k largest keys among n (ties broken arbitrarily).
struct RadixSmem {
  unsigned hist[256];
  unsigned prefix;
  int remaining;
  int cnt_gt;
  int cnt_eq;
};

__device__ __forceinline__ unsigned float_key(float f) {
  const unsigned u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <class Get>
__device__ void radix_topk(Get get, int n, int k, int* out, RadixSmem& sm) {
  const int tid = threadIdx.x, nt = blockDim.x;
  if (n <= k) {
    for (int i = tid; i < k; i += nt) out[i] = i < n ? i : -1;
    return;
  }
  if (tid == 0) {
    sm.prefix = 0;
    sm.remaining = k;
    sm.cnt_gt = 0;
    sm.cnt_eq = 0;
  }
  unsigned mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = tid; b < 256; b += nt) sm.hist[b] = 0;
    __syncthreads();
    const unsigned prefix = sm.prefix;
    for (int i = tid; i < n; i += nt) {
      const unsigned u = get(i);
      if ((u & mask) == prefix) atomicAdd(&sm.hist[(u >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (tid < 32) {  // warp 0: find the digit holding the k-th largest (bins scanned from 255 down)
      const int lane = tid;
      unsigned c[8], local = 0;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        c[j] = sm.hist[255 - 8 * lane - j];
        local += c[j];
      }
      unsigned incl = local;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const unsigned t = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += t;
      }
      const int rem = sm.remaining;
      const unsigned ballot = __ballot_sync(0xffffffffu, incl >= static_cast<unsigned>(rem));
      const int L = __ffs(ballot) - 1;
      if (lane == L) {
        unsigned cum = incl - local;
        int digit = 255 - 8 * lane;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          if (cum + c[j] >= static_cast<unsigned>(rem)) {
            digit = 255 - 8 * lane - j;
            break;
          }
          cum += c[j];
        }
        sm.remaining = rem - static_cast<int>(cum);
        sm.prefix = prefix | (static_cast<unsigned>(digit) << shift);
      }
    }
    mask |= 255u << shift;
    __syncthreads();
  }
  const unsigned T = sm.prefix;
  const int rem = sm.remaining;
  const int base_eq = k - rem;
  for (int i = tid; i < n; i += nt) {
    const unsigned u = get(i);
    if (u > T) {
      out[atomicAdd(&sm.cnt_gt, 1)] = i;
    } else if (u == T) {
      const int e = atomicAdd(&sm.cnt_eq, 1);
      if (e < rem) out[base_eq + e] = i;
    }
  }
  __syncthreads();
}

// Top-k per row of a [rows][n] fp32 matrix (row stride ld). CTA per row.
__global__ void __launch_bounds__(1024) topk_rows_kernel(const float* __restrict__ vals, int n, size_t ld, int k,
                                                        int* __restrict__ out) {
  __shared__ RadixSmem sm;
  const float* row = vals + blockIdx.x * ld;
  radix_topk([&](int i) { return float_key(row[i]); }, n, k, out + static_cast<size_t>(blockIdx.x) * k, sm);
}

// ---------------------------------------------------------------------------------------------
// SnapKV: scores S [qh][W][ctx] fp32 (already scaled) -> row stats -> vote -> pool -> top-k.
constexpr int kSnapW = 32;
constexpr int kSnapPool = 7;

__global__ void __launch_bounds__(256) snap_row_stats_kernel(const float* __restrict__ S, int ctx, float2* stats) {
  __shared__ float red[32];
  const int row = blockIdx.x;  // h * W + w
  const int w = row % kSnapW;
  const int valid = ctx - kSnapW + w + 1;  // causal: query at position ctx-W+w
  const float* r = S + static_cast<size_t>(row) * ctx;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < valid; j += blockDim.x) mx = fmaxf(mx, r[j]);
  mx = block_max(mx, red);
  float sum = 0.f;
  for (int j = threadIdx.x; j < valid; j += blockDim.x) sum += __expf(r[j] - mx);
  sum = block_sum(sum, red);
  if (threadIdx.x == 0) stats[row] = make_float2(mx, 1.f / sum);
}

// vote[kh][t] = sum over the G query heads of kh and the W window queries of softmax prob,
// for prompt positions t < ctx - W.
__global__ void snap_vote_kernel(const float* __restrict__ S, const float2* __restrict__ stats, int kvh, int G, int ctx,
                                 float* __restrict__ vote) {
  const int n = ctx - kSnapW;
  const size_t total = static_cast<size_t>(kvh) * n;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int kh = static_cast<int>(i / n), t = static_cast<int>(i % n);
    float acc = 0.f;
    for (int r = 0; r < G * kSnapW; ++r) {
      const int row = kh * G * kSnapW + r;
      const float2 st = stats[row];
      acc += __expf(S[static_cast<size_t>(row) * ctx + t] - st.x) * st.y;
    }
    vote[i] = acc;
  }
}

__global__ void snap_pool_kernel(const float* __restrict__ vote, int kvh, int n, float* __restrict__ pooled) {
  const size_t total = static_cast<size_t>(kvh) * n;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t base = (i / n) * n;
    const int t = static_cast<int>(i % n);
    float m = -INFINITY;
#pragma unroll
    for (int u = -kSnapPool / 2; u <= kSnapPool / 2; ++u) {
      const int j = t + u;
      if (j >= 0 && j < n) m = fmaxf(m, vote[base + j]);
    }
    pooled[i] = m;
  }
}

// ---------------------------------------------------------------------------------------------
// Compaction: copy kept token rows (K and V, codes + params) into new pages. One warp per row.
__global__ void compact_kernel(const uint8_t* __restrict__ skc, const uint8_t* __restrict__ svc,
                               const uint8_t* __restrict__ skp, const uint8_t* __restrict__ svp,
                               uint8_t* dkc, uint8_t* dvc, uint8_t* dkp, uint8_t* dvp, const int* __restrict__ keep,
                               const int* __restrict__ src_bt, int src_maxb, const int* __restrict__ dst_bt, int dst_maxb,
                               int B, int kvh, int budget, int code_bytes, int par_bytes) {
  const int lane = threadIdx.x & 31;
  const long long nw = (static_cast<long long>(gridDim.x) * blockDim.x) >> 5;
  const long long rows = static_cast<long long>(B) * kvh * budget;
  for (long long w = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5; w < rows; w += nw) {
    const int j = static_cast<int>(w % budget);
    const long long bh = w / budget;
    const int h = static_cast<int>(bh % kvh), b = static_cast<int>(bh / kvh);
    const int t = keep[w];
    const size_t srow = (static_cast<size_t>(src_bt[static_cast<size_t>(b) * src_maxb + t / kBlockSize]) * kvh + h) * kBlockSize +
                        t % kBlockSize;
    const size_t drow = (static_cast<size_t>(dst_bt[static_cast<size_t>(b) * dst_maxb + j / kBlockSize]) * kvh + h) * kBlockSize +
                        j % kBlockSize;
    const int nch = code_bytes / 16;
    for (int c = lane; c < 2 * nch; c += 32) {
      const bool isv = c >= nch;
      const int cc = isv ? c - nch : c;
      const uint8_t* s = (isv ? svc : skc) + srow * code_bytes + cc * 16;
      uint8_t* d = (isv ? dvc : dkc) + drow * code_bytes + cc * 16;
      *reinterpret_cast<uint4*>(d) = *reinterpret_cast<const uint4*>(s);
    }
    if (par_bytes && lane < 2) {
      const uint8_t* s = (lane ? svp : skp) + srow * par_bytes;
      uint8_t* d = (lane ? dvp : dkp) + drow * par_bytes;
      *reinterpret_cast<uint4*>(d) = *reinterpret_cast<const uint4*>(s);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GEAR. Chunk = kGearR tokens of one (sequence, KV head): x [S][kGearR][kvh][128] fp16.
constexpr int kGearR = 64;
constexpr int kGearLoops = 3;
constexpr int kGearBits = 2;

__host__ __device__ inline float gear_q0(int d, int c) {  // deterministic start vectors
  return static_cast<float>(((d * 7 + c * 13) % 11) - 5) + 0.5f;
}

// E = X - deq(quant_int2(X)) per token group-32, then rank-r power iteration. Outputs P [S][kvh][R][r]
// and Q [S][kvh][128][r] in fp32 (E ~= P Q^T).
template <int RANK>
__global__ void __launch_bounds__(256) gear_lowrank_kernel(const half* __restrict__ x, int kvh, float* Pout, float* Qout) {
  __shared__ float E[kGearR][kHeadDim + 1];
  __shared__ float Pm[kGearR][RANK];
  __shared__ float Qm[kHeadDim][RANK];
  __shared__ float red[RANK];
  const int h = blockIdx.x, s = blockIdx.y, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // Load + quantization error: warp w handles tokens w, w+8, ...; lane owns 4 channels.
  for (int t = warp; t < kGearR; t += 8) {
    const half* src = x + ((static_cast<size_t>(s) * kGearR + t) * kvh + h) * kHeadDim + lane * 4;
    const uint2 raw = *reinterpret_cast<const uint2*>(src);
    const half2 a = *reinterpret_cast<const half2*>(&raw.x), b = *reinterpret_cast<const half2*>(&raw.y);
    float v[4] = {__low2float(a), __high2float(a), __low2float(b), __high2float(b)};
    float mn = fminf(fminf(v[0], v[1]), fminf(v[2], v[3])), mx = fmaxf(fmaxf(v[0], v[1]), fmaxf(v[2], v[3]));
#pragma unroll
    for (int o = 1; o < 8; o <<= 1) {
      mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    }
    half sh, zh;
    quant_params(mn, mx, kGearBits, sh, zh);
    const float sf = __half2float(sh), zf = __half2float(zh);
#pragma unroll
    for (int i = 0; i < 4; ++i) E[t][lane * 4 + i] = v[i] - fmaf(static_cast<float>(quant_code(v[i], sh, zh, kGearBits)), sf, zf);
  }
  for (int i = tid; i < kHeadDim * RANK; i += 256) Qm[i / RANK][i % RANK] = gear_q0(i / RANK, i % RANK);
  __syncthreads();
  for (int loop = 0; loop < kGearLoops; ++loop) {
    for (int i = tid; i < kGearR * RANK; i += 256) {  // P = E Q
      const int r = i / RANK, c = i % RANK;
      float acc = 0.f;
      for (int d = 0; d < kHeadDim; ++d) acc = fmaf(E[r][d], Qm[d][c], acc);
      Pm[r][c] = acc;
    }
    __syncthreads();
    if (warp == 0) {  // Gram-Schmidt on the columns of P (64 rows: 2 per lane)
      for (int c = 0; c < RANK; ++c) {
        for (int c2 = 0; c2 < c; ++c2) {
          const float dot = warp_sum(Pm[lane][c] * Pm[lane][c2] + Pm[lane + 32][c] * Pm[lane + 32][c2]);
          Pm[lane][c] -= dot * Pm[lane][c2];
          Pm[lane + 32][c] -= dot * Pm[lane + 32][c2];
          __syncwarp();
        }
        const float nrm = warp_sum(Pm[lane][c] * Pm[lane][c] + Pm[lane + 32][c] * Pm[lane + 32][c]);
        const float inv = nrm > 0.f ? rsqrtf(nrm) : 0.f;
        Pm[lane][c] *= inv;
        Pm[lane + 32][c] *= inv;
        __syncwarp();
      }
    }
    __syncthreads();
    for (int i = tid; i < kHeadDim * RANK; i += 256) {  // Q = E^T P
      const int d = i / RANK, c = i % RANK;
      float acc = 0.f;
      for (int r = 0; r < kGearR; ++r) acc = fmaf(E[r][d], Pm[r][c], acc);
      Qm[d][c] = acc;
    }
    __syncthreads();
  }
  (void)red;
  const size_t base = static_cast<size_t>(s) * kvh + h;
  for (int i = tid; i < kGearR * RANK; i += 256) Pout[base * kGearR * RANK + i] = Pm[i / RANK][i % RANK];
  for (int i = tid; i < kHeadDim * RANK; i += 256) Qout[base * kHeadDim * RANK + i] = Qm[i / RANK][i % RANK];
}

// Outliers: indices (into the chunk's 64x128 values) and values of the top s% by magnitude.
__global__ void __launch_bounds__(512) gear_outliers_kernel(const half* __restrict__ x, int kvh, int k, int* idx_out,
                                                           half* val_out) {
  __shared__ unsigned keys[kGearR * kHeadDim];
  __shared__ RadixSmem sm;
  const int h = blockIdx.x, s = blockIdx.y, tid = threadIdx.x;
  for (int i = tid; i < kGearR * kHeadDim / 8; i += blockDim.x) {
    const int t = i / (kHeadDim / 8), c = i % (kHeadDim / 8);
    const uint4 raw = *reinterpret_cast<const uint4*>(x + ((static_cast<size_t>(s) * kGearR + t) * kvh + h) * kHeadDim + c * 8);
    const half2* hp = reinterpret_cast<const half2*>(&raw);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      keys[t * kHeadDim + c * 8 + 2 * j] = float_key(fabsf(__low2float(hp[j])));
      keys[t * kHeadDim + c * 8 + 2 * j + 1] = float_key(fabsf(__high2float(hp[j])));
    }
  }
  __syncthreads();
  const size_t base = (static_cast<size_t>(s) * kvh + h) * k;
  radix_topk([&](int i) { return keys[i]; }, kGearR * kHeadDim, k, idx_out + base, sm);
  for (int i = tid; i < k; i += blockDim.x) {
    const int e = idx_out[base + i];
    const int t = e / kHeadDim, d = e % kHeadDim;
    val_out[base + i] = x[((static_cast<size_t>(s) * kGearR + t) * kvh + h) * kHeadDim + d];
  }
}

unsigned grid_for(size_t threads, int sm_count) {
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>((threads + 255) / 256, static_cast<size_t>(sm_count) * 32)));
}

// ---------------------------------------------------------------------------------------------
// Checks
std::vector<float> sorted_desc(std::vector<float> v) {
  std::sort(v.begin(), v.end(), std::greater<float>());
  return v;
}

// Selected indices must be k distinct valid positions whose values equal the k largest.
void check_topk_selection(const std::string& name, const std::vector<float>& vals, const int* idx, int k) {
  std::vector<int> ids(idx, idx + k);
  std::vector<float> sel;
  bool ok = true;
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < k; ++i) {
    if (ids[i] < 0 || ids[i] >= static_cast<int>(vals.size()) || (i && ids[i] == ids[i - 1])) ok = false;
    else sel.push_back(vals[ids[i]]);
  }
  double bad = 0;
  if (ok) {
    auto a = sorted_desc(sel), b = sorted_desc(vals);
    for (int i = 0; i < k; ++i)
      if (a[i] != b[i]) bad += 1;
  } else {
    bad = k;
  }
  require(bad == 0, "compression", name, "mismatched_selections", bad, 0);
}

void check_compression(Ctx& ctx) {
  const int kvh = 2, G = ctx.shape.group(), qh = kvh * G;
  cudaStream_t st = ctx.stream;
  // quant_write for every format
  {
    const int T = 37;
    HostRng rng(3);
    std::vector<half> k(static_cast<size_t>(T) * kvh * kHeadDim), v(k.size());
    for (auto& e : k) e = __float2half(static_cast<float>(rng.uniform(-2, 2)));
    for (auto& e : v) e = __float2half(static_cast<float>(rng.uniform(-1, 3)));
    const int nblocks = (T + kBlockSize - 1) / kBlockSize + 1;
    std::vector<int> slots(nblocks * kBlockSize);
    std::iota(slots.begin(), slots.end(), 0);
    for (size_t i = slots.size(); i > 1; --i) std::swap(slots[i - 1], slots[rng.next() % i]);
    slots.resize(T);
    DevBuf dk = upload(k), dv = upload(v), ds = upload(slots);
    for (KvFmt f : {KvFmt::FP16, KvFmt::FP8, KvFmt::INT8, KvFmt::INT4, KvFmt::INT2}) {
      const size_t rows = static_cast<size_t>(nblocks) * kvh * kBlockSize;
      DevBuf kc(rows * code_row_bytes(f)), vc(kc.bytes()), kp(rows * kParamRowBytes), vp(kp.bytes());
      QuantWriteArgs a{dk.as<half>(), dv.as<half>(), ds.as<int>(), T, kvh, kc.as<uint8_t>(), vc.as<uint8_t>(),
                       kp.as<uint8_t>(), vp.as<uint8_t>()};
      launch_quant_write(f, a, st);
      CK(cudaStreamSynchronize(st));
      double code_err = 0, par_err = 0;
      long long n = 0;
      for (int which = 0; which < 2; ++which) {
        auto codes = download<uint8_t>(which ? vc : kc, kc.bytes());
        auto params = download<uint8_t>(which ? vp : kp, kp.bytes());
        const auto& src = which ? v : k;
        for (int t = 0; t < T; ++t)
          for (int h = 0; h < kvh; ++h) {
            const size_t row = (static_cast<size_t>(slots[t] / kBlockSize) * kvh + h) * kBlockSize + slots[t] % kBlockSize;
            const uint8_t* cr = codes.data() + row * code_row_bytes(f);
            const half* x = src.data() + (static_cast<size_t>(t) * kvh + h) * kHeadDim;
            for (int g = 0; g < kGroupsPerRow; ++g) {
              half sh = __float2half(1.f), zh = __float2half(0.f);
              if (fmt_is_int(f)) {
                float mn = INFINITY, mx = -INFINITY;
                for (int e = 0; e < kQGroup; ++e) {
                  mn = std::min(mn, __half2float(x[g * kQGroup + e]));
                  mx = std::max(mx, __half2float(x[g * kQGroup + e]));
                }
                quant_params(mn, mx, fmt_bits(f), sh, zh);
                const half2 got = reinterpret_cast<const half2*>(params.data() + row * kParamRowBytes)[g];
                par_err += std::fabs(__low2float(got) - __half2float(sh)) + std::fabs(__high2float(got) - __half2float(zh));
              }
              for (int e = g * kQGroup; e < (g + 1) * kQGroup; ++e, ++n) {
                const float xv = __half2float(x[e]);
                if (f == KvFmt::FP16) {
                  code_err += reinterpret_cast<const uint16_t*>(cr)[e] != *reinterpret_cast<const uint16_t*>(&x[e]);
                } else if (f == KvFmt::FP8) {
                  const uint8_t want = __nv_cvt_float_to_fp8(xv * (which ? 4.f : 2.f), __NV_SATFINITE, __NV_E4M3);
                  code_err += cr[e] != want;
                } else {
                  code_err += std::abs(host_code_at(f, cr, e) - quant_code(xv, sh, zh, fmt_bits(f))) > 0;
                }
              }
            }
          }
      }
      require(code_err == 0 && par_err == 0, "compression", std::string("quant_write/") + fmt_name(f),
              "mismatched_codes+params", code_err + par_err, 0);
    }
  }
  // KIVI key flush
  for (int B : {2, 4}) {
    const int S = 2;
    HostRng rng(4 + B);
    std::vector<half> x(static_cast<size_t>(S) * kKiviR * kvh * kHeadDim);
    for (auto& e : x) e = __float2half(static_cast<float>(rng.uniform(-3, 3)));
    DevBuf dx = upload(x);
    const size_t nch = static_cast<size_t>(S) * kvh * kHeadDim;
    DevBuf codes(nch * kKiviR * B / 8), params(nch * (kKiviR / kQGroup) * sizeof(half2));
    if (B == 2) kivi_key_flush_kernel<2><<<dim3(kvh, S), 128, 0, st>>>(dx.as<half>(), kvh, codes.as<uint8_t>(), params.as<half2>());
    else kivi_key_flush_kernel<4><<<dim3(kvh, S), 128, 0, st>>>(dx.as<half>(), kvh, codes.as<uint8_t>(), params.as<half2>());
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    auto hc = download<uint8_t>(codes, codes.bytes());
    auto hp = download<half2>(params.as<half2>(), nch * (kKiviR / kQGroup));
    double bad = 0;
    for (int s = 0; s < S; ++s)
      for (int h = 0; h < kvh; ++h)
        for (int d = 0; d < kHeadDim; ++d) {
          const size_t ch = (static_cast<size_t>(s) * kvh + h) * kHeadDim + d;
          for (int g = 0; g < kKiviR / kQGroup; ++g) {
            float mn = INFINITY, mx = -INFINITY;
            for (int t = 0; t < kQGroup; ++t) {
              const float v = __half2float(x[((static_cast<size_t>(s) * kKiviR + g * kQGroup + t) * kvh + h) * kHeadDim + d]);
              mn = std::min(mn, v);
              mx = std::max(mx, v);
            }
            half sh, zh;
            quant_params(mn, mx, B, sh, zh);
            const half2 got = hp[ch * (kKiviR / kQGroup) + g];
            bad += (__low2float(got) != __half2float(sh)) + (__high2float(got) != __half2float(zh));
            for (int t = 0; t < kQGroup; ++t) {
              const float v = __half2float(x[((static_cast<size_t>(s) * kKiviR + g * kQGroup + t) * kvh + h) * kHeadDim + d]);
              const int want = quant_code(v, sh, zh, B);
              const int bit = (g * kQGroup + t) * B;
              const int got_c = (hc[ch * (kKiviR * B / 8) + bit / 8] >> (bit % 8)) & ((1 << B) - 1);
              bad += got_c != want;
            }
          }
        }
    require(bad == 0, "compression", "kivi_key_flush/int" + std::to_string(B), "mismatched_codes+params", bad, 0);
  }
  // H2O accumulate + top-k
  {
    const int B = 2, ctxn = 1000, budget = 100;
    HostRng rng(5);
    std::vector<half> probs(static_cast<size_t>(B) * qh * ctxn);
    for (auto& e : probs) e = __float2half(static_cast<float>(rng.uniform(0, 0.01)));
    std::vector<float> score(static_cast<size_t>(B) * kvh * ctxn);
    for (auto& e : score) e = static_cast<float>(rng.uniform(0, 1));
    DevBuf dp = upload(probs), dsc = upload(score), didx(static_cast<size_t>(B) * kvh * budget * sizeof(int));
    h2o_accumulate_kernel<<<grid_for(score.size() / 4, ctx.dev.sm_count), 256, 0, st>>>(dp.as<half>(), dsc.as<float>(), B, kvh,
                                                                                         G, ctxn);
    CK_LAUNCH();
    fill_int(didx.as<int>(), static_cast<size_t>(B) * kvh * budget, 1, -5, -1, st);  // poison
    topk_rows_kernel<<<B * kvh, 1024, 0, st>>>(dsc.as<float>(), ctxn, ctxn, budget, didx.as<int>());
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    std::vector<double> ref(score.size()), out(score.size());
    auto got = download<float>(dsc.as<float>(), score.size());
    for (int b = 0; b < B; ++b)
      for (int kh = 0; kh < kvh; ++kh)
        for (int t = 0; t < ctxn; ++t) {
          float a = score[(static_cast<size_t>(b) * kvh + kh) * ctxn + t];
          for (int g = 0; g < G; ++g) a += __half2float(probs[(static_cast<size_t>(b) * qh + kh * G + g) * ctxn + t]);
          ref[(static_cast<size_t>(b) * kvh + kh) * ctxn + t] = a;
        }
    for (size_t i = 0; i < got.size(); ++i) out[i] = got[i];
    require_close("compression", "h2o_accumulate", out, ref, 1e-6);
    auto idx = download<int>(didx.as<int>(), static_cast<size_t>(B) * kvh * budget);
    for (int r = 0; r < B * kvh; ++r) {
      std::vector<float> row(got.begin() + static_cast<size_t>(r) * ctxn, got.begin() + static_cast<size_t>(r + 1) * ctxn);
      check_topk_selection("h2o_topk/row" + std::to_string(r), row, idx.data() + static_cast<size_t>(r) * budget, budget);
    }
    // ties: a row of equal values must still yield k distinct indices
    std::vector<float> flat(ctxn, 0.25f);
    DevBuf dflat = upload(flat);
    topk_rows_kernel<<<1, 1024, 0, st>>>(dflat.as<float>(), ctxn, ctxn, budget, didx.as<int>());
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    auto tidx = download<int>(didx.as<int>(), budget);
    check_topk_selection("topk/all_ties", flat, tidx.data(), budget);
  }
  // SnapKV
  {
    const int ctxn = 300, budget = 64, n = ctxn - kSnapW, k = budget - kSnapW;
    HostRng rng(6);
    std::vector<half> q(static_cast<size_t>(qh) * kSnapW * kHeadDim), kk(static_cast<size_t>(kvh) * ctxn * kHeadDim);
    for (auto& e : q) e = __float2half(static_cast<float>(rng.uniform(-1, 1)));
    for (auto& e : kk) e = __float2half(static_cast<float>(rng.uniform(-1, 1)));
    DevBuf dq = upload(q), dk = upload(kk);
    DevBuf S(static_cast<size_t>(qh) * kSnapW * ctxn * 4), stats(static_cast<size_t>(qh) * kSnapW * 8);
    DevBuf vote(static_cast<size_t>(kvh) * n * 4), pooled(vote.bytes()), idx(static_cast<size_t>(kvh) * k * 4);
    const float scale = 1.f / std::sqrt(static_cast<float>(kHeadDim)), zero = 0.f;
    CKB(cublasSetStream(ctx.blas, st));
    CKB(cublasGemmStridedBatchedEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, ctxn, G * kSnapW, kHeadDim, &scale, dk.get(), CUDA_R_16F,
                                   kHeadDim, static_cast<long long>(ctxn) * kHeadDim, dq.get(), CUDA_R_16F, kHeadDim,
                                   static_cast<long long>(G) * kSnapW * kHeadDim, &zero, S.get(), CUDA_R_32F, ctxn,
                                   static_cast<long long>(G) * kSnapW * ctxn, kvh, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    snap_row_stats_kernel<<<qh * kSnapW, 256, 0, st>>>(S.as<float>(), ctxn, stats.as<float2>());
    snap_vote_kernel<<<grid_for(static_cast<size_t>(kvh) * n, ctx.dev.sm_count), 256, 0, st>>>(S.as<float>(), stats.as<float2>(),
                                                                                                 kvh, G, ctxn, vote.as<float>());
    snap_pool_kernel<<<grid_for(static_cast<size_t>(kvh) * n, ctx.dev.sm_count), 256, 0, st>>>(vote.as<float>(), kvh, n,
                                                                                                 pooled.as<float>());
    topk_rows_kernel<<<kvh, 1024, 0, st>>>(pooled.as<float>(), n, n, k, idx.as<int>());
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    std::vector<double> ref(static_cast<size_t>(kvh) * n, 0.0);
    for (int h = 0; h < qh; ++h) {
      const int kh = h / G;
      for (int w = 0; w < kSnapW; ++w) {
        const int valid = ctxn - kSnapW + w + 1;
        std::vector<double> sc(valid);
        double mx = -1e300;
        for (int j = 0; j < valid; ++j) {
          double d = 0;
          for (int e = 0; e < kHeadDim; ++e)
            d += static_cast<double>(__half2float(q[(static_cast<size_t>(h) * kSnapW + w) * kHeadDim + e])) *
                 __half2float(kk[(static_cast<size_t>(kh) * ctxn + j) * kHeadDim + e]);
          sc[j] = d * scale;
          mx = std::max(mx, sc[j]);
        }
        double l = 0;
        for (auto& e : sc) l += std::exp(e - mx);
        for (int t = 0; t < n; ++t) ref[static_cast<size_t>(kh) * n + t] += std::exp(sc[t] - mx) / l;
      }
    }
    std::vector<double> ref_pool(ref.size());
    for (int kh = 0; kh < kvh; ++kh)
      for (int t = 0; t < n; ++t) {
        double m = -1e300;
        for (int u = std::max(0, t - kSnapPool / 2); u <= std::min(n - 1, t + kSnapPool / 2); ++u)
          m = std::max(m, ref[static_cast<size_t>(kh) * n + u]);
        ref_pool[static_cast<size_t>(kh) * n + t] = m;
      }
    auto gp = download<float>(pooled.as<float>(), ref.size());
    std::vector<double> gpd(gp.begin(), gp.end());
    require_close("compression", "snapkv_select/pooled_votes", gpd, ref_pool, 1e-4);
    auto gi = download<int>(idx.as<int>(), static_cast<size_t>(kvh) * k);
    for (int kh = 0; kh < kvh; ++kh) {
      std::vector<float> row(gp.begin() + static_cast<size_t>(kh) * n, gp.begin() + static_cast<size_t>(kh + 1) * n);
      check_topk_selection("snapkv_select/topk" + std::to_string(kh), row, gi.data() + static_cast<size_t>(kh) * k, k);
    }
  }
  // Compaction
  {
    const int B = 2, ctxn = 100, budget = 40;
    for (KvFmt f : {KvFmt::FP16, KvFmt::INT4}) {
      const int cb = code_row_bytes(f), pb = param_row_bytes(f);
      const int sb = (ctxn + kBlockSize - 1) / kBlockSize, db = (budget + kBlockSize - 1) / kBlockSize;
      std::vector<int> sbt(B * sb), dbt(B * db), keep(static_cast<size_t>(B) * kvh * budget);
      std::iota(sbt.begin(), sbt.end(), 0);
      std::iota(dbt.begin(), dbt.end(), 0);
      HostRng rng(8);
      std::reverse(sbt.begin(), sbt.end());
      for (auto& e : keep) e = rng.uniform_int(0, ctxn - 1);
      const size_t srows = static_cast<size_t>(B) * sb * kvh * kBlockSize, drows = static_cast<size_t>(B) * db * kvh * kBlockSize;
      DevBuf skc(srows * cb), svc(srows * cb), skp(srows * std::max(pb, 16)), svp(srows * std::max(pb, 16));
      DevBuf dkc(drows * cb), dvc(drows * cb), dkp(drows * std::max(pb, 16)), dvp(drows * std::max(pb, 16));
      for (DevBuf* d : {&skc, &svc, &skp, &svp}) fill_bytes(d->get(), d->bytes(), reinterpret_cast<uintptr_t>(d) & 0xff, st);
      for (DevBuf* d : {&dkc, &dvc, &dkp, &dvp}) fill_bytes(d->get(), d->bytes(), 99, st);
      DevBuf dsbt = upload(sbt), ddbt = upload(dbt), dkeep = upload(keep);
      compact_kernel<<<64, 256, 0, st>>>(skc.as<uint8_t>(), svc.as<uint8_t>(), skp.as<uint8_t>(), svp.as<uint8_t>(),
                                         dkc.as<uint8_t>(), dvc.as<uint8_t>(), dkp.as<uint8_t>(), dvp.as<uint8_t>(),
                                         dkeep.as<int>(), dsbt.as<int>(), sb, ddbt.as<int>(), db, B, kvh, budget, cb, pb);
      CK_LAUNCH();
      CK(cudaStreamSynchronize(st));
      double bad = 0;
      const DevBuf* srcs[4] = {&skc, &svc, &skp, &svp};
      const DevBuf* dsts[4] = {&dkc, &dvc, &dkp, &dvp};
      for (int a = 0; a < (pb ? 4 : 2); ++a) {
        const int rb = a < 2 ? cb : pb;
        auto hs = download<uint8_t>(*srcs[a], srcs[a]->bytes());
        auto hd = download<uint8_t>(*dsts[a], dsts[a]->bytes());
        for (int b = 0; b < B; ++b)
          for (int h = 0; h < kvh; ++h)
            for (int j = 0; j < budget; ++j) {
              const int t = keep[(static_cast<size_t>(b) * kvh + h) * budget + j];
              const size_t sr = (static_cast<size_t>(sbt[b * sb + t / kBlockSize]) * kvh + h) * kBlockSize + t % kBlockSize;
              const size_t dr = (static_cast<size_t>(dbt[b * db + j / kBlockSize]) * kvh + h) * kBlockSize + j % kBlockSize;
              bad += std::memcmp(hs.data() + sr * rb, hd.data() + dr * rb, rb) != 0;
            }
      }
      require(bad == 0, "compression", std::string("compact/") + fmt_name(f), "mismatched_rows", bad, 0);
    }
  }
  // GEAR low rank + outliers
  {
    const int S = 2;
    HostRng rng(9);
    std::vector<half> x(static_cast<size_t>(S) * kGearR * kvh * kHeadDim);
    for (auto& e : x) e = __float2half(static_cast<float>(rng.uniform(-2, 2)));
    DevBuf dx = upload(x);
    for (int rank : {2, 4}) {
      DevBuf P(static_cast<size_t>(S) * kvh * kGearR * rank * 4), Q(static_cast<size_t>(S) * kvh * kHeadDim * rank * 4);
      if (rank == 2) gear_lowrank_kernel<2><<<dim3(kvh, S), 256, 0, st>>>(dx.as<half>(), kvh, P.as<float>(), Q.as<float>());
      else gear_lowrank_kernel<4><<<dim3(kvh, S), 256, 0, st>>>(dx.as<half>(), kvh, P.as<float>(), Q.as<float>());
      CK_LAUNCH();
      CK(cudaStreamSynchronize(st));
      auto hP = download<float>(P.as<float>(), P.bytes() / 4);
      auto hQ = download<float>(Q.as<float>(), Q.bytes() / 4);
      std::vector<double> out, ref;
      for (int s = 0; s < S; ++s)
        for (int h = 0; h < kvh; ++h) {
          std::vector<double> E(static_cast<size_t>(kGearR) * kHeadDim), Pm(kGearR * rank), Qm(kHeadDim * rank);
          for (int t = 0; t < kGearR; ++t)
            for (int g = 0; g < kGroupsPerRow; ++g) {
              const half* xr = x.data() + ((static_cast<size_t>(s) * kGearR + t) * kvh + h) * kHeadDim + g * kQGroup;
              float mn = INFINITY, mx = -INFINITY;
              for (int e = 0; e < kQGroup; ++e) {
                mn = std::min(mn, __half2float(xr[e]));
                mx = std::max(mx, __half2float(xr[e]));
              }
              half sh, zh;
              quant_params(mn, mx, kGearBits, sh, zh);
              for (int e = 0; e < kQGroup; ++e) {
                const float v = __half2float(xr[e]);
                E[static_cast<size_t>(t) * kHeadDim + g * kQGroup + e] =
                    v - std::fma(static_cast<float>(quant_code(v, sh, zh, kGearBits)), __half2float(sh), __half2float(zh));
              }
            }
          for (int i = 0; i < kHeadDim * rank; ++i) Qm[i] = gear_q0(i / rank, i % rank);
          for (int loop = 0; loop < kGearLoops; ++loop) {
            for (int r = 0; r < kGearR; ++r)
              for (int c = 0; c < rank; ++c) {
                double a = 0;
                for (int d = 0; d < kHeadDim; ++d) a += E[static_cast<size_t>(r) * kHeadDim + d] * Qm[d * rank + c];
                Pm[r * rank + c] = a;
              }
            for (int c = 0; c < rank; ++c) {
              for (int c2 = 0; c2 < c; ++c2) {
                double dot = 0;
                for (int r = 0; r < kGearR; ++r) dot += Pm[r * rank + c] * Pm[r * rank + c2];
                for (int r = 0; r < kGearR; ++r) Pm[r * rank + c] -= dot * Pm[r * rank + c2];
              }
              double nrm = 0;
              for (int r = 0; r < kGearR; ++r) nrm += Pm[r * rank + c] * Pm[r * rank + c];
              for (int r = 0; r < kGearR; ++r) Pm[r * rank + c] /= std::sqrt(nrm);
            }
            for (int d = 0; d < kHeadDim; ++d)
              for (int c = 0; c < rank; ++c) {
                double a = 0;
                for (int r = 0; r < kGearR; ++r) a += E[static_cast<size_t>(r) * kHeadDim + d] * Pm[r * rank + c];
                Qm[d * rank + c] = a;
              }
          }
          const size_t base = static_cast<size_t>(s) * kvh + h;
          for (int r = 0; r < kGearR; ++r)
            for (int d = 0; d < kHeadDim; ++d) {
              double a = 0, b = 0;
              for (int c = 0; c < rank; ++c) {
                a += Pm[r * rank + c] * Qm[d * rank + c];
                b += static_cast<double>(hP[base * kGearR * rank + r * rank + c]) * hQ[base * kHeadDim * rank + d * rank + c];
              }
              ref.push_back(a);
              out.push_back(b);
            }
        }
      require_close("compression", "gear_lowrank/r" + std::to_string(rank) + "_reconstruction", out, ref, 2e-3);
    }
    const int k = kGearR * kHeadDim * 2 / 100;
    DevBuf didx(static_cast<size_t>(S) * kvh * k * 4), dval(static_cast<size_t>(S) * kvh * k * 2);
    gear_outliers_kernel<<<dim3(kvh, S), 512, 0, st>>>(dx.as<half>(), kvh, k, didx.as<int>(), dval.as<half>());
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    auto gi = download<int>(didx.as<int>(), static_cast<size_t>(S) * kvh * k);
    auto gv = download<half>(dval.as<half>(), static_cast<size_t>(S) * kvh * k);
    double badv = 0;
    for (int s = 0; s < S; ++s)
      for (int h = 0; h < kvh; ++h) {
        std::vector<float> mags(static_cast<size_t>(kGearR) * kHeadDim);
        for (int t = 0; t < kGearR; ++t)
          for (int d = 0; d < kHeadDim; ++d)
            mags[static_cast<size_t>(t) * kHeadDim + d] =
                std::fabs(__half2float(x[((static_cast<size_t>(s) * kGearR + t) * kvh + h) * kHeadDim + d]));
        const int* ids = gi.data() + (static_cast<size_t>(s) * kvh + h) * k;
        check_topk_selection("gear_outliers/s" + std::to_string(s) + "h" + std::to_string(h), mags, ids, k);
        for (int i = 0; i < k; ++i) {
          const int e = ids[i];
          const half want = x[((static_cast<size_t>(s) * kGearR + e / kHeadDim) * kvh + h) * kHeadDim + e % kHeadDim];
          badv += __half2float(gv[(static_cast<size_t>(s) * kvh + h) * k + i]) != __half2float(want);
        }
      }
    require(badv == 0, "compression", "gear_outliers/values", "mismatched_values", badv, 0);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
void run_compression(Ctx& ctx, std::string& grid) {
  const ModelShape& m = ctx.shape;
  if (m.head_dim != kHeadDim) die("compression kernels are built for head_dim 128");
  logf("[compression] checks\n");
  check_compression(ctx);

  const int kvh = m.kv_heads, G = m.group(), qh = m.q_heads;
  const bool dry = ctx.dry(), quick = ctx.quick();
  Table tab("compression", {"op", "format", "tokens", "context", "budget", "batch", "heads"}, {"bytes", "gbps"});
  cudaStream_t st = ctx.stream;
  auto add = [&](const std::string& op, const std::string& fmt, long long tokens, long long context, long long budget,
                 long long batch, double bytes, const Stats& s) {
    const double gbps = bytes / (s.median * 1e-6) / 1e9;
    tab.add({op, fmt, fmti(tokens), fmti(context), fmti(budget), fmti(batch), fmti(kvh)}, s, {fmtd(bytes, 0), fmtd(gbps, 1)});
    logf("[compression] %-15s %-8s tokens=%-7lld ctx=%-6lld budget=%-5lld batch=%-4lld %10.2f us %7.1f GB/s\n", op.c_str(),
         fmt.c_str(), tokens, context, budget, batch, s.median, gbps);
  };

  // quant_write
  std::vector<long long> Ts = dry ? std::vector<long long>{5}
                                  : quick ? std::vector<long long>{1, 64, 1024, 8192}
                                          : std::vector<long long>{1, 4, 16, 64, 256, 1024, 4096, 8192};
  for (KvFmt f : {KvFmt::FP16, KvFmt::FP8, KvFmt::INT8, KvFmt::INT4, KvFmt::INT2}) {
    for (long long T64 : Ts) {
      const int T = static_cast<int>(T64);
      const int nblocks = (T + kBlockSize - 1) / kBlockSize;
      const size_t rows = static_cast<size_t>(nblocks) * kvh * kBlockSize;
      const size_t in_b = static_cast<size_t>(T) * kvh * kHeadDim * 2, code_b = rows * code_row_bytes(f),
                   par_b = rows * param_row_bytes(f);
      const int nsets = ctx.sets_for(2 * (in_b + code_b + par_b));
      DevBuf dk(in_b * nsets), dv(in_b * nsets), kc(code_b * nsets), vc(code_b * nsets), kp(par_b * nsets), vp(par_b * nsets);
      fill_half(dk.as<half>(), dk.bytes() / 2, 51, -2.f, 2.f, st);
      fill_half(dv.as<half>(), dv.bytes() / 2, 52, -2.f, 2.f, st);
      std::vector<int> slots(static_cast<size_t>(nblocks) * kBlockSize);
      std::iota(slots.begin(), slots.end(), 0);
      HostRng rng(T);
      for (size_t i = slots.size(); i > 1; --i) std::swap(slots[i - 1], slots[rng.next() % i]);
      slots.resize(T);
      DevBuf ds = upload(slots);
      auto enqueue = [&](int i, cudaStream_t s) {
        QuantWriteArgs a{dk.as<half>() + in_b / 2 * i, dv.as<half>() + in_b / 2 * i, ds.as<int>(), T, kvh,
                         kc.as<uint8_t>() + code_b * i, vc.as<uint8_t>() + code_b * i, kp.as<uint8_t>() + par_b * i,
                         vp.as<uint8_t>() + par_b * i};
        launch_quant_write(f, a, s);
      };
      Stats s = ctx.time(enqueue, nsets);
      add("quant_write", fmt_name(f), T, 0, 0, T, 2.0 * T * kvh * (kHeadDim * 2 + token_head_bytes(f)), s);
    }
  }

  // KIVI key flush
  std::vector<long long> seqs = dry ? std::vector<long long>{2}
                                    : quick ? std::vector<long long>{1, 64} : std::vector<long long>{1, 8, 64, 256};
  for (int B : {2, 4}) {
    for (long long S64 : seqs) {
      const int S = static_cast<int>(S64);
      const size_t in_b = static_cast<size_t>(S) * kKiviR * kvh * kHeadDim * 2;
      const size_t nch = static_cast<size_t>(S) * kvh * kHeadDim;
      const size_t code_b = nch * kKiviR * B / 8, par_b = nch * (kKiviR / kQGroup) * 4;
      const int nsets = ctx.sets_for(in_b + code_b + par_b);
      DevBuf dx(in_b * nsets), codes(code_b * nsets), params(par_b * nsets);
      fill_half(dx.as<half>(), dx.bytes() / 2, 53, -2.f, 2.f, st);
      auto enqueue = [&](int i, cudaStream_t s) {
        const half* x = dx.as<half>() + in_b / 2 * i;
        uint8_t* c = codes.as<uint8_t>() + code_b * i;
        half2* p = reinterpret_cast<half2*>(params.as<uint8_t>() + par_b * i);
        if (B == 2) kivi_key_flush_kernel<2><<<dim3(kvh, S), 128, 0, s>>>(x, kvh, c, p);
        else kivi_key_flush_kernel<4><<<dim3(kvh, S), 128, 0, s>>>(x, kvh, c, p);
        CK_LAUNCH();
      };
      Stats s = ctx.time(enqueue, nsets);
      add("kivi_key_flush", B == 2 ? "int2" : "int4", static_cast<long long>(S) * kKiviR, 0, 0, S,
          static_cast<double>(in_b + code_b + par_b), s);
    }
  }

  // H2O accumulate and top-k
  std::vector<long long> hb = dry ? std::vector<long long>{1} : quick ? std::vector<long long>{1, 64} : std::vector<long long>{1, 2, 4, 8, 16, 32, 64};
  std::vector<long long> hc = dry ? std::vector<long long>{2000}
                                  : quick ? std::vector<long long>{1024, 32768}
                                          : std::vector<long long>{1024, 2048, 4096, 8192, 16384, 32768};
  const int h2o_budget = dry ? 100 : 512;
  for (long long B64 : hb) {
    for (long long c64 : hc) {
      const int B = static_cast<int>(B64), c = static_cast<int>(c64);
      const size_t pb = static_cast<size_t>(B) * qh * c * 2, sb = static_cast<size_t>(B) * kvh * c * 4;
      const size_t ib = static_cast<size_t>(B) * kvh * h2o_budget * 4;
      {
        const int nsets = ctx.sets_for(pb + sb);
        DevBuf dp(pb * nsets), dsc(sb * nsets);
        fill_half(dp.as<half>(), dp.bytes() / 2, 54, 0.f, 1e-3f, st);
        fill_float(dsc.as<float>(), dsc.bytes() / 4, 55, 0.f, 1.f, st);
        auto enqueue = [&](int i, cudaStream_t s) {
          h2o_accumulate_kernel<<<grid_for(sb / 16, ctx.dev.sm_count), 256, 0, s>>>(
              dp.as<half>() + pb / 2 * i, dsc.as<float>() + sb / 4 * i, B, kvh, G, c);
          CK_LAUNCH();
        };
        Stats s = ctx.time(enqueue, nsets);
        add("h2o_accumulate", "fp16", static_cast<long long>(B) * c, c, 0, B, static_cast<double>(pb + 2 * sb), s);
      }
      {
        const int nsets = ctx.sets_for(sb + ib);
        DevBuf dsc(sb * nsets), didx(ib * nsets);
        fill_float(dsc.as<float>(), dsc.bytes() / 4, 56, 0.f, 1.f, st);
        auto enqueue = [&](int i, cudaStream_t s) {
          topk_rows_kernel<<<B * kvh, 1024, 0, s>>>(dsc.as<float>() + sb / 4 * i, c, c, h2o_budget, didx.as<int>() + ib / 4 * i);
          CK_LAUNCH();
        };
        Stats s = ctx.time(enqueue, nsets);
        add("h2o_topk", "fp32", static_cast<long long>(B) * c, c, h2o_budget, B, static_cast<double>(sb + ib), s);
      }
    }
  }

  // SnapKV selection (one sequence at prefill)
  std::vector<long long> sc = dry ? std::vector<long long>{600}
                                  : quick ? std::vector<long long>{2048, 32768}
                                          : std::vector<long long>{1024, 2048, 4096, 8192, 16384, 32768};
  const int snap_budget = dry ? 128 : 1024;
  for (long long c64 : sc) {
    const int c = static_cast<int>(c64), n = c - kSnapW, k = snap_budget - kSnapW;
    const size_t qb = static_cast<size_t>(qh) * kSnapW * kHeadDim * 2, kb = static_cast<size_t>(kvh) * c * kHeadDim * 2;
    const size_t Sb = static_cast<size_t>(qh) * kSnapW * c * 4;
    const int nsets = ctx.sets_for(qb + kb + Sb);
    DevBuf dq(qb * nsets), dk(kb * nsets), S(Sb), stats(static_cast<size_t>(qh) * kSnapW * 8);
    DevBuf vote(static_cast<size_t>(kvh) * n * 4), pooled(vote.bytes()), idx(static_cast<size_t>(kvh) * k * 4);
    fill_half(dq.as<half>(), dq.bytes() / 2, 57, -1.f, 1.f, st);
    fill_half(dk.as<half>(), dk.bytes() / 2, 58, -1.f, 1.f, st);
    const float scale = 1.f / std::sqrt(static_cast<float>(kHeadDim)), zero = 0.f;
    auto enqueue = [&](int i, cudaStream_t s) {
      CKB(cublasSetStream(ctx.blas, s));
      CKB(cublasGemmStridedBatchedEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, c, G * kSnapW, kHeadDim, &scale,
                                     dk.as<uint8_t>() + kb * i, CUDA_R_16F, kHeadDim, static_cast<long long>(c) * kHeadDim,
                                     dq.as<uint8_t>() + qb * i, CUDA_R_16F, kHeadDim,
                                     static_cast<long long>(G) * kSnapW * kHeadDim, &zero, S.get(), CUDA_R_32F, c,
                                     static_cast<long long>(G) * kSnapW * c, kvh, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      snap_row_stats_kernel<<<qh * kSnapW, 256, 0, s>>>(S.as<float>(), c, stats.as<float2>());
      snap_vote_kernel<<<grid_for(static_cast<size_t>(kvh) * n, ctx.dev.sm_count), 256, 0, s>>>(
          S.as<float>(), stats.as<float2>(), kvh, G, c, vote.as<float>());
      snap_pool_kernel<<<grid_for(static_cast<size_t>(kvh) * n, ctx.dev.sm_count), 256, 0, s>>>(vote.as<float>(), kvh, n,
                                                                                                 pooled.as<float>());
      topk_rows_kernel<<<kvh, 1024, 0, s>>>(pooled.as<float>(), n, n, k, idx.as<int>());
      CK_LAUNCH();
    };
    Stats s = ctx.time(enqueue, nsets);
    add("snapkv_select", "fp16", kSnapW, c, snap_budget, 1, static_cast<double>(qb + kb), s);
  }

  // Compaction
  std::vector<long long> cbatch = dry ? std::vector<long long>{1} : quick ? std::vector<long long>{16} : std::vector<long long>{1, 16, 64};
  std::vector<long long> cbud = dry ? std::vector<long long>{32} : quick ? std::vector<long long>{512} : std::vector<long long>{512, 2048};
  const int cctx = dry ? 100 : 8192;
  for (KvFmt f : {KvFmt::FP16, KvFmt::INT8, KvFmt::INT4, KvFmt::INT2}) {
    for (long long B64 : cbatch) {
      for (long long bud64 : cbud) {
        const int B = static_cast<int>(B64), budget = static_cast<int>(bud64);
        const int cb = code_row_bytes(f), pb = param_row_bytes(f), pbs = std::max(pb, 16);
        const int sbk = (cctx + kBlockSize - 1) / kBlockSize, dbk = (budget + kBlockSize - 1) / kBlockSize;
        const size_t srows = static_cast<size_t>(B) * sbk * kvh * kBlockSize, drows = static_cast<size_t>(B) * dbk * kvh * kBlockSize;
        const size_t set_b = 2 * srows * (cb + pb) + 2 * drows * (cb + pb);
        const int nsets = ctx.sets_for(set_b);
        DevBuf skc(srows * cb * nsets), svc(srows * cb * nsets), skp(srows * pbs * nsets), svp(srows * pbs * nsets);
        DevBuf dkc(drows * cb * nsets), dvc(drows * cb * nsets), dkp(drows * pbs * nsets), dvp(drows * pbs * nsets);
        fill_bytes(skc.get(), skc.bytes(), 60, st);
        fill_bytes(svc.get(), svc.bytes(), 61, st);
        std::vector<int> sbt(static_cast<size_t>(B) * sbk), dbt(static_cast<size_t>(B) * dbk);
        std::iota(sbt.begin(), sbt.end(), 0);
        std::iota(dbt.begin(), dbt.end(), 0);
        HostRng rng(B * 31 + budget);
        for (size_t i = sbt.size(); i > 1; --i) std::swap(sbt[i - 1], sbt[rng.next() % i]);
        std::vector<int> keep(static_cast<size_t>(B) * kvh * budget);
        for (size_t r = 0; r < keep.size() / budget; ++r)  // sorted distinct positions, one per stride
          for (int j = 0; j < budget; ++j)
            keep[r * budget + j] = static_cast<int>(static_cast<long long>(j) * cctx / budget) + rng.uniform_int(0, cctx / budget - 1);
        DevBuf dsbt = upload(sbt), ddbt = upload(dbt), dkeep = upload(keep);
        auto enqueue = [&](int i, cudaStream_t s) {
          compact_kernel<<<grid_for(static_cast<size_t>(B) * kvh * budget * 32, ctx.dev.sm_count), 256, 0, s>>>(
              skc.as<uint8_t>() + srows * cb * i, svc.as<uint8_t>() + srows * cb * i, skp.as<uint8_t>() + srows * pbs * i,
              svp.as<uint8_t>() + srows * pbs * i, dkc.as<uint8_t>() + drows * cb * i, dvc.as<uint8_t>() + drows * cb * i,
              dkp.as<uint8_t>() + drows * pbs * i, dvp.as<uint8_t>() + drows * pbs * i, dkeep.as<int>(), dsbt.as<int>(), sbk,
              ddbt.as<int>(), dbk, B, kvh, budget, cb, pb);
          CK_LAUNCH();
        };
        Stats s = ctx.time(enqueue, nsets);
        add("compact", fmt_name(f), static_cast<long long>(B) * budget, cctx, budget, B,
            4.0 * B * kvh * budget * token_head_bytes(f), s);
      }
    }
  }

  // GEAR
  std::vector<long long> gs = dry ? std::vector<long long>{2} : quick ? std::vector<long long>{8} : std::vector<long long>{1, 8, 64, 256};
  for (long long S64 : gs) {
    const int S = static_cast<int>(S64);
    const size_t xb = static_cast<size_t>(S) * kGearR * kvh * kHeadDim * 2;
    for (int rank : {2, 4}) {
      const size_t Pb = static_cast<size_t>(S) * kvh * kGearR * rank * 4, Qb = static_cast<size_t>(S) * kvh * kHeadDim * rank * 4;
      const int nsets = ctx.sets_for(xb + Pb + Qb);
      DevBuf dx(xb * nsets), P(Pb * nsets), Q(Qb * nsets);
      fill_half(dx.as<half>(), dx.bytes() / 2, 62, -2.f, 2.f, st);
      auto enqueue = [&](int i, cudaStream_t s) {
        const half* x = dx.as<half>() + xb / 2 * i;
        float* p = P.as<float>() + Pb / 4 * i;
        float* q = Q.as<float>() + Qb / 4 * i;
        if (rank == 2) gear_lowrank_kernel<2><<<dim3(kvh, S), 256, 0, s>>>(x, kvh, p, q);
        else gear_lowrank_kernel<4><<<dim3(kvh, S), 256, 0, s>>>(x, kvh, p, q);
        CK_LAUNCH();
      };
      Stats s = ctx.time(enqueue, nsets);
      add("gear_lowrank", "rank" + std::to_string(rank), static_cast<long long>(S) * kGearR, 0, 0, S,
          static_cast<double>(xb + Pb + Qb), s);
    }
    {
      const int k = kGearR * kHeadDim * 2 / 100;
      const size_t ib = static_cast<size_t>(S) * kvh * k * 4, vb = static_cast<size_t>(S) * kvh * k * 2;
      const int nsets = ctx.sets_for(xb + ib + vb);
      DevBuf dx(xb * nsets), di(ib * nsets), dvv(vb * nsets);
      fill_half(dx.as<half>(), dx.bytes() / 2, 63, -2.f, 2.f, st);
      auto enqueue = [&](int i, cudaStream_t s) {
        gear_outliers_kernel<<<dim3(kvh, S), 512, 0, s>>>(dx.as<half>() + xb / 2 * i, kvh, k, di.as<int>() + ib / 4 * i,
                                                          dvv.as<half>() + vb / 2 * i);
        CK_LAUNCH();
      };
      Stats s = ctx.time(enqueue, nsets);
      add("gear_outliers", "top2pct", static_cast<long long>(S) * kGearR, 0, k, S, static_cast<double>(xb + ib + vb), s);
    }
  }
  tab.write(ctx.opt.out_dir);
  grid = "{\"quant_write_tokens\":" + json_int_list(Ts) + ",\"kivi_sequences\":" + json_int_list(seqs) +
         ",\"h2o_batch\":" + json_int_list(hb) + ",\"h2o_context\":" + json_int_list(hc) +
         ",\"h2o_budget\":" + std::to_string(h2o_budget) + ",\"snapkv_context\":" + json_int_list(sc) +
         ",\"snapkv_budget\":" + std::to_string(snap_budget) + ",\"snapkv_window\":32,\"compact_batch\":" +
         json_int_list(cbatch) + ",\"compact_budget\":" + json_int_list(cbud) + ",\"compact_context\":" + std::to_string(cctx) +
         ",\"gear_sequences\":" + json_int_list(gs) + ",\"gear_chunk\":64,\"gear_ranks\":[2,4],\"gear_outlier_pct\":2}";
}

}  // namespace kvcal
