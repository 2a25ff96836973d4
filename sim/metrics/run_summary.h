#pragma once
// A run's summary as a typed value: what SummaryCollector measured, field by field. The report's
// JSON "summary" is to_json() of it (the metric catalogue, sweep columns and validate's names
// address that JSON: sim/pipeline/metric_catalog.h), and library callers read the fields.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kvsim {

struct Distribution {  // over a run's requests (or steps), from a streaming sketch
  double mean = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
  std::uint64_t count = 0;
};

struct RunSummary {
  struct Requests {
    std::int64_t arrived = 0, finished = 0, rejected = 0, unfinished = 0;
    std::vector<std::string> rejections;  // the first few rejection reasons
  } requests;
  double duration_s = 0;  // first arrival to last finish
  struct Goodput {
    double fraction = 0, ttft_limit_s = 0, tpot_limit_s = 0;
  } goodput;
  double arrival_window_s = 0, drain_s = 0, simulated_s = 0;
  struct Throughput {
    double requests_per_s = 0, prompt_tokens_per_s = 0, output_tokens_per_s = 0;
    std::int64_t prompt_tokens = 0, output_tokens = 0;
  } throughput;
  struct Latency {
    Distribution ttft, tpot, itl, e2e, queueing;
  } latency_s;
  struct Preemptions {
    std::int64_t recompute = 0, swap = 0, swapped_bytes = 0, recomputed_tokens = 0;
  } preemptions;
  struct KvUtilization {
    double mean = 0, max = 0;
  } kv_utilization;
  Distribution batch_size;
  struct Compression {
    double achieved_ratio = 0;
    std::int64_t baseline_output_tokens = 0, output_tokens = 0;
    double output_length_ratio = 0, share_1_5x_longer = 0, share_2x_shorter = 0;
  } compression;
  struct OpTime {
    std::string op;
    double total_s = 0, per_step_ms = 0;
  };
  std::vector<OpTime> op_time;  // operators that took any time, in Op order
  std::int64_t steps = 0;
  double busy_fraction = 0, gpu_busy_fraction = 0;
  struct QueueingTrend {
    double first_quarter = 0, last_quarter = 0;
  } queueing_trend_s;
  struct LittlesLaw {
    double mean_in_system = 0, arrival_rate_per_s = 0, mean_e2e_s = 0;
  } littles_law;
};

nlohmann::json to_json(const Distribution& d);
nlohmann::json to_json(const RunSummary& s);

}  // namespace kvsim
