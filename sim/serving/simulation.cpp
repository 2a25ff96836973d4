#include "sim/serving/simulation.h"

#include <algorithm>

#include "models/cost/roofline_cost_model.h"

namespace kvsim {

std::unique_ptr<CostModel> make_cost_model(const Scenario& s) {
  return std::make_unique<RooflineCostModel>(s.model, s.gpu, s.engine.overhead, s.roofline);
}

Simulation::Simulation(const Scenario& scenario, const CostModel& cost, std::vector<MetricsSink*> sinks)
    : scenario_(scenario), sinks_(std::move(sinks)) {
  scheduler_ = make_scheduler(scenario.engine.scheduler);
  const RngStreams rng(scenario.seed);
  ErrorList errors;
  workload_ = decode_workload(ConfigReader(scenario.workload, "workload", scenario.source, errors), scenario.base_dir, rng);
  errors.throw_if_any();
  replica_ = std::make_unique<Replica>(0, scenario.model, scenario.engine, scenario.capacity, *scheduler_, cost, sinks_,
                                       scenario.run.livelock_steps);
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
        replica_->enqueue(r, now);
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
