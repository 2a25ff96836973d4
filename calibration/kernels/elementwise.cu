// Token-wise kernels of a decoder layer and the sampling softmax, fp16 activations, 16-byte
// vectorized loads and stores:
//   rmsnorm       y = x / rms(x) * w  over the hidden size (eps 1e-5, fp32 math), CTA per row
//   rotary        NeoX-style rotary embedding of q and k in place (rotate halves of head_dim 128)
//                 with an fp32 cos/sin cache indexed by position
//   silu_mul      out = silu(gate) * up from a [rows, 2*ffn] gate_up output
//   residual_add  x += y over the hidden size
//   softmax_vocab fp32 softmax over the full vocabulary (sampling), CTA per row
#include <cmath>

#include "device_util.cuh"
#include "families.cuh"

namespace kvcal {
namespace {

constexpr int kHd = 128;

__device__ __forceinline__ void unpack8(const uint4& u, float (&f)[8]) {
  const half2* h = reinterpret_cast<const half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 t = __half22float2(h[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}
__device__ __forceinline__ uint4 pack8(const float (&f)[8]) {
  uint4 u;
  u.x = pack_half2(f[0], f[1]);
  u.y = pack_half2(f[2], f[3]);
  u.z = pack_half2(f[4], f[5]);
  u.w = pack_half2(f[6], f[7]);
  return u;
}

__global__ void rmsnorm_kernel(const half* __restrict__ x, const half* __restrict__ w, half* __restrict__ y, int h, float eps) {
  __shared__ float red[32];
  const size_t row = blockIdx.x;
  const uint4* xr = reinterpret_cast<const uint4*>(x + row * h);
  float ss = 0.f;
  for (int c = threadIdx.x; c < h / 8; c += blockDim.x) {
    float f[8];
    unpack8(xr[c], f);
#pragma unroll
    for (int i = 0; i < 8; ++i) ss = fmaf(f[i], f[i], ss);
  }
  ss = block_sum(ss, red);
  const float inv = rsqrtf(ss / h + eps);
  uint4* yr = reinterpret_cast<uint4*>(y + row * h);
  const uint4* wr = reinterpret_cast<const uint4*>(w);
  for (int c = threadIdx.x; c < h / 8; c += blockDim.x) {
    float f[8], g[8];
    unpack8(xr[c], f);
    unpack8(wr[c], g);
#pragma unroll
    for (int i = 0; i < 8; ++i) f[i] = f[i] * inv * g[i];
    yr[c] = pack8(f);
  }
}

// One thread per (row, head, 8 rotary pairs): channels [8j, 8j+8) and [64+8j, 64+8j+8).
__global__ void rope_kernel(half* q, half* k, const int* __restrict__ pos, const float* __restrict__ cos_sin, int rows,
                            int qh, int kvh) {
  const int heads = qh + kvh;
  const size_t total = static_cast<size_t>(rows) * heads * 8;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(i % 8);
    const size_t rh = i / 8;
    const int hh = static_cast<int>(rh % heads);
    const int r = static_cast<int>(rh / heads);
    half* base = hh < qh ? q + (static_cast<size_t>(r) * qh + hh) * kHd : k + (static_cast<size_t>(r) * kvh + (hh - qh)) * kHd;
    const float* cs = cos_sin + static_cast<size_t>(pos[r]) * kHd;  // [64 cos | 64 sin]
    uint4* p1 = reinterpret_cast<uint4*>(base + 8 * j);
    uint4* p2 = reinterpret_cast<uint4*>(base + 64 + 8 * j);
    float a[8], b[8];
    unpack8(*p1, a);
    unpack8(*p2, b);
    const float4 c0 = reinterpret_cast<const float4*>(cs + 8 * j)[0], c1 = reinterpret_cast<const float4*>(cs + 8 * j)[1];
    const float4 s0 = reinterpret_cast<const float4*>(cs + 64 + 8 * j)[0], s1 = reinterpret_cast<const float4*>(cs + 64 + 8 * j)[1];
    const float cv[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
    const float sv[8] = {s0.x, s0.y, s0.z, s0.w, s1.x, s1.y, s1.z, s1.w};
    float o1[8], o2[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      o1[e] = a[e] * cv[e] - b[e] * sv[e];
      o2[e] = b[e] * cv[e] + a[e] * sv[e];
    }
    *p1 = pack8(o1);
    *p2 = pack8(o2);
  }
}

__global__ void silu_mul_kernel(const half* __restrict__ gu, half* __restrict__ out, int rows, int ffn) {
  const size_t total = static_cast<size_t>(rows) * (ffn / 8);
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = i / (ffn / 8);
    const int c = static_cast<int>(i % (ffn / 8));
    float g[8], u[8];
    unpack8(reinterpret_cast<const uint4*>(gu + r * 2 * ffn)[c], g);
    unpack8(reinterpret_cast<const uint4*>(gu + r * 2 * ffn + ffn)[c], u);
#pragma unroll
    for (int e = 0; e < 8; ++e) g[e] = g[e] / (1.f + __expf(-g[e])) * u[e];
    reinterpret_cast<uint4*>(out + r * ffn)[c] = pack8(g);
  }
}

__global__ void residual_add_kernel(half* x, const half* __restrict__ y, size_t n8) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n8;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float a[8], b[8];
    unpack8(reinterpret_cast<uint4*>(x)[i], a);
    unpack8(reinterpret_cast<const uint4*>(y)[i], b);
#pragma unroll
    for (int e = 0; e < 8; ++e) a[e] += b[e];
    reinterpret_cast<uint4*>(x)[i] = pack8(a);
  }
}

__global__ void __launch_bounds__(1024) softmax_rows_kernel(const float* __restrict__ logits, float* __restrict__ probs, int V) {
  __shared__ float red[32];
  const size_t row = blockIdx.x;
  const float4* in = reinterpret_cast<const float4*>(logits + row * V);
  float m = -INFINITY, s = 0.f;  // online max / sum per thread
  for (int c = threadIdx.x; c < V / 4; c += blockDim.x) {
    const float4 v = in[c];
    const float mx = fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w));
    const float mn = fmaxf(m, mx);
    s = s * __expf(m - mn) + __expf(v.x - mn) + __expf(v.y - mn) + __expf(v.z - mn) + __expf(v.w - mn);
    m = mn;
  }
  const float M = block_max(m, red);
  const float S = block_sum(m == -INFINITY ? 0.f : s * __expf(m - M), red);
  const float inv = 1.f / S;
  float4* out = reinterpret_cast<float4*>(probs + row * V);
  for (int c = threadIdx.x; c < V / 4; c += blockDim.x) {
    const float4 v = in[c];
    out[c] = make_float4(__expf(v.x - M) * inv, __expf(v.y - M) * inv, __expf(v.z - M) * inv, __expf(v.w - M) * inv);
  }
}

