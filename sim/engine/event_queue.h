#pragma once
// The DES kernel: a priority queue of events ordered by (time, phase, sequence number).
// It knows nothing about LLMs. The set of event kinds is closed (see EventKind); behaviour
// is extended through policies, not new events.
#include <cstdint>
#include <queue>
#include <vector>

#include "sim/core/error.h"
#include "sim/core/time.h"

namespace kvsim {

// Same-time order. Each value's position is a decision; the reason is beside it.
enum class Phase : std::uint8_t {
  // Arrivals first: a request arriving at the exact instant a step ends is visible to the
  // scheduler that plans the next step (as in a real engine polling its input queue).
  kArrival = 0,
  // Step completions retire tokens, free blocks and plan the next step.
  kStepComplete = 1,
  // Samples read state after every change at that instant.
  kSample = 2,
  // The horizon closes the run after everything else at that instant.
  kHorizon = 3,
};

// kWake starts an idle replica after every arrival of that instant was enqueued (so an
// all-at-once burst forms one batch, not one request then the rest). kKvArrival delivers a
// prefilled request's KV to a decode replica (disaggregated serving; an arrival phase).
enum class EventKind : std::uint8_t { kArrival, kWake, kStepComplete, kSample, kHorizon, kKvArrival };

struct Event {
  SimTime time = 0;
  Phase phase = Phase::kArrival;
  std::uint64_t seq = 0;      // insertion order: the only tie-break, never a pointer or hash
  EventKind kind = EventKind::kArrival;
  std::int64_t target = 0;    // replica index (steps, wakes) or transfer id (KV arrivals)
};

class EventQueue {
 public:
  // Precondition: at >= now(). Scheduling in the past is an InvariantViolation.
  void schedule(SimTime at, Phase phase, EventKind kind, std::int64_t target = 0);
  bool empty() const { return heap_.empty(); }
  const Event& top() const { return heap_.top(); }
  SimTime next_time() const { return heap_.empty() ? kTimeInfinity : heap_.top().time; }
  // Removes and returns the earliest event and advances now() to its time.
  Event pop();
  SimTime now() const { return now_; }
  std::uint64_t events_processed() const { return processed_; }
  std::size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      if (a.time != b.time) return a.time > b.time;
      if (a.phase != b.phase) return a.phase > b.phase;
      return a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  SimTime now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t processed_ = 0;
};

}  // namespace kvsim
