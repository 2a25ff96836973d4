#include "sim/serving/simulation.h"

#include <algorithm>
#include <cmath>

#include "sim/core/error.h"

namespace kvsim {

namespace {
// Mean of a method's output-length multiplier, estimated once from a fixed stream (the
// compression-aware router's predicted output length; exact for user pairs in the limit).
double mean_multiplier(const LengthEffectSampler& s, std::uint64_t seed) {
  if (!s.enabled()) return 1.0;
  Rng rng(splitmix64(seed));
  double sum = 0;
  constexpr int kDraws = 4096;
  for (int i = 0; i < kDraws; ++i) sum += s.sample(rng);
  return sum / kDraws;
}
}  // namespace

Simulation::Simulation(const ServingSetup& scenario, const CostModel& cost, std::vector<MetricsSink*> sinks)
    : scenario_(scenario), sinks_(std::move(sinks)) {
  const RngStreams rng(scenario.seed);
  if (!scenario.workload) throw InvariantViolation("Simulation: the setup has no decoded workload");
  workload_ = scenario.workload->start(rng);
  const auto& groups = scenario.cluster.groups;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    schedulers_.push_back(make_scheduler(groups[gi].engine.scheduler));
    if (gi == 0) {
      group_costs_.push_back(&cost);
    } else {
      owned_costs_.push_back(make_group_cost_model(scenario, groups[gi]));
      group_costs_.push_back(owned_costs_.back().get());
    }
    for (int k = 0; k < groups[gi].count; ++k) {
      const auto index = static_cast<std::int32_t>(replicas_.size());
      ReplicaSlot slot;
      slot.group = gi;
      slot.cost = group_costs_[gi];
      slot.replica = std::make_unique<Replica>(index, groups[gi].shard, groups[gi].engine, groups[gi].capacity,
                                               scenario.methods, *schedulers_[gi], *slot.cost, sinks_,
                                               scenario.run.livelock_steps, groups[gi].role);
      (groups[gi].role == ReplicaRole::kDecode ? decode_ : entry_).push_back(replicas_.size());
      replicas_.push_back(std::move(slot));
    }
  }
  link_free_at_.assign(replicas_.size(), 0);
  router_ = make_router(scenario.cluster.router);
  decode_router_ = make_router(scenario.cluster.router);
  // A prefill replica creates events for decode replicas while it runs: every step then
  // completes through the queue so that no replica runs ahead of an event meant for it.
  in_place_ = !scenario.cluster.disaggregated();
  length_seed_ = scenario.seed ^ fnv1a64("compression.output_len");
  for (const auto& m : scenario.methods) {
    length_.emplace_back(m.length);
    length_mean_.push_back(mean_multiplier(length_.back(), scenario.seed ^ fnv1a64("router.length_mean")));
  }
}

std::uint8_t Simulation::method_for(const RequestSpec& r, std::size_t replica) const {
  const ReplicaGroup& g = scenario_.cluster.groups[replicas_[replica].group];
  if (g.method) return *g.method;
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
  // on which other requests exist, in which order they arrive, or where they are routed.
  std::uint64_t st = length_seed_ ^ (static_cast<std::uint64_t>(r.id) * 0x9e3779b97f4a7c15ULL);
  Rng rng(splitmix64(st));
  return s.sample(rng);
}

Simulation::~Simulation() = default;

