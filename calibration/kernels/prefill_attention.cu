// Prefill (chunked) attention for one sequence: P new tokens attend causally to C cached tokens
// plus themselves (GQA, head_dim 128, fp16 in/out, fp32 softmax).
//
// "flash": FlashAttention-2-style tiled kernel. CTA = 4 warps = 64 query rows of one head; keys
// and values stream through shared memory in 64-row tiles (cp.async, XOR-swizzled rows), Q.K^T
// and P.V on tensor cores with mma.sync m16n8k16 (fp16 in, fp32 accumulate), online softmax in
// registers. This is an sm_80-class design (no wgmma/TMA), so it is slower than FlashAttention-3
// on Hopper; see README.
// "materialized": the eager path H2O-style methods need: S = Q.K^T into a [q_heads, P, C+P] fp16
// buffer (cuBLAS strided-batched GEMM, one batch per KV head with the G query heads stacked),
// a causal softmax kernel writing fp16 probabilities in place, then O = P.V (cuBLAS).
#include <cmath>

#include "device_util.cuh"
#include "families.cuh"

namespace kvcal {
namespace {

constexpr int kD = 128;
constexpr int kBM = 64, kBN = 64;
constexpr int kFaThreads = 128;
constexpr int kFaSmem = 3 * 64 * kD * 2;  // Q, K, V tiles: 48 KiB
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ int swz(int row, int chunk) { return row * kD + ((chunk ^ (row & 7)) << 3); }

// Load a 64 x 128 fp16 tile: rows [row0, row0+64) of a matrix with `stride` halves between rows;
// rows >= nrows are zero-filled.
__device__ __forceinline__ void load_tile(half* dst, const half* src, int stride, int row0, int nrows, int tid) {
#pragma unroll
  for (int i = 0; i < (64 * 16) / kFaThreads; ++i) {
    const int idx = tid + i * kFaThreads;
    const int r = idx >> 4, c = idx & 15;
    const bool valid = row0 + r < nrows;
    const half* g = valid ? src + static_cast<size_t>(row0 + r) * stride + c * 8 : src;
    cp_async16_zfill(dst + swz(r, c), g, valid);
  }
}

__global__ void __launch_bounds__(kFaThreads) flash_prefill_kernel(const half* __restrict__ Q, const half* __restrict__ K,
                                                                   const half* __restrict__ V, half* __restrict__ O, int P,
                                                                   int C, int qh, int kvh, float scale_log2) {
  extern __shared__ __align__(128) half fsm[];
  half* Qs = fsm;
  half* Ks = fsm + 64 * kD;
  half* Vs = Ks + 64 * kD;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int mb = gridDim.x - 1 - blockIdx.x;  // heaviest (last) query tiles first
  const int h = blockIdx.y;
  const int kh = h / (qh / kvh);
  const int q0 = mb * kBM;
  const int total_k = C + P;
  const int q_last = min(q0 + kBM - 1, P - 1);
  const int k_end = C + q_last + 1;
  const int nkt = (k_end + kBN - 1) / kBN;
  const half* Qb = Q + static_cast<size_t>(h) * kD;
  const half* Kb = K + static_cast<size_t>(kh) * kD;
  const half* Vb = V + static_cast<size_t>(kh) * kD;

  load_tile(Qs, Qb, qh * kD, q0, P, tid);
  load_tile(Ks, Kb, kvh * kD, 0, total_k, tid);
  cp_async_commit();

  float o[16][4];
#pragma unroll
  for (int i = 0; i < 16; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;
  uint32_t qf[8][4];
  const int row_a = q0 + warp * 16 + (lane >> 2), row_b = row_a + 8;
  const int lim_a = C + row_a, lim_b = C + row_b;

  for (int n = 0; n < nkt; ++n) {
    load_tile(Vs, Vb, kvh * kD, n * kBN, total_k, tid);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (n == 0) {
#pragma unroll
      for (int kk = 0; kk < 8; ++kk) {
        const int mi = lane >> 3;
        const int r = warp * 16 + (mi & 1) * 8 + (lane & 7);
        ldsm_x4(qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3], Qs + swz(r, 2 * kk + (mi >> 1)));
      }
    }
    float s[8][4];
#pragma unroll
    for (int i = 0; i < 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 8; ++kk) {
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        uint32_t b0, b1, b2, b3;
        const int r = np * 16 + (lane >> 4) * 8 + (lane & 7);
        ldsm_x4(b0, b1, b2, b3, Ks + swz(r, 2 * kk + ((lane >> 3) & 1)));
        mma_16816(s[2 * np], qf[kk], b0, b1);
        mma_16816(s[2 * np + 1], qf[kk], b2, b3);
      }
    }
    __syncthreads();  // all warps are done with Ks
    if (n + 1 < nkt) load_tile(Ks, Kb, kvh * kD, (n + 1) * kBN, total_k, tid);
    cp_async_commit();

    // Scale, mask, online softmax (rows row_a and row_b; 4 lanes share a row).
    const int key0 = n * kBN;
    const bool need_mask = (key0 + kBN - 1 > C + q0) || (key0 + kBN > total_k);
    float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float v = s[nt][e] * scale_log2;
        if (need_mask) {
          const int key = key0 + nt * 8 + 2 * (lane & 3) + (e & 1);
          const int lim = e < 2 ? lim_a : lim_b;
          if (key > lim || key >= total_k) v = -INFINITY;
        }
        s[nt][e] = v;
      }
      mx_a = fmaxf(mx_a, fmaxf(s[nt][0], s[nt][1]));
      mx_b = fmaxf(mx_b, fmaxf(s[nt][2], s[nt][3]));
    }
    mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
    mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
    mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
    mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
    const float mn_a = fmaxf(m_a, mx_a), mn_b = fmaxf(m_b, mx_b);  // finite: key 0 is valid for every row
    const float al_a = exp2f(m_a - mn_a), al_b = exp2f(m_b - mn_b);
    m_a = mn_a;
    m_b = mn_b;
    float sum_a = 0.f, sum_b = 0.f;
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      s[nt][0] = exp2f(s[nt][0] - mn_a);
      s[nt][1] = exp2f(s[nt][1] - mn_a);
      s[nt][2] = exp2f(s[nt][2] - mn_b);
      s[nt][3] = exp2f(s[nt][3] - mn_b);
      sum_a += s[nt][0] + s[nt][1];
      sum_b += s[nt][2] + s[nt][3];
    }
    l_a = l_a * al_a + sum_a;
    l_b = l_b * al_b + sum_b;
