#pragma once
#include <string>

#include "models/cost/batch_shape.h"
#include "models/cost/step_cost.h"

namespace kvsim {

// One interface for every source of step times: the roofline (fallback), calibrated tables
// (preferred, calibration issue) and imported operator profiles.
class CostModel {
 public:
  virtual ~CostModel() = default;
  // Contract: pure and deterministic; no hidden state. Postcondition: total_ns > 0 for any
  // non-empty shape (a zero-length step would stall the clock).
  virtual StepCost step_cost(const BatchShape& shape) const = 0;
  // One line naming the source and its key parameters (printed in reports).
  virtual std::string describe() const = 0;
};

}  // namespace kvsim