std::size_t Simulation::route(const RouteRequest& rr, const RequestSpec* spec, std::uint8_t method,
                              const std::vector<std::size_t>& eligible) {
  if (eligible.size() == 1) return eligible.front();
  std::vector<RouteCandidate> cs;
  cs.reserve(eligible.size());
  for (const std::size_t i : eligible) {
    const Replica& r = *replicas_[i].replica;
    RouteCandidate c;
    c.replica = static_cast<std::int32_t>(i);
    c.outstanding = r.live_requests();
    c.decoding = r.decoding_count();
    c.queued_prefill_tokens = r.waiting_prefill_tokens();
    c.kv_used_fraction = r.kv().capacity() > 0 ? static_cast<double>(r.kv().used()) / r.kv().capacity() : 1.0;
    c.method = spec ? method_for(*spec, i) : method;
    c.length_multiplier = scenario_.length_effect ? length_mean_[c.method] : 1.0;
    c.cost = replicas_[i].cost;
    cs.push_back(c);
  }
  Router& router = spec ? *router_ : *decode_router_;
  return eligible.at(router.choose(rr, cs));
}

void Simulation::start_replica(std::size_t i, SimTime now) {
  Replica& r = *replicas_[i].replica;
  if (r.step_in_flight()) return;
  const SimTime bound = in_place_ ? queue_.next_time() : now;
  if (auto end = r.advance(now, bound)) {
    queue_.schedule(*end, Phase::kStepComplete, EventKind::kStepComplete, static_cast<std::int64_t>(i));
  }
}

void Simulation::wake(std::size_t i, SimTime now) {
  ReplicaSlot& s = replicas_[i];
  if (!s.replica->step_in_flight() && !s.wake_pending) {
    s.wake_pending = true;
    queue_.schedule(now, Phase::kStepComplete, EventKind::kWake, static_cast<std::int64_t>(i));
  }
}

// Sends each request a prefill replica finished to a decode replica: its KV crosses the
// transfer link (every GPU of the sender sends its shard over its own link), then a
// decode replica chosen by the router at delivery time takes it over.
void Simulation::collect_handoffs(std::size_t i, SimTime now) {
  if (replicas_[i].replica->role() != ReplicaRole::kPrefill) return;
  const ReplicaGroup& g = scenario_.cluster.groups[replicas_[i].group];
  for (Handoff& h : replicas_[i].replica->take_handoffs()) {
    const double bytes = static_cast<double>(h.kv_bytes);
    // The link serializes this replica's transfers (FIFO): this one starts when the link is
    // free, holds it for bytes / bandwidth, and arrives one latency after it is sent.
    const SimTime start = std::max(now, link_free_at_[i]);
    const SimTime sent = start + cost_ns(bytes / scenario_.cluster.kv_link_gbps);
    link_free_at_[i] = sent;
    const SimTime at = sent + cost_ns(scenario_.cluster.kv_latency_us * 1e3);
    ++transfers_;
    transfer_bytes_ += bytes * g.parallelism.gpus();
    const std::int64_t id = next_transfer_++;
    in_transit_.emplace(id, std::make_pair(std::move(h), i));
    queue_.schedule(at, Phase::kArrival, EventKind::kKvArrival, id);
  }
}

bool Simulation::any_live() const {
  if (pending_ || !in_transit_.empty()) return true;
  for (const auto& s : replicas_) {
    if (s.replica->live_requests() > 0 || s.replica->step_in_flight()) return true;
  }
  return false;
}

SimTime Simulation::next_sample(SimTime now, SimTime every) const {
  SimTime next = now + every;
  // State changes only at events, so every row between now and the next event is the same:
  // only the first and the last row of such a stretch are written. A 1 ms interval over an
  // idle gap or a KV transfer of days would otherwise be billions of events (issue #16).
  const SimTime event = queue_.next_time();  // the next arrival is always queued
  if (event != kTimeInfinity && event > now) {
    const SimTime last_before = now + (event - now - 1) / every * every;
    next = std::max(next, last_before);
  }
  return next;
}