#pragma unroll
    for (int dt = 0; dt < 16; ++dt) {
      o[dt][0] *= al_a;
      o[dt][1] *= al_a;
      o[dt][2] *= al_b;
      o[dt][3] *= al_b;
    }

    cp_async_wait<1>();  // V tile n landed (K tile n+1 may still be in flight)
    __syncthreads();
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      uint32_t a[4];
      a[0] = pack_half2(s[2 * j][0], s[2 * j][1]);
      a[1] = pack_half2(s[2 * j][2], s[2 * j][3]);
      a[2] = pack_half2(s[2 * j + 1][0], s[2 * j + 1][1]);
      a[3] = pack_half2(s[2 * j + 1][2], s[2 * j + 1][3]);
#pragma unroll
      for (int dp = 0; dp < 8; ++dp) {
        uint32_t b0, b1, b2, b3;
        const int r = 16 * j + ((lane >> 3) & 1) * 8 + (lane & 7);
        ldsm_x4_trans(b0, b1, b2, b3, Vs + swz(r, 2 * dp + (lane >> 4)));
        mma_16816(o[2 * dp], a, b0, b1);
        mma_16816(o[2 * dp + 1], a, b2, b3);
      }
    }
    __syncthreads();  // all warps are done with Vs
  }
  cp_async_wait<0>();

  l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
  const float inv_a = 1.f / l_a, inv_b = 1.f / l_b;
#pragma unroll
  for (int dt = 0; dt < 16; ++dt) {
    const int d = dt * 8 + 2 * (lane & 3);
    if (row_a < P)
      *reinterpret_cast<half2*>(O + (static_cast<size_t>(row_a) * qh + h) * kD + d) =
          __floats2half2_rn(o[dt][0] * inv_a, o[dt][1] * inv_a);
    if (row_b < P)
      *reinterpret_cast<half2*>(O + (static_cast<size_t>(row_b) * qh + h) * kD + d) =
          __floats2half2_rn(o[dt][2] * inv_b, o[dt][3] * inv_b);
  }
}

