#include "sim/engine/event_queue.h"

#include <string>

namespace kvsim {

void EventQueue::schedule(SimTime at, Phase phase, EventKind kind, std::int64_t target) {
  if (at < now_) {
    throw InvariantViolation("event scheduled in the past: at " + std::to_string(at) +
                             " ns, now " + std::to_string(now_) + " ns");
  }
  heap_.push(Event{at, phase, next_seq_++, kind, target});
}

Event EventQueue::pop() {
  Event e = heap_.top();
  heap_.pop();
  if (e.time < now_) throw InvariantViolation("time went backwards");
  now_ = e.time;
  ++processed_;
  return e;
}

}  // namespace kvsim
