#pragma once
// Measured operator times as workloads with FLOPs and bytes: the common currency of the
// cross-GPU transfer model (docs/calibration.md, "Cross-GPU transfer"). Every bundle family
// that runs on the GPU becomes samples of one operator class; a sample's key names the exact
// workload (operator, shape, size) so the same workload measured on two GPUs can be paired.
#include <string>
#include <vector>

#include "calibration/fit/bundle.h"

namespace kvsim {

enum class OpClass { kGemm, kPrefillAttention, kDecodeAttention, kElementwise, kCompression, kCollective };
constexpr int kNumOpClasses = 6;
const char* op_class_name(OpClass c);

// The per-shard model shape a bundle was measured for (meta.json "model_shape").
struct ShardShape {
  std::string name;
  int layers = 0, hidden = 0, q_heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, vocab = 0, tp = 1;
};
// Reads meta.json's model_shape; throws InputError naming the bundle and key.
ShardShape shard_shape_of(const Bundle& b);

struct OpSample {
  OpClass cls = OpClass::kGemm;
  std::string key;     // workload identity, equal across GPUs: "gemm/qkv/12288x4096/m=512/fp16"
  std::string family;  // the bundle family it came from
  std::string impl;    // whose kernels: "kvsim-calibrate", "vidur-pytorch", "flashinfer" (+ "/variant")
  std::string op;      // gemm/elementwise/compression operator; attention kernel variant or KV format
  std::size_t row = 0; // its row in that family's table
  double x = 0, y = 0; // size: gemm m, 0; elementwise rows, 0; decode batch, mean context; prefill new, cached
  double flops = 0;    // useful FLOPs of the kernel
  double bytes = 0;    // DRAM bytes it must move at least
  double time_us = 0;  // measured median
};

// One sample per timed row of the GPU-side families (gemm, decode_attention,
// prefill_attention, elementwise, compression). FLOPs and bytes follow the roofline's
// definitions: GEMM 2mnk and its operands once; decode attention the KV bytes read
// (kv_bytes when the table has it) and 4 * batch * context * q_heads * head_dim FLOPs;
// prefill attention the useful causal FLOPs; elementwise the bytes column, or read + write of
// rows x width at fp16 where a table has none. Compression rows count their bytes column.
std::vector<OpSample> samples_from_bundle(const Bundle& b);

// One NCCL table (calibration/data/<gpu>-x<N>/nccl/{allreduce,allgather,sendrecv}.csv: gpus,
// bytes, time_us_median): one sample per row, its bytes the bus bytes each GPU moves over its
// links (all-reduce 2(n-1)/n x size, all-gather (n-1)/n x size, a send its size).
std::vector<OpSample> samples_from_nccl_csv(const std::string& path, const std::string& op);

}  // namespace kvsim