unsigned gs_blocks(size_t threads, int sm) {
  return static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>((threads + 255) / 256, static_cast<size_t>(sm) * 32)));
}
int norm_threads(int h) { return std::min(1024, std::max(32, (h / 8 + 31) / 32 * 32)); }

std::vector<double> to_d(const std::vector<half>& v) {
  std::vector<double> o(v.size());
  for (size_t i = 0; i < v.size(); ++i) o[i] = __half2float(v[i]);
  return o;
}

void check_elementwise(Ctx& ctx) {
  const ModelShape& m = ctx.shape;
  const int rows = 3, h = m.hidden, qh = m.q_heads, kvh = m.kv_heads, ffn = m.ffn, V = m.full_vocab;
  const int sm = ctx.dev.sm_count;
  cudaStream_t st = ctx.stream;
  HostRng rng(17);
  auto rand_half = [&](size_t n, double lo, double hi) {
    std::vector<half> v(n);
    for (auto& e : v) e = __float2half(static_cast<float>(rng.uniform(lo, hi)));
    return v;
  };
  {  // rmsnorm
    auto x = rand_half(static_cast<size_t>(rows) * h, -2, 2), w = rand_half(h, 0.5, 1.5);
    DevBuf dx = upload(x), dw = upload(w), dy(x.size() * 2);
    fill_bytes(dy.get(), dy.bytes(), 3, st);
    rmsnorm_kernel<<<rows, norm_threads(h), 0, st>>>(dx.as<half>(), dw.as<half>(), dy.as<half>(), h, 1e-5f);
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    std::vector<double> ref(x.size());
    for (int r = 0; r < rows; ++r) {
      double ss = 0;
      for (int i = 0; i < h; ++i) ss += std::pow(__half2float(x[static_cast<size_t>(r) * h + i]), 2);
      const double inv = 1.0 / std::sqrt(ss / h + 1e-5);
      for (int i = 0; i < h; ++i)
        ref[static_cast<size_t>(r) * h + i] = __half2float(x[static_cast<size_t>(r) * h + i]) * inv * __half2float(w[i]);
    }
    require_close("elementwise", "rmsnorm", to_d(download<half>(dy, x.size())), ref, 2e-3);
  }
  {  // rope
    const int max_pos = 64;
    auto q = rand_half(static_cast<size_t>(rows) * qh * kHd, -1, 1), k = rand_half(static_cast<size_t>(rows) * kvh * kHd, -1, 1);
    std::vector<int> pos = {5, 0, 63};
    std::vector<float> cs(static_cast<size_t>(max_pos) * kHd);
    for (int p = 0; p < max_pos; ++p)
      for (int i = 0; i < 64; ++i) {
        const double th = p * std::pow(500000.0, -2.0 * i / kHd);
        cs[static_cast<size_t>(p) * kHd + i] = static_cast<float>(std::cos(th));
        cs[static_cast<size_t>(p) * kHd + 64 + i] = static_cast<float>(std::sin(th));
      }
    DevBuf dq = upload(q), dk = upload(k), dp = upload(pos), dcs = upload(cs);
    rope_kernel<<<gs_blocks(static_cast<size_t>(rows) * (qh + kvh) * 8, sm), 256, 0, st>>>(dq.as<half>(), dk.as<half>(), dp.as<int>(),
                                                                                           dcs.as<float>(), rows, qh, kvh);
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    auto rot = [&](const std::vector<half>& x, int heads) {
      std::vector<double> o(x.size());
      for (int r = 0; r < rows; ++r)
        for (int hh = 0; hh < heads; ++hh)
          for (int i = 0; i < 64; ++i) {
            const size_t b = (static_cast<size_t>(r) * heads + hh) * kHd;
            const double c = cs[static_cast<size_t>(pos[r]) * kHd + i], s = cs[static_cast<size_t>(pos[r]) * kHd + 64 + i];
            const double a1 = __half2float(x[b + i]), a2 = __half2float(x[b + 64 + i]);
            o[b + i] = a1 * c - a2 * s;
            o[b + 64 + i] = a2 * c + a1 * s;
          }
      return o;
    };
    require_close("elementwise", "rotary/q", to_d(download<half>(dq, q.size())), rot(q, qh), 2e-3);
    require_close("elementwise", "rotary/k", to_d(download<half>(dk, k.size())), rot(k, kvh), 2e-3);
  }
  {  // silu_mul
    auto gu = rand_half(static_cast<size_t>(rows) * 2 * ffn, -4, 4);
    DevBuf dgu = upload(gu), dout(static_cast<size_t>(rows) * ffn * 2);
    fill_bytes(dout.get(), dout.bytes(), 4, st);
    silu_mul_kernel<<<gs_blocks(static_cast<size_t>(rows) * ffn / 8, sm), 256, 0, st>>>(dgu.as<half>(), dout.as<half>(), rows, ffn);
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    std::vector<double> ref(static_cast<size_t>(rows) * ffn);
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < ffn; ++i) {
        const double g = __half2float(gu[static_cast<size_t>(r) * 2 * ffn + i]), u = __half2float(gu[static_cast<size_t>(r) * 2 * ffn + ffn + i]);
        ref[static_cast<size_t>(r) * ffn + i] = g / (1 + std::exp(-g)) * u;
      }
    require_close("elementwise", "silu_mul", to_d(download<half>(dout, ref.size())), ref, 2e-3);
  }
  {  // residual_add
    auto x = rand_half(static_cast<size_t>(rows) * h, -1, 1), y = rand_half(x.size(), -1, 1);
    DevBuf dx = upload(x), dy = upload(y);
    residual_add_kernel<<<gs_blocks(x.size() / 8, sm), 256, 0, st>>>(dx.as<half>(), dy.as<half>(), x.size() / 8);
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    std::vector<double> ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = static_cast<double>(__half2float(x[i])) + __half2float(y[i]);
    require_close("elementwise", "residual_add", to_d(download<half>(dx, x.size())), ref, 2e-3);
  }
  {  // softmax
    std::vector<float> lg(static_cast<size_t>(rows) * V);
    for (auto& e : lg) e = static_cast<float>(rng.uniform(-10, 10));
    DevBuf dl = upload(lg), dp(lg.size() * 4);
    fill_bytes(dp.get(), dp.bytes(), 5, st);
    softmax_rows_kernel<<<rows, 1024, 0, st>>>(dl.as<float>(), dp.as<float>(), V);
    CK_LAUNCH();
    CK(cudaStreamSynchronize(st));
    std::vector<double> ref(lg.size());
    for (int r = 0; r < rows; ++r) {
      double mx = -1e300, s = 0;
      for (int i = 0; i < V; ++i) mx = std::max(mx, static_cast<double>(lg[static_cast<size_t>(r) * V + i]));
      for (int i = 0; i < V; ++i) s += std::exp(lg[static_cast<size_t>(r) * V + i] - mx);
      for (int i = 0; i < V; ++i) ref[static_cast<size_t>(r) * V + i] = std::exp(lg[static_cast<size_t>(r) * V + i] - mx) / s;
    }
    auto got = download<float>(dp.as<float>(), lg.size());
    require_close("elementwise", "softmax_vocab", std::vector<double>(got.begin(), got.end()), ref, 1e-4);
  }
}

}  // namespace

