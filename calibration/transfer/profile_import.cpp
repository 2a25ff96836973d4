#include "calibration/transfer/profile_import.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "calibration/fit/profile_table.h"
#include "sim/core/atomic_file.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

namespace {

// Rows may claim at most this multiple of datasheet peak (clock boost above the datasheet
// clock, timer granularity); beyond it a time is physically impossible.
constexpr double kPlausibleSlack = 1.10;
// A table where more than this share of rows is impossible was measured wrongly as a whole.
constexpr double kRejectShare = 0.10;

using Table = ProfileTable;

Table read(const std::string& path) {
  Table t = read_profile_table(path);
  if (t.rows.empty()) throw InputError(path + ": no data rows");
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Collects per-workload times (merging repeats) and counts impossible ones.
struct Collector {
  std::map<std::vector<std::string>, std::vector<double>> times;  // key columns -> us
  int rows = 0, impossible = 0;
  double worst = 0;  // largest multiple of datasheet a row claimed
  void add(std::vector<std::string> key, double us, double claimed_over_peak) {
    ++rows;
    if (claimed_over_peak > kPlausibleSlack) {
      ++impossible;
      worst = std::max(worst, claimed_over_peak);
      return;
    }
    times[std::move(key)].push_back(us);
  }
  bool rejected() const { return rows > 0 && impossible > kRejectShare * rows; }
};

nlohmann::json base_meta(const ProfileImport& in, const GpuSpec& gpu, const nlohmann::json& shape) {
  return {{"schema_version", 1},
          {"tool", "kvsim calibrate import-profiles"},
          {"status", "complete"},
          {"quick", false},
          {"dry_run", false},
          {"gpu_name", gpu.display_name},
          {"catalog_gpu", gpu.name},
          {"sm_count", gpu.num_sms},
          {"memory_bytes", gpu.memory_bytes},
          {"date_utc", in.project + " profiles at " + in.repository + "@" + in.commit + " (measurement date not recorded)"},
          {"model_shape", shape},
          {"implementation", nlohmann::json::object()},
          {"sources", nlohmann::json::array()},
          {"import_notes", nlohmann::json::array()}};
}

nlohmann::json source_entry(const ProfileImport& in, const std::string& families) {
  return {{"project", in.project},   {"repository", in.repository}, {"commit", in.commit},
          {"path", in.repo_path},    {"families", families},        {"license", "MIT"},
          {"units", "time_stats.<op>.median in ms per layer (per shard), times 1000 = time_us_median"}};
}

std::string shard_name(const std::string& model, int tp) { return tp > 1 ? model + "-tp" + std::to_string(tp) : model; }

void note(ImportedBundle& b, const std::string& text) {
  b.notes.push_back(text);
  b.bundle.meta["import_notes"].push_back(text);
}

// Says how many of a family's rows were physically impossible, and what became of the table.
void note_impossible(ImportedBundle& b, const std::string& family, const Collector& c, const GpuSpec& gpu) {
  if (c.impossible == 0) return;
  note(b, family + ": " + std::to_string(c.impossible) + " of " + std::to_string(c.rows) + " rows claim more than " +
              gpu.name + "'s datasheet peak (up to " + csv_number(c.worst) + "x)" +
              (c.rejected() ? ": table rejected" : ": rows dropped"));
}

BundleTable table(const std::string& path, std::vector<std::string> header) {
  BundleTable t;
  t.path = path;
  t.header = std::move(header);
  return t;
}

void emit(BundleTable& t, const Collector& c, const std::vector<std::string>& extra_after_key) {
  for (const auto& [key, us] : c.times) {
    std::vector<std::string> row = key;
    row.push_back(csv_number(median(us)));
    for (const auto& e : extra_after_key) row.push_back(e);
    row.push_back(std::to_string(us.size()));
    t.rows.push_back(row);
    t.lines.push_back(static_cast<long>(t.rows.size()) + 1);
  }
}

}  // namespace

std::vector<ImportedBundle> import_mlp_profile(const ProfileImport& in, const GpuSpec& gpu) {
  const Table t = read(in.file);
  const int c_heads = t.require("n_head"), c_kv = t.require("n_kv_head"), c_embd = t.require("n_embd"),
            c_ffn = t.require("n_expanded_embd"), c_vocab = t.require("vocab_size"), c_tok = t.require("num_tokens"),
            c_tp = t.require("num_tensor_parallel_workers"), c_gated = t.col("use_gated_mlp");
  struct OpCol {
    const char* vidur;
    const char* kvsim;
    bool gemm;
    int col;
  };
  std::vector<OpCol> ops = {{"attn_pre_proj", "qkv", true, -1},    {"attn_post_proj", "o", true, -1},
                            {"mlp_up_proj", "gate_up", true, -1},  {"mlp_down_proj", "down", true, -1},
                            {"input_layernorm", "rmsnorm", false, -1}, {"attn_rope", "rotary", false, -1},
                            {"mlp_act", "silu_mul", false, -1},    {"add", "residual_add", false, -1}};
  for (OpCol& o : ops) {
    const std::string name = std::string("time_stats.") + o.vidur + ".median";
    o.col = o.gemm ? t.require(name) : t.col(name);
  }
  if (in.layers < 1) throw InputError(in.file + ": the number of layers of " + in.model + " must be given (>= 1)");
  // Group rows by shape and tensor degree.
  using Shape = std::tuple<int, int, int, int, int, int, bool>;  // heads, kv, embd, ffn, vocab, tp, gated
  std::map<Shape, std::vector<std::size_t>> groups;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    auto as_int = [&](int c) {
      const double v = t.num(r, c);
      if (!(v >= 1) || v != std::floor(v)) {
        throw InputError(t.path + ":" + std::to_string(t.lines[r]) + ": column '" + t.header[static_cast<std::size_t>(c)] +
                         "' must be an integer >= 1 (got '" + t.str(r, c) + "')");
      }
      return static_cast<int>(v);
    };
    const bool gated = c_gated < 0 || t.str(r, c_gated) == "True" || t.str(r, c_gated) == "true" || t.str(r, c_gated) == "1";
    groups[{as_int(c_heads), as_int(c_kv), as_int(c_embd), as_int(c_ffn), as_int(c_vocab), as_int(c_tp), gated}]
        .push_back(r);
    as_int(c_tok);
  }
  std::vector<ImportedBundle> out;
  const double peak = gpu.fp16_tflops * 1e6, bw = gpu.hbm_bandwidth_gbps * 1e3;  // per us
  for (const auto& [shape, rows] : groups) {
    const auto [heads, kv, embd, ffn, vocab, tp, gated] = shape;
    if (heads % tp != 0 || ffn % tp != 0) {
      throw InputError(t.path + ":" + std::to_string(t.lines[rows.front()]) + ": n_head " + std::to_string(heads) +
                       " and n_expanded_embd " + std::to_string(ffn) + " must divide by num_tensor_parallel_workers " +
                       std::to_string(tp));
    }
    const int hd = embd / heads, qs = heads / tp, kvs = std::max(1, kv / tp), fs = ffn / tp;
    ImportedBundle b;
    b.name = shard_name(in.model, tp);
    for (const auto& o : out) {
      if (o.name == b.name) b.name += "-h" + std::to_string(embd);  // a second shape at one degree
    }
    const nlohmann::json js = {{"name", b.name},     {"layers", in.layers}, {"hidden", embd},   {"num_q_heads", qs},
                               {"num_kv_heads", kvs}, {"head_dim", hd},      {"ffn", fs},        {"vocab_shard", vocab / tp},
                               {"vocab", vocab},      {"tp", tp}};
    b.bundle.dir = in.file;
    b.bundle.meta = base_meta(in, gpu, js);
    b.bundle.meta["implementation"]["gemm"] = "vidur-pytorch";
    b.bundle.meta["implementation"]["elementwise"] = "vidur-pytorch";
    b.bundle.meta["sources"].push_back(source_entry(in, "gemm, elementwise"));
    // Per-shard GEMM shapes (n outputs x k inputs) and token-wise widths.
    const std::map<std::string, std::pair<double, double>> nk = {
        {"qkv", {double(qs + 2 * kvs) * hd, double(embd)}},
        {"o", {double(embd), double(qs) * hd}},
        {"gate_up", {double(gated ? 2 * fs : fs), double(embd)}},
        {"down", {double(embd), double(fs)}}};
    const std::map<std::string, double> width = {{"rmsnorm", embd},
                                                 {"rotary", double(qs + kvs) * hd},
                                                 {"silu_mul", fs},
                                                 {"residual_add", embd}};
    Collector gemm, elem;
    for (const OpCol& o : ops) {
      if (o.col < 0) continue;
      for (const std::size_t r : rows) {
        const double m = t.num(r, c_tok), us = t.num_or_zero(r, o.col) * 1e3;
        if (!(us > 0)) continue;
        if (o.gemm) {
          const auto [n, k] = nk.at(o.kvsim);
          const double claimed = std::max(2 * m * n * k / us / peak, 2 * (m * k + n * k + m * n) / us / bw);
          gemm.add({o.kvsim, "fp16", csv_number(m), csv_number(n), csv_number(k)}, us, claimed);
        } else {
          const double w = width.at(o.kvsim);
          elem.add({o.kvsim, csv_number(m), csv_number(w)}, us, m * w * 4.0 / us / bw);
        }
      }
    }
    note_impossible(b, "gemm", gemm, gpu);
    note_impossible(b, "elementwise", elem, gpu);
    if (!gemm.rejected() && !gemm.times.empty()) {
      BundleTable g = table(in.file, {"op", "dtype", "m", "n", "k", "time_us_median", "rows_merged"});
      emit(g, gemm, {});
      b.bundle.tables["gemm"] = std::move(g);
    }
    if (!elem.rejected() && !elem.times.empty()) {
      BundleTable e = table(in.file, {"op", "rows", "width", "time_us_median", "rows_merged"});
      emit(e, elem, {});
      b.bundle.tables["elementwise"] = std::move(e);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<ImportedBundle> import_attention_profile(const ProfileImport& in, const GpuSpec& gpu) {
  const Table t = read(in.file);
  const int c_embd = t.require("n_embd"), c_q = t.require("n_q_head"), c_kv = t.require("n_kv_head"),
            c_tp = t.require("num_tensor_parallel_workers"), c_b = t.require("batch_size"),
            c_chunk = t.require("prefill_chunk_size"), c_ctx = t.require("kv_cache_size"),
            c_pre = t.require("is_prefill"), c_tpre = t.require("time_stats.attn_prefill.median"),
            c_tdec = t.require("time_stats.attn_decode.median"), c_backend = t.col("attention_backend"),
            c_block = t.col("block_size");
  if (in.layers < 1 || in.ffn < 1 || in.vocab < 1) {
    throw InputError(in.file + ": an attention profile names no layer count, FFN width or vocabulary; give all three");
  }
  using Shape = std::tuple<int, int, int, int>;
  std::map<Shape, std::vector<std::size_t>> groups;
  std::set<std::string> backends;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    groups[{static_cast<int>(t.num(r, c_embd)), static_cast<int>(t.num(r, c_q)), static_cast<int>(t.num(r, c_kv)),
            static_cast<int>(t.num(r, c_tp))}]
        .push_back(r);
    if (c_backend >= 0) backends.insert(t.str(r, c_backend));
  }
  std::string impl = "unknown-attention";
  if (backends.size() == 1) {
    std::string s = *backends.begin();
    s = s.substr(s.rfind('.') == std::string::npos ? 0 : s.rfind('.') + 1);
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    impl = s;
  }
  std::vector<ImportedBundle> out;
  const double peak = gpu.fp16_tflops * 1e6, bw = gpu.hbm_bandwidth_gbps * 1e3;
  for (const auto& [shape, rows] : groups) {
    const auto [embd, heads, kv, tp] = shape;
    if (heads < 1 || kv < 1 || tp < 1 || embd % heads != 0 || heads % tp != 0) {
      throw InputError(t.path + ":" + std::to_string(t.lines[rows.front()]) +
                       ": n_embd, n_q_head, n_kv_head and num_tensor_parallel_workers must be positive, n_embd "
                       "divisible by n_q_head and n_q_head by num_tensor_parallel_workers");
    }
    const int hd = embd / heads, qs = heads / tp, kvs = std::max(1, kv / tp);
    ImportedBundle b;
    b.name = shard_name(in.model, tp);
    const nlohmann::json js = {{"name", b.name},     {"layers", in.layers}, {"hidden", embd},        {"num_q_heads", qs},
                               {"num_kv_heads", kvs}, {"head_dim", hd},      {"ffn", in.ffn / tp},   {"vocab_shard", in.vocab / tp},
                               {"vocab", in.vocab},   {"tp", tp}};
    b.bundle.dir = in.file;
    b.bundle.meta = base_meta(in, gpu, js);
    b.bundle.meta["implementation"]["decode_attention"] = impl;
    b.bundle.meta["implementation"]["prefill_attention"] = impl;
    b.bundle.meta["sources"].push_back(source_entry(in, "decode_attention, prefill_attention"));
    Collector dec, pre;
    int batched_prefill = 0;
    std::string block = "16";
    for (const std::size_t r : rows) {
      if (c_block >= 0) block = t.str(r, c_block);
      const std::string& flag = t.str(r, c_pre);
      const bool is_prefill = flag == "True" || flag == "true" || flag == "1";
      const double batch = t.num(r, c_b), chunk = t.num(r, c_chunk), ctx = t.num(r, c_ctx);
      if (is_prefill) {
        const double us = t.num_or_zero(r, c_tpre) * 1e3;
        if (!(us > 0) || !(chunk >= 1)) continue;
        if (batch != 1) {
          ++batched_prefill;
          continue;
        }
        const double flops = 4.0 * hd * qs * (chunk * ctx + chunk * (chunk + 1) / 2.0);
        const double bytes = 2.0 * (2.0 * chunk * qs * hd + 2.0 * (chunk + ctx) * kvs * hd);
        pre.add({"flash", csv_number(chunk), csv_number(ctx)}, us, std::max(flops / us / peak, bytes / us / bw));
      } else {
        const double us = t.num_or_zero(r, c_tdec) * 1e3;
        if (!(us > 0) || !(batch >= 1) || !(ctx >= 1)) continue;
        const double kv_bytes = batch * ctx * kvs * hd * 4.0;  // K and V, fp16
        dec.add({"fp16", "1", csv_number(batch), csv_number(ctx), csv_number(ctx)}, us, kv_bytes / us / bw);
      }
    }
    if (batched_prefill > 0) {
      note(b, "prefill_attention: " + std::to_string(batched_prefill) +
                  " rows with batch_size > 1 skipped (kvsim's table is per sequence)");
    }
    note_impossible(b, "decode_attention", dec, gpu);
    note_impossible(b, "prefill_attention", pre, gpu);
    // Both phases come from one profiler run: if either is impossible as a whole, so is the run.
    const bool run_rejected = dec.rejected() || pre.rejected();
    if (run_rejected && !(dec.rejected() && pre.rejected())) {
      note(b, std::string(dec.rejected() ? "prefill_attention" : "decode_attention") +
                  ": rejected with the other phase (one profiler run; its times cannot be trusted)");
    }
    if (!run_rejected && !dec.times.empty()) {
      BundleTable d = table(in.file, {"kv_format", "fused", "batch", "context_mean", "context_max", "time_us_median",
                                      "context_spec", "num_q_heads", "num_kv_heads", "head_dim", "block_size",
                                      "rows_merged"});
      emit(d, dec, {"uniform", std::to_string(qs), std::to_string(kvs), std::to_string(hd), block});
      b.bundle.tables["decode_attention"] = std::move(d);
    }
    if (!run_rejected && !pre.times.empty()) {
      BundleTable p = table(in.file, {"variant", "new_tokens", "cached_tokens", "time_us_median", "num_q_heads",
                                      "num_kv_heads", "head_dim", "rows_merged"});
      emit(p, pre, {std::to_string(qs), std::to_string(kvs), std::to_string(hd)});
      b.bundle.tables["prefill_attention"] = std::move(p);
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<NcclTable> import_network_profile(const ProfileImport& in, const GpuSpec& gpu) {
  const Table t = read(in.file);
  const int c_n = t.require("num_workers"), c_size = t.require("size"), c_coll = t.require("collective"),
            c_dpn = t.require("devices_per_node");
  std::map<std::pair<std::string, int>, Collector> by;  // (collective, gpus)
  const double link = (gpu.nvlink_gbps > 0 ? gpu.nvlink_gbps / 2.0 : gpu.host_link_gbps) * 1e3;  // bytes/us
  int cross_node = 0;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string coll = t.str(r, c_coll);
    if (coll != "all_reduce" && coll != "send_recv") {
      throw InputError(t.path + ":" + std::to_string(t.lines[r]) + ": collective must be all_reduce or send_recv (got '" +
                       coll + "')");
    }
    const int c_t = t.require("time_stats." + coll + ".median");
    const double n = t.num(r, c_n), size = t.num(r, c_size), dpn = t.num(r, c_dpn), us = t.num(r, c_t) * 1e3;
    if (!(n >= 2) || !(size > 0) || !(us > 0)) {
      throw InputError(t.path + ":" + std::to_string(t.lines[r]) + ": num_workers must be >= 2, size and time > 0");
    }
    const bool intra = coll == "all_reduce" ? dpn == n : dpn == 2;
    if (!intra) {
      ++cross_node;
      continue;
    }
    const double bus = coll == "all_reduce" ? 2 * (n - 1) / n * size : size;
    by[{coll, static_cast<int>(n)}].add({csv_number(n), csv_number(size)}, us, bus / us / link);
  }
  std::vector<NcclTable> out;
  for (const auto& [key, c] : by) {
    NcclTable nt;
    nt.machine = gpu.name + "-x" + std::to_string(key.second);
    nt.file = key.first == "all_reduce" ? "allreduce.csv" : "sendrecv.csv";
    nt.meta = {{"schema_version", 1},
               {"tool", "kvsim calibrate import-profiles"},
               {"implementation", "vidur-torch-distributed"},
               {"gpu_name", gpu.display_name},
               {"catalog_gpu", gpu.name},
               {"gpus", key.second},
               {"sources", nlohmann::json::array({source_entry(in, "nccl " + key.first)})},
               {"import_notes", nlohmann::json::array()}};
    nt.meta["sources"][0]["units"] = "time_stats." + key.first + ".median in ms, size in bytes; times 1000";
    if (cross_node > 0) {
      nt.meta["import_notes"].push_back(std::to_string(cross_node) + " rows across nodes skipped (kvsim's tables are one node)");
    }
    if (c.impossible > 0) {
      nt.meta["import_notes"].push_back(std::to_string(c.impossible) + " of " + std::to_string(c.rows) +
                                        " rows claim more than the datasheet link bandwidth" +
                                        (c.rejected() ? ": table rejected" : ": rows dropped"));
    }
    if (c.rejected() || c.times.empty()) continue;
    nt.csv = "gpus,bytes,time_us_median,rows_merged\n";
    for (const auto& [k, us] : c.times) nt.csv += k[0] + "," + k[1] + "," + csv_number(median(us)) + "," + std::to_string(us.size()) + "\n";
    out.push_back(std::move(nt));
  }
  return out;
}

void merge_imported(std::vector<ImportedBundle>& into, std::vector<ImportedBundle> more) {
  for (ImportedBundle& m : more) {
    auto it = std::find_if(into.begin(), into.end(), [&](const ImportedBundle& b) { return b.name == m.name; });
    if (it == into.end()) {
      into.push_back(std::move(m));
      continue;
    }
    for (auto& [family, table] : m.bundle.tables) it->bundle.tables[family] = std::move(table);
    for (const auto& [family, impl] : m.bundle.meta["implementation"].items()) {
      it->bundle.meta["implementation"][family] = impl;
    }
    for (const auto& s : m.bundle.meta["sources"]) it->bundle.meta["sources"].push_back(s);
    for (const auto& n : m.bundle.meta["import_notes"]) it->bundle.meta["import_notes"].push_back(n);
    for (auto& n : m.notes) it->notes.push_back(std::move(n));
  }
}

void write_bundle(const Bundle& b, const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& [family, t] : b.tables) {
    std::string text;
    for (std::size_t i = 0; i < t.header.size(); ++i) text += (i ? "," : "") + t.header[i];
    text += "\n";
    for (const auto& row : t.rows) {
      for (std::size_t i = 0; i < row.size(); ++i) text += (i ? "," : "") + row[i];
      text += "\n";
    }
    write_file_atomically((std::filesystem::path(dir) / (family + ".csv")).string(), text);
  }
  nlohmann::json meta = b.meta;
  meta["families"] = nlohmann::json::array();
  for (const auto& [family, t] : b.tables) meta["families"].push_back(family);
  write_file_atomically((std::filesystem::path(dir) / "meta.json").string(), meta.dump(2) + "\n");
}

}  // namespace kvsim
