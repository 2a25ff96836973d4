#include "sim/metrics/run_report.h"

#include <cstdio>
#include <sstream>

#include "sim/version.h"

namespace kvsim {

std::string kvsim_version() { return std::string(KVSIM_VERSION) + " (" + KVSIM_GIT_SHA + ")"; }

nlohmann::json capacity_json(const KvCapacity& c) {
  nlohmann::json methods = nlohmann::json::array();
  for (const auto& m : c.methods) {
    methods.push_back({{"name", m.name},
                       {"kv_bytes_per_token", m.bytes_per_token},
                       {"tokens_per_block", m.tokens_per_page},
                       {"format_ratio", m.format_ratio},
                       {"capacity_tokens", c.num_gpu_blocks * m.tokens_per_page},
                       {"resident_cap_tokens", m.cap_tokens}});
  }
  return {{"formula", c.formula},
          {"residual_pool_bytes", c.residual_pool_bytes},
          {"methods", methods},
          {"memory_bytes", c.memory_bytes},
          {"budget_bytes", c.budget_bytes},
          {"weight_bytes", c.weight_bytes},
          {"activation_bytes", c.activation_bytes},
          {"graph_bytes", c.graph_bytes},
          {"non_torch_bytes", c.non_torch_bytes},
          {"kv_pool_bytes", c.kv_pool_bytes},
          {"kv_bytes_per_token", c.bytes_per_token},
          {"block_bytes", c.block_bytes},
          {"num_gpu_blocks", c.num_gpu_blocks},
          {"num_cpu_blocks", c.num_cpu_blocks},
          {"kv_tokens", c.tokens()},
          {"explicit_blocks", c.explicit_blocks}};
}

nlohmann::json scenario_context(const Scenario& s, const std::string& cost_model, const std::string& workload) {
  const EngineConfig& e = s.engine;
  nlohmann::json j;
  j["scenario"] = s.source;
  j["seed"] = s.seed;
  j["model"] = s.model.name;
  j["gpu"] = s.gpu.name;
  j["engine"] = {{"preset", e.preset},
                 {"scheduler", e.scheduler},
                 {"block_size", e.block_size},
                 {"max_num_seqs", e.max_num_seqs},
                 {"max_num_batched_tokens", e.max_num_batched_tokens},
                 {"max_model_len", e.effective_max_model_len(s.model)},
                 {"chunked_prefill", e.chunked_prefill},
                 {"preemption_mode", e.preemption_mode == PreemptionMode::kSwap ? "swap" : "recompute"},
                 {"watermark", e.watermark},
                 {"overhead", {{"preset", e.overhead.preset},
                               {"per_step_ms", to_ms(e.overhead.per_step_ns)},
                               {"per_request_us", static_cast<double>(e.overhead.per_request_ns) / 1e3},
                               {"per_token_us", static_cast<double>(e.overhead.per_token_ns) / 1e3}}}};
  j["kv_capacity"] = capacity_json(s.capacity);
  nlohmann::json methods = nlohmann::json::array();
  for (const auto& m : s.methods) {
    nlohmann::json l = {{"enabled", s.length_effect && m.length.enabled}, {"source", m.length.source}};
    if (m.length.pairs_file.empty()) {
      l["share_1_5x_longer"] = m.length.longer_1_5x;
      l["share_2x_shorter"] = m.length.shorter_2x;
      l["mean_ratio_longer"] = m.length.mean_ratio_longer;
    } else {
      l["pairs_file"] = m.length.pairs_file;
    }
    methods.push_back({{"name", m.name}, {"family", m.family}, {"description", m.description},
                       {"source", m.source}, {"length_effect", l}});
  }
  nlohmann::json routing = nlohmann::json::array();
  for (const auto& r : s.routing) {
    routing.push_back({{"min_prompt_tokens", r.min_prompt_tokens}, {"max_prompt_tokens", r.max_prompt_tokens},
                       {"method", s.methods.at(r.method).name}});
  }
  j["compression"] = {{"methods", methods}, {"routing", routing}};
  j["cost_model"] = cost_model;
  j["workload"] = workload;
  j["kvsim_version"] = kvsim_version();
  return j;
}

nlohmann::json build_report(const Scenario& s, const std::string& cost_model, const std::string& workload,
                            const RunResult& result, const nlohmann::json& summary) {
  nlohmann::json j;
  j["schema_version"] = kReportSchemaVersion;
  j["context"] = scenario_context(s, cost_model, workload);
  j["summary"] = summary;
  j["summary"]["horizon_reached"] = result.horizon_reached;
  j["summary"]["events"] = result.events;
  j["summary"]["preemptions"]["swap_fallbacks_to_recompute"] = result.counters.swap_fallbacks;
  j["summary"]["compression"]["compacted_blocks"] = result.counters.compacted_blocks;
  return j;
}

namespace {
std::string f(double v, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}
std::string gib(double bytes) { return f(bytes / (1024.0 * 1024 * 1024), 2) + " GiB"; }

void dist_row(std::ostringstream& os, const char* name, const nlohmann::json& d, double scale, const char* unit) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-10s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f  %s\n", name,
                d["mean"].get<double>() * scale, d["p50"].get<double>() * scale, d["p90"].get<double>() * scale,
                d["p95"].get<double>() * scale, d["p99"].get<double>() * scale, d["max"].get<double>() * scale, unit);
  os << buf;
}
}  // namespace

