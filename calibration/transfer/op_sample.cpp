#include "calibration/transfer/op_sample.h"

#include <cmath>
#include <cstdio>

#include "calibration/fit/profile_table.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

const char* op_class_name(OpClass c) {
  switch (c) {
    case OpClass::kGemm: return "gemm";
    case OpClass::kPrefillAttention: return "prefill_attention";
    case OpClass::kDecodeAttention: return "decode_attention";
    case OpClass::kElementwise: return "elementwise";
    case OpClass::kCompression: return "compression";
    case OpClass::kCollective: return "collective";
  }
  return "?";
}

ShardShape shard_shape_of(const Bundle& b) {
  const std::string where = b.dir + "/meta.json";
  if (!b.meta.contains("model_shape") || !b.meta["model_shape"].is_object()) {
    throw InputError(where + ": missing key 'model_shape'");
  }
  const auto& m = b.meta["model_shape"];
  auto get = [&](const char* key) {
    if (!m.contains(key) || !m[key].is_number_integer() || m[key].get<int>() < 1) {
      throw InputError(where + ": model_shape." + key + " must be a positive integer");
    }
    return m[key].get<int>();
  };
  ShardShape s;
  if (!m.contains("name") || !m["name"].is_string()) throw InputError(where + ": model_shape.name must be a string");
  s.name = m["name"].get<std::string>();
  s.layers = get("layers");
  s.hidden = get("hidden");
  s.q_heads = get("num_q_heads");
  s.kv_heads = get("num_kv_heads");
  s.head_dim = get("head_dim");
  s.ffn = get("ffn");
  s.vocab = m.contains("vocab_shard") ? get("vocab_shard") : get("vocab");
  s.tp = m.contains("tp") ? get("tp") : 1;
  return s;
}

namespace {

double kv_bytes_per_elem(const std::string& format) {
  if (format == "fp16" || format == "bf16") return 2.0;
  if (format == "fp8_e4m3" || format == "int8") return 1.0;
  if (format == "int4") return 0.5;
  if (format == "int2") return 0.25;
  return 2.0;
}

// A column's value where the table has it, else `fallback`.
double num_or(const BundleTable& t, std::size_t r, const char* col, double fallback) {
  return t.col(col) >= 0 ? t.num(r, col) : fallback;
}

void gemm_samples(const BundleTable& t, std::vector<OpSample>& out) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const double m = t.num(r, "m"), n = t.num(r, "n"), k = t.num(r, "k");
    if (!(m >= 1) || !(n >= 1) || !(k >= 1)) {
      throw InputError(t.path + ":" + std::to_string(t.lines[r]) + ": gemm m, n and k must be >= 1 for transfer");
    }
    OpSample s;
    s.cls = OpClass::kGemm;
    s.family = "gemm";
    s.op = t.str(r, "op");
    s.row = r;
    s.key = "gemm/" + csv_number(n) + "x" + csv_number(k) + "/" + t.str(r, "dtype") + "/m=" + csv_number(m);
    s.x = m;
    s.flops = 2.0 * m * n * k;
    s.bytes = 2.0 * (m * k + n * k + m * n);
    s.time_us = t.num(r, "time_us_median");
    out.push_back(s);
  }
}

void decode_samples(const BundleTable& t, const ShardShape& sh, std::vector<OpSample>& out) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& format = t.str(r, "kv_format");
    const double fused = t.num(r, "fused"), batch = t.num(r, "batch"), mean = t.num(r, "context_mean"),
                 max = t.num(r, "context_max");
    const double qh = num_or(t, r, "num_q_heads", sh.q_heads), kvh = num_or(t, r, "num_kv_heads", sh.kv_heads),
                 hd = num_or(t, r, "head_dim", sh.head_dim);
    OpSample s;
    s.cls = OpClass::kDecodeAttention;
    s.family = "decode_attention";
    s.op = format + (fused > 0 ? "" : "/unfused");
    s.row = r;
    const std::string spec = t.col("context_spec") >= 0 ? t.str(r, "context_spec") : "uniform";
    s.key = "decode/q" + csv_number(qh) + "kv" + csv_number(kvh) + "d" + csv_number(hd) + "/" + format + "/" + csv_number(fused) +
            "/b=" + csv_number(batch) + ",c=" + csv_number(mean) + ",max=" + csv_number(max) + "," + spec;
    const double kv = batch * mean * kvh * hd * 2.0 * kv_bytes_per_elem(format);
    s.bytes = num_or(t, r, "kv_bytes", kv) + batch * qh * hd * 2.0 * 2.0;
    s.x = batch;
    s.y = mean;
    // Decode attention does ~1 FLOP per KV byte: bandwidth-bound on every GPU here, so only
    // its bytes enter the efficiency curve (a FLOP term would let the fit trade regimes).
    s.flops = 0;
    s.time_us = t.num(r, "time_us_median");
    out.push_back(s);
  }
}

