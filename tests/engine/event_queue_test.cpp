#include "sim/engine/event_queue.h"

#include <gtest/gtest.h>

namespace kvsim {
namespace {

TEST(EventQueue, OrdersByTimeThenPhaseThenInsertion) {
  EventQueue q;
  q.schedule(10, Phase::kStepComplete, EventKind::kStepComplete, 1);
  q.schedule(10, Phase::kArrival, EventKind::kArrival, 2);
  q.schedule(5, Phase::kHorizon, EventKind::kHorizon, 3);
  q.schedule(10, Phase::kArrival, EventKind::kArrival, 4);
  q.schedule(10, Phase::kSample, EventKind::kSample, 5);
  std::vector<std::int64_t> order;
  while (!q.empty()) order.push_back(q.pop().target);
  EXPECT_EQ(order, (std::vector<std::int64_t>{3, 2, 4, 1, 5}));
  EXPECT_EQ(q.now(), 10);
  EXPECT_EQ(q.events_processed(), 5u);
}

TEST(EventQueue, SchedulingInThePastIsAnInvariantViolation) {
  EventQueue q;
  q.schedule(100, Phase::kArrival, EventKind::kArrival);
  q.pop();
  EXPECT_THROW(q.schedule(99, Phase::kArrival, EventKind::kArrival), InvariantViolation);
  EXPECT_NO_THROW(q.schedule(100, Phase::kArrival, EventKind::kArrival));
}

}  // namespace
}  // namespace kvsim
