#include "sim/serving/simulation.h"

#include <algorithm>

#include "models/cost/roofline_cost_model.h"
#include "models/cost/table_cost_model.h"

namespace kvsim {

std::unique_ptr<CostModel> make_cost_model(const Scenario& s) {
  if (s.calibration) {
    return std::make_unique<TableCostModel>(s.model, s.gpu, s.calibration_gpu, s.engine.overhead, s.roofline, s.methods,
                                            *s.calibration);
  }
  return std::make_unique<RooflineCostModel>(s.model, s.gpu, s.engine.overhead, s.roofline, s.methods);
}

Simulation::Simulation(const Scenario& scenario, const CostModel& cost, std::vector<MetricsSink*> sinks)
    : scenario_(scenario), sinks_(std::move(sinks)) {
  scheduler_ = make_scheduler(scenario.engine.scheduler);
  const RngStreams rng(scenario.seed);
  ErrorList errors;
  workload_ = decode_workload(ConfigReader(scenario.workload, "workload", scenario.source, errors), scenario.base_dir, rng);
  errors.throw_if_any();
  replica_ = std::make_unique<Replica>(0, scenario.model, scenario.engine, scenario.capacity, scenario.methods,
                                       *scheduler_, cost, sinks_, scenario.run.livelock_steps);
  for (const auto& m : scenario.methods) length_.emplace_back(m.length);
  length_seed_ = scenario.seed ^ fnv1a64("compression.output_len");
}

std::uint8_t Simulation::method_for(const RequestSpec& r) const {
  if (r.method >= 0) return scenario_.trace_methods.at(static_cast<std::size_t>(r.method));
  for (const RoutingRule& rule : scenario_.routing) {
    if (r.prompt_tokens >= rule.min_prompt_tokens &&
        (rule.max_prompt_tokens == 0 || r.prompt_tokens <= rule.max_prompt_tokens)) {
      return rule.method;
    }
  }
  return 0;
}

double Simulation::length_multiplier(const RequestSpec& r, std::uint8_t method) const {
  const LengthEffectSampler& s = length_[method];
  if (!scenario_.length_effect || !s.enabled()) return 1.0;
  // Each request draws from its own stream (seed, request id): its length does not depend
  // on which other requests exist or in which order they arrive.
  std::uint64_t st = length_seed_ ^ (static_cast<std::uint64_t>(r.id) * 0x9e3779b97f4a7c15ULL);
  Rng rng(splitmix64(st));
  return s.sample(rng);
}

Simulation::~Simulation() = default;

void Simulation::start_replica(SimTime now) {
  if (replica_->step_in_flight()) return;
  if (auto end = replica_->advance(now, queue_.next_time())) {
    queue_.schedule(*end, Phase::kStepComplete, EventKind::kStepComplete, 0);
  }
}

RunResult Simulation::run() {
  RunResult result;
  pending_ = workload_->next();
  if (pending_) queue_.schedule(pending_->arrival, Phase::kArrival, EventKind::kArrival);
  const SimTime sample_every = seconds_to_ns(scenario_.run.sample_interval_s);
  if (sample_every > 0) queue_.schedule(0, Phase::kSample, EventKind::kSample);
  if (scenario_.run.horizon_s) {
    queue_.schedule(seconds_to_ns(*scenario_.run.horizon_s), Phase::kHorizon, EventKind::kHorizon);
  }
  const std::int64_t deep_every = scenario_.run.deep_check_every;
  std::int64_t until_deep = deep_every;
  while (!queue_.empty()) {
    const Event e = queue_.pop();
    const SimTime now = e.time;
    switch (e.kind) {
      case EventKind::kArrival: {
        const RequestSpec r = *pending_;
        pending_ = workload_->next();
        if (pending_) {
          if (pending_->arrival < r.arrival) throw InvariantViolation("workload produced a decreasing arrival time");
          queue_.schedule(pending_->arrival, Phase::kArrival, EventKind::kArrival);
        }
        const std::uint8_t method = method_for(r);
        replica_->enqueue(r, method, length_multiplier(r, method), now);
        if (!replica_->step_in_flight() && !wake_pending_) {
          wake_pending_ = true;
          queue_.schedule(now, Phase::kStepComplete, EventKind::kWake);
        }
        break;
      }
      case EventKind::kWake:
        wake_pending_ = false;
        start_replica(now);
        break;
      case EventKind::kStepComplete:
        replica_->complete_step(now);
        start_replica(now);
        break;
      case EventKind::kSample: {
        const SampleRecord s = replica_->sample(now);
        for (auto* sink : sinks_) sink->on_sample(s);
        const bool work_left = pending_.has_value() || replica_->live_requests() > 0;
        if (work_left) queue_.schedule(now + sample_every, Phase::kSample, EventKind::kSample);
        break;
      }
      case EventKind::kHorizon:
        result.horizon_reached = true;
        break;
    }
    replica_->check_invariants(deep_every > 0 && --until_deep <= 0);
    if (until_deep <= 0) until_deep = deep_every;
    if (result.horizon_reached) break;
    // Stop once the workload is exhausted and every request is done (a pending sample or
    // horizon event alone does not keep the run alive).
    if (!pending_ && replica_->live_requests() == 0 && !replica_->step_in_flight()) {
      result.end_time = std::max(now, replica_->last_step_end());
      break;
    }
  }
  if (!result.horizon_reached && result.end_time == 0) result.end_time = queue_.now();
  if (result.horizon_reached) result.end_time = queue_.now();
  replica_->check_invariants(deep_every > 0);
  result.events = queue_.events_processed();
  result.counters = replica_->counters();
  return result;
}

}  // namespace kvsim