void prefill_samples(const BundleTable& t, const ShardShape& sh, std::vector<OpSample>& out) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const double p = t.num(r, "new_tokens"), c = t.num(r, "cached_tokens");
    const double qh = num_or(t, r, "num_q_heads", sh.q_heads), kvh = num_or(t, r, "num_kv_heads", sh.kv_heads),
                 hd = num_or(t, r, "head_dim", sh.head_dim);
    OpSample s;
    s.cls = OpClass::kPrefillAttention;
    s.family = "prefill_attention";
    s.op = t.str(r, "variant");
    s.row = r;
    s.key = "prefill/q" + csv_number(qh) + "kv" + csv_number(kvh) + "d" + csv_number(hd) + "/" + t.str(r, "variant") + "/n=" + csv_number(p) +
            ",c=" + csv_number(c);
    s.x = p;
    s.y = c;
    s.flops = 4.0 * hd * qh * (p * c + p * (p + 1) / 2.0);
    // Prefill attention runs at >= 64 FLOPs per byte (a query tile against the KV): compute-bound,
    // so only its FLOPs enter the efficiency curve.
    s.bytes = 0;
    s.time_us = t.num(r, "time_us_median");
    out.push_back(s);
  }
}

// Read + write bytes of one token-wise kernel over rows x width fp16 values (the same counts
// kvsim-calibrate's elementwise kernels report in their bytes column).
double elementwise_bytes(const std::string& op, double rows, double width) {
  if (op.find("rmsnorm") != std::string::npos) return rows * width * 4.0 + width * 2.0;
  if (op.find("silu") != std::string::npos || op.find("residual") != std::string::npos) return rows * width * 6.0;
  if (op.find("softmax") != std::string::npos) return rows * width * 8.0;
  return rows * width * 4.0;  // rotary and other in-place kernels: read + write
}

void elementwise_samples(const BundleTable& t, std::vector<OpSample>& out) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& op = t.str(r, "op");
    const double rows = t.num(r, "rows"), width = t.num(r, "width");
    if (!(rows >= 1) || !(width >= 1)) {
      throw InputError(t.path + ":" + std::to_string(t.lines[r]) + ": elementwise rows and width must be >= 1");
    }
    OpSample s;
    s.cls = OpClass::kElementwise;
    s.family = "elementwise";
    s.op = op;
    s.row = r;
    s.key = "elem/" + op + "/w=" + csv_number(width) + "/r=" + csv_number(rows);
    s.x = rows;
    s.bytes = num_or(t, r, "bytes", elementwise_bytes(op, rows, width));
    s.time_us = t.num(r, "time_us_median");
    out.push_back(s);
  }
}

void compression_samples(const BundleTable& t, std::vector<OpSample>& out) {
  if (t.col("bytes") < 0) return;  // no byte count: nothing to scale by
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const double bytes = t.num(r, "bytes");
    if (!(bytes > 0)) continue;
    OpSample s;
    s.cls = OpClass::kCompression;
    s.family = "compression";
    s.op = t.str(r, "op");
    s.row = r;
    std::string key = "comp/" + t.str(r, "op") + "/" + t.str(r, "format");
    for (const char* c : {"tokens", "context", "budget", "batch", "heads"}) {
      if (t.col(c) >= 0) key += std::string("/") + c + "=" + csv_number(t.num(r, c));
    }
    s.key = key;
    s.bytes = bytes;
    s.time_us = t.num(r, "time_us_median");
    out.push_back(s);
  }
}

}  // namespace

std::vector<OpSample> samples_from_bundle(const Bundle& b) {
  const ShardShape sh = shard_shape_of(b);
  std::vector<OpSample> out;
  if (b.has("gemm")) gemm_samples(b.tables.at("gemm"), out);
  if (b.has("decode_attention")) decode_samples(b.tables.at("decode_attention"), sh, out);
  if (b.has("prefill_attention")) prefill_samples(b.tables.at("prefill_attention"), sh, out);
  if (b.has("elementwise")) elementwise_samples(b.tables.at("elementwise"), out);
  if (b.has("compression")) compression_samples(b.tables.at("compression"), out);
  return out;
}

}  // namespace kvsim

namespace kvsim {

std::vector<OpSample> samples_from_nccl_csv(const std::string& path, const std::string& op) {
  CsvFile csv(path);
  const int g = csv.column("gpus"), b = csv.column("bytes"), t = csv.column("time_us_median");
  if (g < 0 || b < 0 || t < 0) {
    throw InputError(path + ":1: expected columns gpus,bytes,time_us_median (got " + join(csv.header(), ",") + ")");
  }
  std::vector<OpSample> out;
  std::vector<std::string> row;
  while (csv.next(row)) {
    const auto n = parse_double(row[static_cast<std::size_t>(g)]);
    const auto size = parse_double(row[static_cast<std::size_t>(b)]);
    const auto us = parse_double(row[static_cast<std::size_t>(t)]);
    if (!n || !size || !us || *n < 2 || !(*size > 0) || !(*us > 0)) {
      throw InputError(path + ":" + std::to_string(csv.line()) +
                       ": gpus must be >= 2, bytes and time_us_median numbers > 0");
    }
    OpSample s;
    s.cls = OpClass::kCollective;
    s.family = "nccl";
    s.op = op;
    s.row = out.size();
    s.x = *n;
    s.y = *size;
    s.key = "coll/" + op + "/n=" + csv_number(*n) + "/b=" + csv_number(*size);
    const double share = (*n - 1) / *n;
    s.bytes = op == "allreduce" ? 2 * share * *size : op == "allgather" ? share * *size : *size;
    s.time_us = *us;
    out.push_back(s);
  }
  return out;
}

}  // namespace kvsim
