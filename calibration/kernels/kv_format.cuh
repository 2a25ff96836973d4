// KV-cache storage formats used by the decode-attention and compression kernels.
//
// Paged layout (per layer, K and V each): codes [num_blocks][kv_heads][kBlockSize][code_row_bytes]
// and, for the integer formats, params [num_blocks][kv_heads][kBlockSize][kGroupsPerRow] half2.
//
//   fp16 : 2 bytes/element, no parameters.
//   fp8  : e4m3, 1 byte/element, one fp32 scale per tensor (k_scale, v_scale), x = scale * fp8.
//   intB : B in {8,4,2}. Asymmetric, per token, groups of kQGroup=32 consecutive head_dim
//          channels. Each group stores half2 (scale, zero) with zero = group minimum and
//          scale = (max - min) / (2^B - 1); x ~= code * scale + zero, code in [0, 2^B-1].
//          Codes are packed little-endian within a byte: element e of the row lives in byte
//          e*B/8 at bit (e % (8/B)) * B.
//   Bytes per token per KV head (K or V), head_dim 128: fp16 256, fp8 128, int8 144, int4 80,
//   int2 48.
#pragma once

#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cmath>
#include <cstdint>

#include "device_util.cuh"

namespace kvcal {

enum class KvFmt : int { FP16 = 0, FP8 = 1, INT8 = 2, INT4 = 3, INT2 = 4 };

constexpr int kHeadDim = 128;
constexpr int kBlockSize = 16;
constexpr int kQGroup = 32;
constexpr int kGroupsPerRow = kHeadDim / kQGroup;    // 4
constexpr int kParamRowBytes = kGroupsPerRow * 4;    // half2 per group -> 16 bytes

__host__ __device__ constexpr int fmt_bits(KvFmt f) {
  return f == KvFmt::FP16 ? 16 : f == KvFmt::FP8 ? 8 : f == KvFmt::INT8 ? 8 : f == KvFmt::INT4 ? 4 : 2;
}
__host__ __device__ constexpr bool fmt_has_params(KvFmt f) { return static_cast<int>(f) >= 2; }
__host__ __device__ constexpr bool fmt_is_int(KvFmt f) { return static_cast<int>(f) >= 2; }
__host__ __device__ constexpr int code_row_bytes(KvFmt f) { return kHeadDim * fmt_bits(f) / 8; }
__host__ __device__ constexpr int param_row_bytes(KvFmt f) { return fmt_has_params(f) ? kParamRowBytes : 0; }
// Bytes per token per KV head for K (or V): codes + parameters.
__host__ __device__ constexpr int token_head_bytes(KvFmt f) { return code_row_bytes(f) + param_row_bytes(f); }

inline const char* fmt_name(KvFmt f) {
  switch (f) {
    case KvFmt::FP16: return "fp16";
    case KvFmt::FP8: return "fp8_e4m3";
    case KvFmt::INT8: return "int8";
    case KvFmt::INT4: return "int4";
    case KvFmt::INT2: return "int2";
  }
  return "?";
}

// Dequantize 8 consecutive channels (chunk k covers channels 8k..8k+7) of one token row.
// `codes` points at the row's codes, `params` at the row's kGroupsPerRow half2 (int formats).
// fp8 returns the unscaled e4m3 value (the per-tensor scale is applied by the caller).
template <KvFmt F>
__device__ __forceinline__ void dequant8(const uint8_t* codes, const uint8_t* params, int chunk, float (&v)[8]) {
  if constexpr (F == KvFmt::FP16) {
    uint4 u = *reinterpret_cast<const uint4*>(codes + chunk * 16);
    const half2* h = reinterpret_cast<const half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float2 f = __half22float2(h[i]);
      v[2 * i] = f.x;
      v[2 * i + 1] = f.y;
    }
  } else if constexpr (F == KvFmt::FP8) {
    uint2 u = *reinterpret_cast<const uint2*>(codes + chunk * 8);
    uint32_t w[2] = {u.x, u.y};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      __nv_fp8x2_storage_t pr = static_cast<__nv_fp8x2_storage_t>((w[i >> 1] >> (16 * (i & 1))) & 0xFFFFu);
      __half2_raw r = __nv_cvt_fp8x2_to_halfraw2(pr, __NV_E4M3);
      float2 f = __half22float2(*reinterpret_cast<half2*>(&r));
      v[2 * i] = f.x;
      v[2 * i + 1] = f.y;
    }
  } else {
    const half2 sz = *reinterpret_cast<const half2*>(params + (chunk >> 2) * 4);
    const float s = __low2float(sz), z = __high2float(sz);
    if constexpr (F == KvFmt::INT8) {
      uint2 u = *reinterpret_cast<const uint2*>(codes + chunk * 8);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        uint32_t w = i < 4 ? u.x : u.y;
        v[i] = fmaf(u2f_small((w >> (8 * (i & 3))) & 0xFFu), s, z);
      }
    } else if constexpr (F == KvFmt::INT4) {
      uint32_t w = *reinterpret_cast<const uint32_t*>(codes + chunk * 4);
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = fmaf(u2f_small((w >> (4 * i)) & 0xFu), s, z);
    } else {  // INT2
      uint32_t w = *reinterpret_cast<const uint16_t*>(codes + chunk * 2);
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = fmaf(u2f_small((w >> (2 * i)) & 0x3u), s, z);
    }
  }
}