InputError Simulation::event_budget_exceeded() const {
  std::int64_t finished = 0;
  for (const auto& s : replicas_) finished += s.replica->counters().finished;
  return InputError("run.max_events: the run reached " + format_number(static_cast<double>(scenario_.run.max_events)) +
                    " events at simulated time " + format_number(to_seconds(queue_.now())) + " s with " +
                    std::to_string(finished) + " requests finished; the scenario's event count explodes (raise "
                    "run.max_events if the run is meant to be this long)");
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
  const bool single = replicas_.size() == 1;
  const auto max_events = static_cast<std::uint64_t>(scenario_.run.max_events);
  while (!queue_.empty()) {
    if (queue_.events_processed() >= max_events) throw event_budget_exceeded();
    const Event e = queue_.pop();
    const SimTime now = e.time;
    std::size_t touched = static_cast<std::size_t>(e.target);
    switch (e.kind) {
      case EventKind::kArrival: {
        const RequestSpec r = *pending_;
        pending_ = workload_->next();
        if (pending_) {
          if (pending_->arrival < r.arrival) throw InvariantViolation("workload produced a decreasing arrival time");
          queue_.schedule(pending_->arrival, Phase::kArrival, EventKind::kArrival);
        }
        const RouteRequest rr{r.prompt_tokens, r.output_tokens, 0};
        touched = route(rr, &r, 0, entry_);
        const std::uint8_t method = method_for(r, touched);
        replicas_[touched].replica->enqueue(r, method, length_multiplier(r, method), now);
        wake(touched, now);
        break;
      }
      case EventKind::kKvArrival: {
        auto it = in_transit_.find(e.target);
        if (it == in_transit_.end()) throw InvariantViolation("KV arrival for an unknown transfer");
        const Handoff h = std::move(it->second.first);
        in_transit_.erase(it);
        const RouteRequest rr{h.request.spec.prompt_tokens, h.request.spec.output_tokens, h.request.resident_tokens};
        touched = route(rr, nullptr, h.request.method, decode_);
        replicas_[touched].replica->receive(h, now);
        wake(touched, now);
        break;
      }
      case EventKind::kWake:
        replicas_[touched].wake_pending = false;
        start_replica(touched, now);
        collect_handoffs(touched, now);
        break;
      case EventKind::kStepComplete:
        replicas_[touched].replica->complete_step(now);
        collect_handoffs(touched, now);
        start_replica(touched, now);
        collect_handoffs(touched, now);
        break;
      case EventKind::kSample: {
        for (const auto& s : replicas_) {
          const SampleRecord rec = s.replica->sample(now);
          for (auto* sink : sinks_) sink->on_sample(rec);
        }
        if (any_live()) queue_.schedule(next_sample(now, sample_every), Phase::kSample, EventKind::kSample);
        break;
      }
      case EventKind::kHorizon:
        result.horizon_reached = true;
        break;
    }
    // Invariants of the replica this event touched (all of them every deep check).
    const bool deep = deep_every > 0 && --until_deep <= 0;
    if (single || deep || e.kind == EventKind::kSample || e.kind == EventKind::kHorizon) {
      for (const auto& s : replicas_) s.replica->check_invariants(deep);
    } else {
      replicas_[touched].replica->check_invariants(false);
    }
    if (until_deep <= 0) until_deep = deep_every;
    if (result.horizon_reached) break;
    // Stop once the workload is exhausted and every request is done (a pending sample or
    // horizon event alone does not keep the run alive).
    if (!any_live()) {
      SimTime end = now;
      for (const auto& s : replicas_) end = std::max(end, s.replica->last_step_end());
      result.end_time = end;
      break;
    }
  }
  if (!result.horizon_reached && result.end_time == 0) result.end_time = queue_.now();
  if (result.horizon_reached) result.end_time = queue_.now();
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    const Replica& r = *replicas_[i].replica;
    r.check_invariants(deep_every > 0);
    result.counters += r.counters();
    result.replicas.push_back({static_cast<std::int32_t>(i), replicas_[i].group, r.counters(), r.kv().capacity()});
  }
  result.events = queue_.events_processed();
  result.kv_transfers = transfers_;
  result.kv_transfer_bytes = transfer_bytes_;
  return result;
}

}  // namespace kvsim