// Causal softmax over rows of S [qh][P][Tk] (fp16, already scaled), in place; one CTA per row.
__global__ void __launch_bounds__(256) causal_softmax_kernel(half* S, int P, int C, int Tk) {
  __shared__ float red[32];
  const size_t row = blockIdx.x;
  const int i = static_cast<int>(row % P);
  const int valid = min(Tk, C + i + 1);
  half* r = S + row * Tk;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < valid; j += blockDim.x) mx = fmaxf(mx, __half2float(r[j]));
  mx = block_max(mx, red);
  float sum = 0.f;
  for (int j = threadIdx.x; j < valid; j += blockDim.x) sum += __expf(__half2float(r[j]) - mx);
  sum = block_sum(sum, red);
  const float inv = 1.f / sum;
  for (int j = threadIdx.x; j < Tk; j += blockDim.x)
    r[j] = j < valid ? __float2half_rn(__expf(__half2float(r[j]) - mx) * inv) : __float2half_rn(0.f);
}

struct PrefillBufs {
  const half *q, *k, *v;  // flash: [P][qh][D], [Tk][kvh][D]; materialized: [qh][P][D], [kvh][Tk][D]
  half* o;
  half* s;                // materialized only: [qh][P][Tk]
};

void launch_flash(const PrefillBufs& b, int P, int C, int qh, int kvh, cudaStream_t st) {
  static bool configured = false;
  if (!configured) {
    CK(cudaFuncSetAttribute(flash_prefill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kFaSmem));
    configured = true;
  }
  const float scale_log2 = kLog2e / std::sqrt(static_cast<float>(kD));
  dim3 grid((P + kBM - 1) / kBM, qh);
  flash_prefill_kernel<<<grid, kFaThreads, kFaSmem, st>>>(b.q, b.k, b.v, b.o, P, C, qh, kvh, scale_log2);
  CK_LAUNCH();
}