void run_elementwise(Ctx& ctx, std::string& grid) {
  const ModelShape& m = ctx.shape;
  if (m.head_dim != kHd || m.hidden % 8 || m.ffn % 8 || m.full_vocab % 4) die("elementwise: unsupported shape");
  logf("[elementwise] checks\n");
  check_elementwise(ctx);
  std::vector<long long> rows_tok, rows_smx;
  if (ctx.dry()) {
    rows_tok = {3};
    rows_smx = {3};
  } else if (ctx.quick()) {
    rows_tok = {1, 64, 1024};
    rows_smx = {1, 64, 1024};
  } else {
    rows_tok = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
    rows_smx = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  }
  Table tab("elementwise", {"op", "rows", "width"}, {"bytes", "gbps"});
  const int h = m.hidden, qh = m.q_heads, kvh = m.kv_heads, ffn = m.ffn, V = m.full_vocab, sm = ctx.dev.sm_count;
  cudaStream_t st = ctx.stream;
  auto add = [&](const char* op, long long rows, long long width, double bytes, const Stats& s) {
    const double gbps = bytes / (s.median * 1e-6) / 1e9;
    tab.add({op, fmti(rows), fmti(width)}, s, {fmtd(bytes, 0), fmtd(gbps, 1)});
    logf("[elementwise] %-13s rows=%-6lld width=%-7lld %9.2f us %7.1f GB/s\n", op, rows, width, s.median, gbps);
  };
  const int max_pos = 32768;
  DevBuf cos_sin(static_cast<size_t>(max_pos) * kHd * 4);
  fill_float(cos_sin.as<float>(), static_cast<size_t>(max_pos) * kHd, 70, -1.f, 1.f, st);
  DevBuf w(static_cast<size_t>(h) * 2);
  fill_half(w.as<half>(), h, 71, 0.5f, 1.5f, st);
  for (long long R64 : rows_tok) {
    const int R = static_cast<int>(R64);
    {
      const size_t b = static_cast<size_t>(R) * h * 2;
      const int nsets = ctx.sets_for(2 * b);
      DevBuf x(b * nsets), y(b * nsets);
      fill_half(x.as<half>(), x.bytes() / 2, 72, -2.f, 2.f, st);
      Stats s = ctx.time(
          [&](int i, cudaStream_t s2) {
            rmsnorm_kernel<<<R, norm_threads(h), 0, s2>>>(x.as<half>() + b / 2 * i, w.as<half>(), y.as<half>() + b / 2 * i, h, 1e-5f);
            CK_LAUNCH();
          },
          nsets);
      add("rmsnorm", R, h, 2.0 * b + h * 2, s);
    }
    {
      const size_t qb = static_cast<size_t>(R) * qh * kHd * 2, kb = static_cast<size_t>(R) * kvh * kHd * 2;
      const int nsets = ctx.sets_for(2 * (qb + kb));
      DevBuf q(qb * nsets), k(kb * nsets), pos(static_cast<size_t>(R) * 4);
      fill_half(q.as<half>(), q.bytes() / 2, 73, -1.f, 1.f, st);
      fill_half(k.as<half>(), k.bytes() / 2, 74, -1.f, 1.f, st);
      fill_int(pos.as<int>(), R, 75, 0, max_pos - 1, st);
      Stats s = ctx.time(
          [&](int i, cudaStream_t s2) {
            rope_kernel<<<gs_blocks(static_cast<size_t>(R) * (qh + kvh) * 8, sm), 256, 0, s2>>>(
                q.as<half>() + qb / 2 * i, k.as<half>() + kb / 2 * i, pos.as<int>(), cos_sin.as<float>(), R, qh, kvh);
            CK_LAUNCH();
          },
          nsets);
      add("rotary", R, static_cast<long long>(qh + kvh) * kHd, 2.0 * (qb + kb) + static_cast<double>(R) * kHd * 4, s);
    }
    {
      const size_t ib = static_cast<size_t>(R) * 2 * ffn * 2, ob = static_cast<size_t>(R) * ffn * 2;
      const int nsets = ctx.sets_for(ib + ob);
      DevBuf gu(ib * nsets), out(ob * nsets);
      fill_half(gu.as<half>(), gu.bytes() / 2, 76, -4.f, 4.f, st);
      Stats s = ctx.time(
          [&](int i, cudaStream_t s2) {
            silu_mul_kernel<<<gs_blocks(static_cast<size_t>(R) * ffn / 8, sm), 256, 0, s2>>>(gu.as<half>() + ib / 2 * i,
                                                                                            out.as<half>() + ob / 2 * i, R, ffn);
            CK_LAUNCH();
          },
          nsets);
      add("silu_mul", R, ffn, static_cast<double>(ib + ob), s);
    }
    {
      const size_t b = static_cast<size_t>(R) * h * 2;
      const int nsets = ctx.sets_for(2 * b);
      DevBuf x(b * nsets), y(b * nsets);
      fill_half(x.as<half>(), x.bytes() / 2, 77, -1.f, 1.f, st);
      fill_half(y.as<half>(), y.bytes() / 2, 78, -1e-3f, 1e-3f, st);
      Stats s = ctx.time(
          [&](int i, cudaStream_t s2) {
            residual_add_kernel<<<gs_blocks(b / 16, sm), 256, 0, s2>>>(x.as<half>() + b / 2 * i, y.as<half>() + b / 2 * i, b / 16);
            CK_LAUNCH();
          },
          nsets);
      add("residual_add", R, h, 3.0 * b, s);
    }
  }
  for (long long R64 : rows_smx) {
    const int R = static_cast<int>(R64);
    const size_t b = static_cast<size_t>(R) * V * 4;
    const int nsets = ctx.sets_for(2 * b);
    DevBuf lg(b * nsets), pr(b * nsets);
    fill_float(lg.as<float>(), lg.bytes() / 4, 79, -10.f, 10.f, st);
    Stats s = ctx.time(
        [&](int i, cudaStream_t s2) {
          softmax_rows_kernel<<<R, 1024, 0, s2>>>(lg.as<float>() + b / 4 * i, pr.as<float>() + b / 4 * i, V);
          CK_LAUNCH();
        },
        nsets);
    add("softmax_vocab", R, V, 2.0 * b, s);
  }
  tab.write(ctx.opt.out_dir);
  grid = "{\"rows\":" + json_int_list(rows_tok) + ",\"softmax_rows\":" + json_int_list(rows_smx) +
         ",\"ops\":[\"rmsnorm\",\"rotary\",\"silu_mul\",\"residual_add\",\"softmax_vocab\"]}";
}

}  // namespace kvcal
