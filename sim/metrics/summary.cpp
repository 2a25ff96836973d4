#include "sim/metrics/summary.h"

#include <algorithm>

namespace kvsim {

namespace {
Distribution dist(const QuantileSketch& s) {
  return {s.mean(), s.quantile(0.50), s.quantile(0.90), s.quantile(0.95), s.quantile(0.99), s.max(), s.count()};
}
}  // namespace

void SummaryCollector::advance_area(SimTime now) {
  if (now > area_time_) {
    in_system_area_ += static_cast<double>(in_system_) * static_cast<double>(now - area_time_);
    area_time_ = now;
  }
}

void SummaryCollector::on_arrival(const RequestSpec& r, SimTime now) {
  advance_area(now);
  ++in_system_;
  ++arrived_;
  if (first_arrival_ < 0) first_arrival_ = r.arrival;
  last_arrival_ = std::max(last_arrival_, r.arrival);
}

void SummaryCollector::on_reject(const RequestSpec& r, SimTime now, const std::string& reason) {
  advance_area(now);
  --in_system_;
  ++rejected_;
  if (first_rejections_.size() < 5) first_rejections_.push_back("request " + std::to_string(r.id) + ": " + reason);
}

void SummaryCollector::on_preempt(std::int64_t, PreemptKind kind, SimTime, std::int64_t bytes) {
  if (kind == PreemptKind::kRecompute) ++preempt_recompute_;
  else ++preempt_swap_;
  swapped_bytes_ += bytes;
}

void SummaryCollector::on_token_gap(Duration gap, std::uint64_t count) { itl_.add(to_seconds(gap), count); }

void SummaryCollector::on_step(const StepRecord& s) {
  ++steps_;
  const Duration d = s.end - s.start;
  busy_ns_ += d;
  if (s.cost) gpu_ns_ += s.cost->gpu_ns;
  batch_.add(static_cast<double>(s.batch_requests));
  logical_area_ += s.logical_fp16_bytes * static_cast<double>(d);
  stored_area_ += s.stored_bytes * static_cast<double>(d);
  if (s.cost) {
    for (std::size_t i = 0; i < kNumOps; ++i) op_ns_[i] += static_cast<double>(s.cost->ops[i].ns);
  }
  if (s.kv_capacity_blocks > 0) {
    const double u = static_cast<double>(s.kv_used_blocks) / static_cast<double>(s.kv_capacity_blocks);
    kv_util_area_ += u * static_cast<double>(d);
    kv_util_max_ = std::max(kv_util_max_, u);
  }
}

void SummaryCollector::on_finish(const RequestRecord& r) {
  advance_area(r.finish);
  --in_system_;
  ++finished_;
  prompt_tokens_ += r.spec.prompt_tokens;
  output_tokens_ += r.output_tokens;
  baseline_output_ += r.baseline_output_tokens;
  if (r.output_tokens >= 1.5 * r.baseline_output_tokens) ++longer_1_5x_;
  if (2.0 * r.output_tokens <= r.baseline_output_tokens) ++shorter_2x_;
  recomputed_tokens_ += r.recomputed_tokens;
  last_finish_ = std::max(last_finish_, r.finish);
  ttft_.add(to_seconds(r.first_token - r.spec.arrival));
  e2e_.add(to_seconds(r.finish - r.spec.arrival));
  queueing_.add(to_seconds(r.first_scheduled - r.spec.arrival));
  add_queue_trend(to_seconds(r.spec.arrival), to_seconds(r.first_scheduled - r.spec.arrival));
  const double tpot = r.output_tokens > 1 ? to_seconds(r.finish - r.first_token) / (r.output_tokens - 1) : 0.0;
  if (r.output_tokens > 1) tpot_.add(tpot);
  const double ttft = to_seconds(r.first_token - r.spec.arrival);
  if ((good_ttft_ <= 0 || ttft <= good_ttft_) && (good_tpot_ <= 0 || tpot <= good_tpot_)) ++good_;
}

void SummaryCollector::add_queue_trend(double arrival_s, double queueing_s) {
  auto idx = static_cast<std::size_t>(arrival_s / queue_bin_s_);
  while (idx >= 64) {
    std::vector<std::pair<double, std::int64_t>> merged((queue_bins_.size() + 1) / 2, {0.0, 0});
    for (std::size_t i = 0; i < queue_bins_.size(); ++i) {
      merged[i / 2].first += queue_bins_[i].first;
      merged[i / 2].second += queue_bins_[i].second;
    }
    queue_bins_ = std::move(merged);
    queue_bin_s_ *= 2;
    idx = static_cast<std::size_t>(arrival_s / queue_bin_s_);
  }
  if (queue_bins_.size() <= idx) queue_bins_.resize(idx + 1, {0.0, 0});
  queue_bins_[idx].first += queueing_s;
  queue_bins_[idx].second += 1;
}

double SummaryCollector::mean_in_system(SimTime end) const {
  const double area = in_system_area_ + static_cast<double>(in_system_) * static_cast<double>(end - area_time_);
  return end > 0 ? area / static_cast<double>(end) : 0.0;
}

RunSummary SummaryCollector::result(SimTime end) const {
  RunSummary r;
  const double span = first_arrival_ >= 0 && last_finish_ > first_arrival_ ? to_seconds(last_finish_ - first_arrival_)
                                                                           : 0.0;
  r.requests = {arrived_, finished_, rejected_, arrived_ - finished_ - rejected_, first_rejections_};
  r.duration_s = span;
  // Share of all arrived requests that finished within the goodput limits (rejected and
  // unfinished requests are not good).
  r.goodput = {arrived_ ? static_cast<double>(good_) / static_cast<double>(arrived_) : 0.0, good_ttft_, good_tpot_};
  r.arrival_window_s = first_arrival_ >= 0 ? to_seconds(last_arrival_ - first_arrival_) : 0.0;
  r.drain_s = last_finish_ > last_arrival_ ? to_seconds(last_finish_ - last_arrival_) : 0.0;
  r.simulated_s = to_seconds(end);
  r.throughput = {span > 0 ? static_cast<double>(finished_) / span : 0.0,
                  span > 0 ? static_cast<double>(prompt_tokens_) / span : 0.0,
                  span > 0 ? static_cast<double>(output_tokens_) / span : 0.0, prompt_tokens_, output_tokens_};
  r.latency_s = {dist(ttft_), dist(tpot_), dist(itl_), dist(e2e_), dist(queueing_)};
  r.preemptions = {preempt_recompute_, preempt_swap_, swapped_bytes_, recomputed_tokens_};
  r.kv_utilization = {busy_ns_ > 0 ? kv_util_area_ / static_cast<double>(busy_ns_) : 0.0, kv_util_max_};
  r.batch_size = dist(batch_);
  r.compression = {stored_area_ > 0 ? logical_area_ / stored_area_ : 0.0,
                   baseline_output_,
                   output_tokens_,
                   baseline_output_ > 0 ? static_cast<double>(output_tokens_) / baseline_output_ : 0.0,
                   finished_ ? static_cast<double>(longer_1_5x_) / finished_ : 0.0,
                   finished_ ? static_cast<double>(shorter_2x_) / finished_ : 0.0};
  for (std::size_t i = 0; i < kNumOps; ++i) {
    if (op_ns_[i] == 0) continue;
    r.op_time.push_back({std::string(op_name(static_cast<Op>(i))), op_ns_[i] / 1e9,
                         steps_ ? op_ns_[i] / 1e6 / static_cast<double>(steps_) : 0.0});
  }
  r.steps = steps_;
  r.busy_fraction = end > 0 ? static_cast<double>(busy_ns_) / static_cast<double>(end) : 0.0;
  r.gpu_busy_fraction = end > 0 ? static_cast<double>(gpu_ns_) / static_cast<double>(end) : 0.0;
  {
    // Mean queueing delay of the requests that arrived in the first and last quarter of the
    // arrival window: a growing queue is the signature of an unsustainable load.
    const std::size_t n = queue_bins_.size();
    auto mean_of = [&](std::size_t from, std::size_t to) {
      double s = 0;
      std::int64_t c = 0;
      for (std::size_t i = from; i < to && i < n; ++i) {
        s += queue_bins_[i].first;
        c += queue_bins_[i].second;
      }
      return c ? s / static_cast<double>(c) : 0.0;
    };
    const std::size_t q = std::max<std::size_t>(1, n / 4);
    r.queueing_trend_s = {mean_of(0, q), mean_of(n > q ? n - q : 0, n)};
  }
  r.littles_law = {mean_in_system(end), end > 0 ? static_cast<double>(arrived_) / to_seconds(end) : 0.0, e2e_.mean()};
  return r;
}

nlohmann::json SummaryCollector::summary(SimTime end) const { return to_json(result(end)); }

}  // namespace kvsim