std::string render_text_summary(const nlohmann::json& r) {
  const auto& c = r["context"];
  const auto& s = r["summary"];
  const auto& cap = c["kv_capacity"];
  std::ostringstream os;
  os << "kvsim run: " << c["scenario"].get<std::string>() << " (seed " << c["seed"].get<std::uint64_t>() << ")\n";
  os << "  model " << c["model"].get<std::string>() << " on " << c["gpu"].get<std::string>() << ", engine "
     << c["engine"]["preset"].get<std::string>() << " (block " << c["engine"]["block_size"].get<int>()
     << ", max_num_seqs " << c["engine"]["max_num_seqs"].get<int>() << ", max_num_batched_tokens "
     << c["engine"]["max_num_batched_tokens"].get<int>() << ", overhead "
     << c["engine"]["overhead"]["preset"].get<std::string>() << ")\n";
  os << "  workload: " << c["workload"].get<std::string>() << "\n";
  os << "  cost model: " << c["cost_model"].get<std::string>() << "\n\n";
  os << "KV cache (" << cap["formula"].get<std::string>() << ")\n";
  if (!cap["explicit_blocks"].get<bool>()) {
    os << "  memory " << gib(cap["memory_bytes"].get<double>()) << ", budget " << gib(cap["budget_bytes"].get<double>())
       << ", weights " << gib(cap["weight_bytes"].get<double>()) << ", activation "
       << gib(cap["activation_bytes"].get<double>()) << ", graph " << gib(cap["graph_bytes"].get<double>())
       << ", non-torch " << gib(cap["non_torch_bytes"].get<double>()) << "\n";
  }
  os << "  " << cap["num_gpu_blocks"].get<std::int64_t>() << " blocks x " << cap["block_bytes"].get<std::int64_t>()
     << " B = " << cap["kv_tokens"].get<std::int64_t>() << " tokens (" << cap["kv_bytes_per_token"].get<std::int64_t>()
     << " B/token)\n\n";
  const auto& req = s["requests"];
  os << "Requests: " << req["finished"].get<std::int64_t>() << " finished, " << req["rejected"].get<std::int64_t>()
     << " rejected, " << req["unfinished"].get<std::int64_t>() << " unfinished of "
     << req["arrived"].get<std::int64_t>() << " arrived";
  if (s["horizon_reached"].get<bool>()) os << " (horizon reached)";
  os << "\n";
  if (req.contains("rejections")) {
    for (const auto& m : req["rejections"]) os << "  rejected " << m.get<std::string>() << "\n";
  }
  const auto& t = s["throughput"];
  os << "Throughput over " << f(s["duration_s"].get<double>(), 2) << " s: " << f(t["requests_per_s"].get<double>(), 3)
     << " req/s, " << f(t["prompt_tokens_per_s"].get<double>(), 1) << " prompt tok/s, "
     << f(t["output_tokens_per_s"].get<double>(), 1) << " output tok/s\n\n";
  os << "Latency        mean       p50       p90       p95       p99       max\n";
  const auto& l = s["latency_s"];
  dist_row(os, "TTFT", l["ttft"], 1e3, "ms");
  dist_row(os, "TPOT", l["tpot"], 1e3, "ms");
  dist_row(os, "ITL", l["itl"], 1e3, "ms");
  dist_row(os, "E2E", l["e2e"], 1.0, "s");
  dist_row(os, "queueing", l["queueing"], 1e3, "ms");
  os << "\n";
  const auto& p = s["preemptions"];
  os << "Preemptions: " << p["recompute"].get<std::int64_t>() << " recompute, " << p["swap"].get<std::int64_t>()
     << " swap (" << gib(p["swapped_bytes"].get<double>()) << " swapped), " << p["recomputed_tokens"].get<std::int64_t>()
     << " tokens recomputed\n";
  os << "KV utilization: mean " << f(s["kv_utilization"]["mean"].get<double>() * 100, 1) << " %, max "
     << f(s["kv_utilization"]["max"].get<double>() * 100, 1) << " %\n";
  const bool compressed = c["compression"]["methods"].size() > 1 ||
                          c["compression"]["methods"][0]["family"].get<std::string>() != "none";
  if (compressed) {
    os << "Compression\n";
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-22s %10s %7s %12s %14s\n", "method", "KV B/token", "ratio", "tokens/block",
                  "capacity tok");
    os << buf;
    for (const auto& m : cap["methods"]) {
      std::snprintf(buf, sizeof buf, "  %-22s %10lld %6.2fx %12d %14lld\n", m["name"].get<std::string>().c_str(),
                    static_cast<long long>(m["kv_bytes_per_token"].get<std::int64_t>()), m["format_ratio"].get<double>(),
                    m["tokens_per_block"].get<int>(), static_cast<long long>(m["capacity_tokens"].get<std::int64_t>()));
      os << buf;
    }
    if (cap["residual_pool_bytes"].get<std::int64_t>() > 0) {
      os << "  fp16 residual pool " << gib(cap["residual_pool_bytes"].get<double>()) << "\n";
    }
    const auto& cs = s["compression"];
    os << "  achieved ratio " << f(cs["achieved_ratio"].get<double>(), 2)
       << "x (fp16 bytes of the running contexts / bytes of their blocks and residual windows, time-weighted)\n";
    os << "  output lengths: " << f(cs["output_length_ratio"].get<double>(), 3) << "x the baseline tokens; "
       << f(cs["share_1_5x_longer"].get<double>() * 100, 1) << " % of requests >= 1.5x longer, "
       << f(cs["share_2x_shorter"].get<double>() * 100, 1) << " % >= 2x shorter\n";
    std::string extra;
    for (const char* op : {"kv_quantize", "kv_dequant", "kv_scores", "kv_compaction", "kv_lowrank"}) {
      if (s["op_time"].contains(op)) {
        extra += std::string(extra.empty() ? "" : ", ") + op + " " + f(s["op_time"][op]["per_step_ms"].get<double>(), 3) + " ms";
      }
    }
    if (!extra.empty()) os << "  compression device time per step: " << extra << "\n";
  }
  const auto& b = s["batch_size"];
  os << "Batch size: mean " << f(b["mean"].get<double>(), 1) << ", p50 " << f(b["p50"].get<double>(), 0) << ", p99 "
     << f(b["p99"].get<double>(), 0) << ", max " << f(b["max"].get<double>(), 0) << " over "
     << s["steps"].get<std::int64_t>() << " steps\n";
  os << "Busy: " << f(s["busy_fraction"].get<double>() * 100, 1) << " % of time stepping, GPU busy "
     << f(s["gpu_busy_fraction"].get<double>() * 100, 1) << " %\n";
  return os.str();
}

}  // namespace kvsim