void launch_materialized(Ctx& ctx, const PrefillBufs& b, int P, int C, int qh, int kvh, cudaStream_t st) {
  const int G = qh / kvh, Tk = C + P;
  const float scale = 1.f / std::sqrt(static_cast<float>(kD)), one = 1.f, zero = 0.f;
  CKB(cublasSetStream(ctx.blas, st));
  // S_g^T (Tk x G*P, col-major) = K_g (op T of [D x Tk]) * Q_g^T ([D x G*P])
  CKB(cublasGemmStridedBatchedEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, Tk, G * P, kD, &scale, b.k, CUDA_R_16F, kD,
                                 static_cast<long long>(Tk) * kD, b.q, CUDA_R_16F, kD, static_cast<long long>(G) * P * kD,
                                 &zero, b.s, CUDA_R_16F, Tk, static_cast<long long>(G) * P * Tk, kvh, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
  causal_softmax_kernel<<<static_cast<unsigned>(qh) * P, 256, 0, st>>>(b.s, P, C, Tk);
  CK_LAUNCH();
  // O_g^T (D x G*P) = V_g^T ([D x Tk]) * P_g^T ([Tk x G*P])
  CKB(cublasGemmStridedBatchedEx(ctx.blas, CUBLAS_OP_N, CUBLAS_OP_N, kD, G * P, Tk, &one, b.v, CUDA_R_16F, kD,
                                 static_cast<long long>(Tk) * kD, b.s, CUDA_R_16F, Tk, static_cast<long long>(G) * P * Tk,
                                 &zero, b.o, CUDA_R_16F, kD, static_cast<long long>(G) * P * kD, kvh, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
}

double prefill_flops(int P, int C, int qh) {
  return 4.0 * kD * qh * (static_cast<double>(P) * C + static_cast<double>(P) * (P + 1) / 2.0);
}

void check_prefill(Ctx& ctx) {
  const int G = ctx.shape.group();
  const int kvh = 2, qh = kvh * G;
  struct Case {
    int P, C;
  };
  for (Case cs : {Case{150, 37}, Case{64, 0}, Case{1, 70}}) {
    const int P = cs.P, C = cs.C, Tk = P + C;
    HostRng rng(P * 7 + C);
    // Logical tensors q[h][i][d], k[kh][j][d], v[kh][j][d].
    std::vector<half> q(static_cast<size_t>(qh) * P * kD), k(static_cast<size_t>(kvh) * Tk * kD), v(k.size());
    for (auto& x : q) x = __float2half(static_cast<float>(rng.uniform(-1, 1)));
    for (auto& x : k) x = __float2half(static_cast<float>(rng.uniform(-1, 1)));
    for (auto& x : v) x = __float2half(static_cast<float>(rng.uniform(-1, 1)));
    std::vector<double> ref(static_cast<size_t>(qh) * P * kD, 0.0);  // [h][i][d]
    const double scale = 1.0 / std::sqrt(static_cast<double>(kD));
    for (int h = 0; h < qh; ++h) {
      const int kh = h / G;
      for (int i = 0; i < P; ++i) {
        const int valid = C + i + 1;
        std::vector<double> sc(valid);
        double mx = -1e300;
        for (int j = 0; j < valid; ++j) {
          double d = 0;
          for (int e = 0; e < kD; ++e)
            d += static_cast<double>(__half2float(q[(static_cast<size_t>(h) * P + i) * kD + e])) *
                 __half2float(k[(static_cast<size_t>(kh) * Tk + j) * kD + e]);
          sc[j] = d * scale;
          mx = std::max(mx, sc[j]);
        }
        double l = 0;
        for (auto& x : sc) l += (x = std::exp(x - mx));
        for (int j = 0; j < valid; ++j)
          for (int e = 0; e < kD; ++e)
            ref[(static_cast<size_t>(h) * P + i) * kD + e] +=
                sc[j] / l * __half2float(v[(static_cast<size_t>(kh) * Tk + j) * kD + e]);
      }
    }
    // flash layout: q [i][h][d], k/v [j][kh][d]
    std::vector<half> qf(q.size()), kf(k.size()), vf(v.size());
    for (int h = 0; h < qh; ++h)
      for (int i = 0; i < P; ++i)
        for (int e = 0; e < kD; ++e)
          qf[(static_cast<size_t>(i) * qh + h) * kD + e] = q[(static_cast<size_t>(h) * P + i) * kD + e];
    for (int kh = 0; kh < kvh; ++kh)
      for (int j = 0; j < Tk; ++j)
        for (int e = 0; e < kD; ++e) {
          kf[(static_cast<size_t>(j) * kvh + kh) * kD + e] = k[(static_cast<size_t>(kh) * Tk + j) * kD + e];
          vf[(static_cast<size_t>(j) * kvh + kh) * kD + e] = v[(static_cast<size_t>(kh) * Tk + j) * kD + e];
        }
    const std::string tag = "/P" + std::to_string(P) + "C" + std::to_string(C) + "G" + std::to_string(G);
    {
      DevBuf dq = upload(qf), dk = upload(kf), dv = upload(vf), dout(q.size() * sizeof(half));
      fill_bytes(dout.get(), dout.bytes(), 5);
      PrefillBufs b{dq.as<half>(), dk.as<half>(), dv.as<half>(), dout.as<half>(), nullptr};
      launch_flash(b, P, C, qh, kvh, ctx.stream);
      CK(cudaStreamSynchronize(ctx.stream));
      auto out = download<half>(dout, q.size());
      std::vector<double> o(out.size());
      for (int h = 0; h < qh; ++h)
        for (int i = 0; i < P; ++i)
          for (int e = 0; e < kD; ++e)
            o[(static_cast<size_t>(h) * P + i) * kD + e] = __half2float(out[(static_cast<size_t>(i) * qh + h) * kD + e]);
      require_close("prefill", "flash" + tag, o, ref, 5e-3);
    }
    {
      DevBuf dq = upload(q), dk = upload(k), dv = upload(v), dout(q.size() * sizeof(half));
      DevBuf ds(static_cast<size_t>(qh) * P * Tk * sizeof(half));
      fill_bytes(dout.get(), dout.bytes(), 6);
      fill_bytes(ds.get(), ds.bytes(), 7);
      PrefillBufs b{dq.as<half>(), dk.as<half>(), dv.as<half>(), dout.as<half>(), ds.as<half>()};
      launch_materialized(ctx, b, P, C, qh, kvh, ctx.stream);
      CK(cudaStreamSynchronize(ctx.stream));
      auto out = download<half>(dout, q.size());
      std::vector<double> o(out.size());
      for (size_t i = 0; i < out.size(); ++i) o[i] = __half2float(out[i]);
      require_close("prefill", "materialized" + tag, o, ref, 1e-2);
    }
  }
}

}  // namespace

void run_prefill_attention(Ctx& ctx, std::string& grid) {
  const ModelShape& m = ctx.shape;
  if (m.head_dim != kD) die("prefill attention is built for head_dim 128");
  logf("[prefill_attention] checks\n");
  check_prefill(ctx);

  std::vector<long long> Ps, Cs;
  if (ctx.dry()) {
    Ps = {100};
    Cs = {30};
  } else if (ctx.quick()) {
    Ps = {512, 4096};
    Cs = {0, 8192};
  } else {
    // Doubling steps in new tokens and at most 4x in cached tokens: a leave-one-out point is
    // then interpolated across one knee at most (an 8x gap from 128 to 1024 crossed the kernel's
    // latency-bound to compute-bound transition and missed by up to 43 %).
    Ps = {128, 256, 512, 1024, 2048, 4096, 8192};
    Cs = {0, 512, 2048, 4096, 8192};
  }
  Table tab("prefill_attention", {"variant", "new_tokens", "cached_tokens", "num_q_heads", "num_kv_heads", "head_dim"},
            {"tflops", "score_buffer_bytes"});
  const int qh = m.q_heads, kvh = m.kv_heads;
  int done = 0;
  const int total = static_cast<int>(Ps.size() * Cs.size() * 2);
  for (const char* variant : {"flash", "materialized"}) {
    const bool flash = variant[0] == 'f';
    for (long long P64 : Ps) {
      for (long long C64 : Cs) {
        ++done;
        const int P = static_cast<int>(P64), C = static_cast<int>(C64), Tk = P + C;
        const size_t qb = static_cast<size_t>(P) * qh * kD * 2, kb = static_cast<size_t>(Tk) * kvh * kD * 2;
        const size_t sb = flash ? 0 : static_cast<size_t>(qh) * P * Tk * 2;
        const size_t set_bytes = 2 * qb + 2 * kb;  // q, o, k, v
        const int nsets = ctx.sets_for(set_bytes + sb);
        DevBuf dq(qb * nsets), dk(kb * nsets), dv(kb * nsets), dout(qb * nsets), ds(sb);
        fill_half(dq.as<half>(), dq.bytes() / 2, 41, -1.f, 1.f, ctx.stream);
        fill_half(dk.as<half>(), dk.bytes() / 2, 42, -1.f, 1.f, ctx.stream);
        fill_half(dv.as<half>(), dv.bytes() / 2, 43, -1.f, 1.f, ctx.stream);
        auto enqueue = [&](int i, cudaStream_t s) {
          PrefillBufs b{dq.as<half>() + qb / 2 * i, dk.as<half>() + kb / 2 * i, dv.as<half>() + kb / 2 * i,
                        dout.as<half>() + qb / 2 * i, ds.as<half>()};
          if (flash) launch_flash(b, P, C, qh, kvh, s);
          else launch_materialized(ctx, b, P, C, qh, kvh, s);
        };
        Stats st = ctx.time(enqueue, nsets);
        const double tflops = prefill_flops(P, C, qh) / (st.median * 1e-6) / 1e12;
        tab.add({variant, fmti(P), fmti(C), fmti(qh), fmti(kvh), fmti(kD)}, st, {fmtd(tflops, 2), fmti(static_cast<long long>(sb))});
        logf("[prefill_attention] %d/%d %-12s P=%-5d C=%-5d %10.2f us %7.1f TFLOP/s\n", done, total, variant, P, C,
             st.median, tflops);
      }
    }
  }
  tab.write(ctx.opt.out_dir);
  grid = "{\"new_tokens\":" + json_int_list(Ps) + ",\"cached_tokens\":" + json_int_list(Cs) +
         ",\"variants\":[\"flash\",\"materialized\"],\"flops\":\"useful causal FLOPs 4*d*q_heads*(P*C+P*(P+1)/2)\"}";
}

}  // namespace kvcal
