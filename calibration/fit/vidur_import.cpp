#include "calibration/fit/vidur_import.h"

#include <cmath>
#include <filesystem>

#include "calibration/fit/profile_table.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

namespace {

using Table = ProfileTable;

int require(const Table& t, const std::string& name) { return t.require(name, "a Vidur profile"); }

// Keeps the rows whose existing filter columns equal the wanted values.
std::vector<std::size_t> matching(const Table& t, const std::vector<std::pair<std::string, double>>& filters) {
  std::vector<std::size_t> out;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    bool ok = true;
    for (const auto& [name, want] : filters) {
      const int c = t.col(name);
      if (c >= 0 && t.num(r, c) != want) ok = false;
    }
    if (ok) out.push_back(r);
  }
  return out;
}

BundleTable table(const std::string& path, std::vector<std::string> header) {
  BundleTable b;
  b.path = path;
  b.header = std::move(header);
  return b;
}

}  // namespace

Bundle bundle_from_vidur(const std::string& dir, const ModelSpec& m, const std::string& shard_name, int tensor,
                         int block_size, const std::string& gpu_name) {
  namespace fs = std::filesystem;
  const std::string mlp_path = (fs::path(dir) / "mlp.csv").string();
  const std::string attn_path = (fs::path(dir) / "attention.csv").string();
  const Table mlp = read_profile_table(mlp_path);
  const Table attn = read_profile_table(attn_path);
  Bundle b;
  b.dir = dir;
  b.meta = {{"schema_version", 1},
            {"gpu_name", gpu_name},
            {"date_utc", "Vidur profiles in " + dir},
            {"model_shape", {{"name", shard_name}}}};

  const std::vector<std::pair<std::string, double>> mlp_filters = {
      {"n_head", m.num_attention_heads}, {"n_kv_head", m.num_kv_heads}, {"n_embd", m.hidden_size},
      {"n_expanded_embd", m.intermediate_size}, {"vocab_size", m.vocab_size},
      {"num_tensor_parallel_workers", tensor}};
  const int tokens = require(mlp, "num_tokens");
  const std::vector<std::size_t> mrows = matching(mlp, mlp_filters);
  if (mrows.empty()) {
    throw InputError(mlp_path + ": no rows for " + m.name + " at tensor parallelism " + std::to_string(tensor) +
                     " (filter columns n_head, n_kv_head, n_embd, n_expanded_embd, vocab_size, "
                     "num_tensor_parallel_workers)");
  }
  BundleTable gemm = table(mlp_path, {"op", "dtype", "m", "n", "k", "time_us_median"});
  BundleTable elem = table(mlp_path, {"op", "rows", "width", "time_us_median"});
  const struct {
    const char* vidur;
    const char* kvsim;
    bool required;
    bool is_gemm;
  } ops[] = {{"attn_pre_proj", "qkv", true, true},      {"attn_post_proj", "o", true, true},
             {"mlp_up_proj", "gate_up", true, true},    {"mlp_down_proj", "down", true, true},
             {"mlp_act", "silu_mul", false, false},     {"input_layernorm", "rmsnorm", false, false},
             {"attn_rope", "rotary", false, false},     {"add", "residual_add", false, false}};
  for (const auto& op : ops) {
    const std::string col = std::string("time_stats.") + op.vidur + ".median";
    const int c = op.required ? require(mlp, col) : mlp.col(col);
    if (c < 0) continue;
    for (const std::size_t r : mrows) {
      const double n = mlp.num(r, tokens);
      const double ms = mlp.num(r, c);
      if (!(n >= 1) || !(ms > 0)) {
        throw InputError(mlp_path + ":" + std::to_string(mlp.lines[r]) + ": num_tokens must be >= 1 and " + col +
                         " > 0");
      }
      if (op.is_gemm) {
        gemm.rows.push_back({op.kvsim, "bf16", csv_number(n), "0", "0", csv_number(ms * 1e3)});
        gemm.lines.push_back(mlp.lines[r]);
      } else {
        elem.rows.push_back({op.kvsim, csv_number(n), "0", csv_number(ms * 1e3)});
        elem.lines.push_back(mlp.lines[r]);
      }
    }
  }
  b.tables["gemm"] = std::move(gemm);
  if (!elem.rows.empty()) b.tables["elementwise"] = std::move(elem);

  const std::vector<std::pair<std::string, double>> attn_filters = {
      {"n_embd", m.hidden_size}, {"n_q_head", m.num_attention_heads}, {"n_kv_head", m.num_kv_heads},
      {"block_size", block_size}, {"num_tensor_parallel_workers", tensor}};
  const int bs = require(attn, "batch_size"), chunk = require(attn, "prefill_chunk_size"),
            kv = require(attn, "kv_cache_size"), tp = require(attn, "time_stats.attn_prefill.median"),
            td = require(attn, "time_stats.attn_decode.median");
  const std::vector<std::size_t> arows = matching(attn, attn_filters);
  if (arows.empty()) {
    throw InputError(attn_path + ": no rows for " + m.name + " at tensor parallelism " + std::to_string(tensor) +
                     " and block size " + std::to_string(block_size) +
                     " (filter columns n_embd, n_q_head, n_kv_head, block_size, num_tensor_parallel_workers)");
  }
  BundleTable dec = table(attn_path, {"kv_format", "fused", "batch", "context_mean", "context_max", "time_us_median"});
  BundleTable pre = table(attn_path, {"variant", "new_tokens", "cached_tokens", "time_us_median"});
  for (const std::size_t r : arows) {
    const double c = attn.num(r, chunk), k = attn.num(r, kv);
    if (c > 0) {
      const double ms = attn.num(r, tp);
      if (!(ms > 0)) continue;  // Vidur leaves the other phase's time empty or 0
      pre.rows.push_back({"flash", csv_number(c), csv_number(k), csv_number(ms * 1e3)});
      pre.lines.push_back(attn.lines[r]);
    } else {
      const double ms = attn.num(r, td);
      const double batch = attn.num(r, bs);
      if (!(ms > 0) || !(batch >= 1) || !(k >= 1)) continue;
      dec.rows.push_back({"fp16", "1", csv_number(batch), csv_number(k), csv_number(k), csv_number(ms * 1e3)});
      dec.lines.push_back(attn.lines[r]);
    }
  }
  if (!dec.rows.empty()) b.tables["decode_attention"] = std::move(dec);
  if (!pre.rows.empty()) b.tables["prefill_attention"] = std::move(pre);
  return b;
}

}  // namespace kvsim
