#pragma once
// Aggregates a run into the summary of the report: throughput, latency distributions
// (streaming sketches, flat memory), preemptions, KV utilization, batch sizes, busy time.
#include <nlohmann/json.hpp>

#include <array>
#include <vector>

#include "sim/core/quantile_sketch.h"
#include "sim/metrics/run_summary.h"
#include "sim/serving/metrics_sink.h"

namespace kvsim {

class SummaryCollector final : public MetricsSink {
 public:
  SummaryCollector() = default;
  // Requests finishing within both limits (0: none) count as good (summary.goodput).
  SummaryCollector(double goodput_ttft_s, double goodput_tpot_s) : good_ttft_(goodput_ttft_s), good_tpot_(goodput_tpot_s) {}
  void on_arrival(const RequestSpec& r, SimTime now) override;
  void on_reject(const RequestSpec& r, SimTime now, const std::string& reason) override;
  void on_preempt(std::int64_t id, PreemptKind kind, SimTime now, std::int64_t bytes) override;
  void on_token_gap(Duration gap, std::uint64_t count) override;
  void on_step(const StepRecord& s) override;
  void on_finish(const RequestRecord& r) override;

  // `end` is the simulated time the run stopped.
  RunSummary result(SimTime end) const;
  nlohmann::json summary(SimTime end) const;  // to_json(result(end)): the report's "summary"

  std::int64_t finished() const { return finished_; }
  const QuantileSketch& e2e_s() const { return e2e_; }
  double mean_in_system(SimTime end) const;

 private:
  void advance_area(SimTime now);

  std::int64_t arrived_ = 0, finished_ = 0, rejected_ = 0, good_ = 0;
  double good_ttft_ = 0, good_tpot_ = 0;
  std::int64_t prompt_tokens_ = 0, output_tokens_ = 0;
  std::int64_t preempt_recompute_ = 0, preempt_swap_ = 0, swapped_bytes_ = 0;
  std::int64_t recomputed_tokens_ = 0;
  SimTime first_arrival_ = -1, last_arrival_ = 0, last_finish_ = 0;
  QuantileSketch ttft_, tpot_, itl_, e2e_, queueing_, batch_;
  std::vector<std::string> first_rejections_;
  std::int64_t steps_ = 0;
  Duration busy_ns_ = 0, gpu_ns_ = 0;
  double kv_util_area_ = 0;  // integral of used/capacity over step time (ns)
  double kv_util_max_ = 0;
  double logical_area_ = 0, stored_area_ = 0;  // bytes x ns, for the achieved ratio
  std::array<double, kNumOps> op_ns_{};        // device/host time per operator over the run
  std::int64_t baseline_output_ = 0, longer_1_5x_ = 0, shorter_2x_ = 0;
  // Queueing delay by arrival time, in at most 64 bins whose width doubles as the run grows
  // (flat memory): the saturation verdict compares the start and the end of the run.
  std::vector<std::pair<double, std::int64_t>> queue_bins_;
  double queue_bin_s_ = 1e-3;  // starts fine so a burst of arrivals still spans many bins
  void add_queue_trend(double arrival_s, double queueing_s);
  // Little's law bookkeeping: integral of requests in system and in the waiting stage.
  std::int64_t in_system_ = 0;
  double in_system_area_ = 0;  // request * ns
  SimTime area_time_ = 0;
};

}  // namespace kvsim
