#pragma once
// Owns one run: the event queue, the workload, the replicas and their router, the sinks.
// No globals: two simulations in one process never see each other.
#include <map>
#include <memory>
#include <vector>

#include "models/compression/length_effect.h"
#include "models/cost/cost_model.h"
#include "sim/serving/cost_model_factory.h"
#include "sim/engine/event_queue.h"
#include "sim/serving/metrics_sink.h"
#include "sim/serving/replica.h"
#include "sim/serving/router.h"
#include "sim/serving/serving_setup.h"
#include "traces/workload.h"

namespace kvsim {

struct ReplicaResult {
  std::int32_t index = 0;
  std::size_t group = 0;  // index into setup.cluster.groups
  ReplicaCounters counters;
  std::int64_t kv_capacity_blocks = 0;
};

struct RunResult {
  SimTime end_time = 0;
  std::uint64_t events = 0;
  bool horizon_reached = false;
  ReplicaCounters counters;             // summed over replicas
  std::vector<ReplicaResult> replicas;  // one per replica, in index order
  std::int64_t kv_transfers = 0;        // disaggregated hand-overs
  double kv_transfer_bytes = 0;
};

class Simulation {
 public:
  // `setup` and `cost` (the first replica group's model, see make_cost_model) must outlive the
  // simulation; the other groups' cost models are built and owned here.
  Simulation(const ServingSetup& setup, const CostModel& cost, std::vector<MetricsSink*> sinks);
  ~Simulation();
  RunResult run();

 private:
  struct ReplicaSlot {
    std::unique_ptr<Replica> replica;
    std::size_t group = 0;
    const CostModel* cost = nullptr;
    bool wake_pending = false;
  };
  void start_replica(std::size_t i, SimTime now);
  std::uint8_t method_for(const RequestSpec& r, std::size_t replica) const;
  double length_multiplier(const RequestSpec& r, std::uint8_t method) const;
  // `spec`: an arrival (its method depends on the replica); otherwise a hand-over keeping `method`.
  std::size_t route(const RouteRequest& rr, const RequestSpec* spec, std::uint8_t method,
                    const std::vector<std::size_t>& eligible);
  void wake(std::size_t i, SimTime now);
  void collect_handoffs(std::size_t i, SimTime now);
  bool any_live() const;
  // When the sample after the one at `now` is due (skips the middle of an idle stretch).
  SimTime next_sample(SimTime now, SimTime every) const;
  InputError event_budget_exceeded() const;

  const ServingSetup& scenario_;
  std::vector<MetricsSink*> sinks_;
  std::vector<std::unique_ptr<Scheduler>> schedulers_;  // one per group
  std::vector<std::unique_ptr<CostModel>> owned_costs_;
  std::vector<const CostModel*> group_costs_;
  std::unique_ptr<Workload> workload_;
  std::vector<ReplicaSlot> replicas_;
  std::vector<std::size_t> entry_;   // replicas that take arrivals (mixed and prefill)
  std::vector<std::size_t> decode_;  // replicas that take hand-overs
  std::unique_ptr<Router> router_;
  std::unique_ptr<Router> decode_router_;
  EventQueue queue_;
  std::optional<RequestSpec> pending_;  // the next arrival (exactly one is queued at a time)
  std::vector<LengthEffectSampler> length_;  // one per compression method
  std::vector<double> length_mean_;
  std::uint64_t length_seed_ = 0;
  bool in_place_ = true;  // complete steps in place (off when replicas create events for each other)
  // Hand-overs in transit, keyed by a sequence number carried in the event's target.
  std::map<std::int64_t, std::pair<Handoff, std::size_t>> in_transit_;
  std::int64_t next_transfer_ = 0;
  // Per replica: when its KV-transfer link is next idle. Hand-overs from one replica share its
  // link first come, first served, so n concurrent transfers take n times as long.
  std::vector<SimTime> link_free_at_;
  std::int64_t transfers_ = 0;
  double transfer_bytes_ = 0;
};


}  // namespace kvsim
