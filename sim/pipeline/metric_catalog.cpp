#include "sim/pipeline/metric_catalog.h"

#include "sim/core/error.h"

namespace kvsim {

const std::vector<MetricDef>& metric_catalog() {
  static const std::vector<MetricDef> catalog = {
      {"finished", "requests", "requests that finished", "/summary/requests/finished"},
      {"rejected", "requests", "requests refused at arrival",
       "/summary/requests/rejected"},
      {"unfinished", "requests", "requests still in the system at the horizon", "/summary/requests/unfinished"},
      {"requests_per_s", "req/s", "finished requests per second, first arrival to last finish", "/summary/throughput/requests_per_s"},
      {"prompt_tokens_per_s", "tokens/s", "prompt tokens of finished requests per second", "/summary/throughput/prompt_tokens_per_s"},
      {"output_tokens_per_s", "tokens/s", "output tokens of finished requests per second", "/summary/throughput/output_tokens_per_s"},
      {"ttft_mean_s", "s", "time to first token, mean", "/summary/latency_s/ttft/mean"},
      {"ttft_p50_s", "s", "time to first token, median", "/summary/latency_s/ttft/p50"},
      {"ttft_p90_s", "s", "time to first token, 90th percentile", "/summary/latency_s/ttft/p90"},
      {"ttft_p99_s", "s", "time to first token, 99th percentile", "/summary/latency_s/ttft/p99"},
      {"tpot_mean_s", "s", "time per output token after the first (stalls included), mean over requests", "/summary/latency_s/tpot/mean"},
      {"tpot_p50_s", "s", "time per output token after the first, median over requests", "/summary/latency_s/tpot/p50"},
      {"tpot_p99_s", "s", "time per output token after the first, 99th percentile", "/summary/latency_s/tpot/p99"},
      {"itl_p99_s", "s", "gap between consecutive output tokens, 99th percentile", "/summary/latency_s/itl/p99"},
      {"e2e_mean_s", "s", "end-to-end latency (arrival to last token), mean", "/summary/latency_s/e2e/mean"},
      {"e2e_p50_s", "s", "end-to-end latency, median", "/summary/latency_s/e2e/p50"},
      {"e2e_p90_s", "s", "end-to-end latency, 90th percentile", "/summary/latency_s/e2e/p90"},
      {"e2e_p99_s", "s", "end-to-end latency, 99th percentile", "/summary/latency_s/e2e/p99"},
      {"queueing_p99_s", "s", "arrival to first scheduled, 99th percentile", "/summary/latency_s/queueing/p99"},
      {"preempt_recompute", "count", "preemptions that drop the KV and recompute it", "/summary/preemptions/recompute"},
      {"preempt_swap", "count", "preemptions that swap the KV to host memory", "/summary/preemptions/swap"},
      {"kv_util_mean", "fraction", "share of KV blocks in use, time-weighted mean over steps", "/summary/kv_utilization/mean"},
      {"kv_util_max", "fraction", "share of KV blocks in use, largest in any step", "/summary/kv_utilization/max"},
      {"batch_mean", "requests", "requests in a step (decode rows + prefill requests), mean over steps", "/summary/batch_size/mean"},
      {"batch_max", "requests", "requests in a step, largest", "/summary/batch_size/max"},
      {"kv_capacity_tokens", "tokens", "KV tokens the first replica group's GPU holds (its capacity)",
       "/context/kv_capacity/kv_tokens"},
      {"achieved_ratio", "ratio", "logical fp16 KV bytes over stored bytes, time-weighted over steps",
       "/summary/compression/achieved_ratio"},
      {"output_length_ratio", "ratio", "output tokens over baseline output tokens (the length effect)",
       "/summary/compression/output_length_ratio"},
      {"busy_fraction", "fraction", "share of simulated time a step was in flight", "/summary/busy_fraction"},
      {"simulated_s", "s", "simulated time of the run", "/summary/simulated_s"},
  };
  return catalog;
}

std::vector<std::string> metric_names() {
  std::vector<std::string> out;
  for (const auto& m : metric_catalog()) out.push_back(m.name);
  return out;
}

const MetricDef* find_metric(const std::string& name) {
  for (const auto& m : metric_catalog()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

double metric_value(const MetricDef& m, const nlohmann::json& report) {
  const nlohmann::json::json_pointer ptr(m.pointer);
  if (!report.contains(ptr) || !report.at(ptr).is_number()) {
    throw InvariantViolation("metric " + m.name + ": the run report has no number at " + m.pointer);
  }
  return report.at(ptr).get<double>();
}

std::vector<double> metric_values(const nlohmann::json& report) {
  std::vector<double> out;
  out.reserve(metric_catalog().size());
  for (const auto& m : metric_catalog()) out.push_back(metric_value(m, report));
  return out;
}

}  // namespace kvsim