// ----------------------------------------------------------------------------------------------
// Host-side reference helpers (used by the CPU checks).
inline int host_code_at(KvFmt f, const uint8_t* codes, int e) {
  switch (f) {
    case KvFmt::INT8: return codes[e];
    case KvFmt::INT4: return (codes[e >> 1] >> (4 * (e & 1))) & 0xF;
    case KvFmt::INT2: return (codes[e >> 2] >> (2 * (e & 3))) & 0x3;
    default: return 0;
  }
}
inline void host_set_code(KvFmt f, uint8_t* codes, int e, int c) {
  switch (f) {
    case KvFmt::INT8: codes[e] = static_cast<uint8_t>(c); break;
    case KvFmt::INT4: codes[e >> 1] = static_cast<uint8_t>((codes[e >> 1] & ~(0xF << (4 * (e & 1)))) | (c << (4 * (e & 1)))); break;
    case KvFmt::INT2: codes[e >> 2] = static_cast<uint8_t>((codes[e >> 2] & ~(0x3 << (2 * (e & 3)))) | (c << (2 * (e & 3)))); break;
    default: break;
  }
}
// Dequantize one token row (kHeadDim values) on the host, in double. fp8 includes `scale`.
inline void host_dequant_row(KvFmt f, const uint8_t* codes, const uint8_t* params, float fp8_scale, double* out) {
  for (int e = 0; e < kHeadDim; ++e) {
    if (f == KvFmt::FP16) {
      out[e] = static_cast<double>(__half2float(reinterpret_cast<const half*>(codes)[e]));
    } else if (f == KvFmt::FP8) {
      __half_raw r = __nv_cvt_fp8_to_halfraw(codes[e], __NV_E4M3);
      out[e] = static_cast<double>(__half2float(half(r))) * fp8_scale;
    } else {
      const half2 sz = reinterpret_cast<const half2*>(params)[e / kQGroup];
      double s = __low2float(sz), z = __high2float(sz);
      out[e] = host_code_at(f, codes, e) * s + z;
    }
  }
}

// Shared quantization rule (host and device use the same float operations so codes agree):
// per group of kQGroup values, zero = min, scale = (max-min)/(2^B-1) rounded to fp16, and
// code = clamp(rint((x - zero_h) / scale_h), 0, 2^B-1) with the fp16-rounded zero and scale.
__host__ __device__ inline void quant_params(float mn, float mx, int bits, half& scale_h, half& zero_h) {
  const float levels = static_cast<float>((1 << bits) - 1);
  float scale = (mx - mn) / levels;
  if (!(scale > 0.f)) scale = 1.0f;  // constant group: every code 0
  scale_h = __float2half_rn(scale);
  if (!(__half2float(scale_h) > 0.f)) scale_h = __float2half_rn(6.1035156e-05f);  // fp16 underflow
  zero_h = __float2half_rn(mn);
}
__host__ __device__ inline int quant_code(float x, half scale_h, half zero_h, int bits) {
  const float s = __half2float(scale_h), z = __half2float(zero_h);
  float q = rintf((x - z) / s);
  const float hi = static_cast<float>((1 << bits) - 1);
  q = q < 0.f ? 0.f : (q > hi ? hi : q);
  return static_cast<int>(q);
}

}  // namespace kvcal
