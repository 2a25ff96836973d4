#pragma once
// Owns one run: the event queue, the workload, the replica, the sinks. No globals: two
// simulations in one process never see each other.
#include <memory>
#include <vector>

#include "models/compression/length_effect.h"
#include "models/cost/cost_model.h"
#include "sim/config/scenario.h"
#include "sim/engine/event_queue.h"
#include "sim/metrics/metrics_sink.h"
#include "sim/serving/replica.h"
#include "traces/workload.h"

namespace kvsim {

struct RunResult {
  SimTime end_time = 0;
  std::uint64_t events = 0;
  bool horizon_reached = false;
  ReplicaCounters counters;
};

class Simulation {
 public:
  // `cost` must outlive the simulation.
  Simulation(const Scenario& scenario, const CostModel& cost, std::vector<MetricsSink*> sinks);
  ~Simulation();
  RunResult run();

 private:
  void start_replica(SimTime now);
  std::uint8_t method_for(const RequestSpec& r) const;
  double length_multiplier(const RequestSpec& r, std::uint8_t method) const;

  const Scenario& scenario_;
  std::vector<MetricsSink*> sinks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Workload> workload_;
  std::unique_ptr<Replica> replica_;
  EventQueue queue_;
  std::optional<RequestSpec> pending_;  // the next arrival (exactly one is queued at a time)
  bool wake_pending_ = false;
  std::vector<LengthEffectSampler> length_;  // one per compression method
  std::uint64_t length_seed_ = 0;
};

// Builds the default cost model of a scenario.
std::unique_ptr<CostModel> make_cost_model(const Scenario& scenario);

}  // namespace kvsim
