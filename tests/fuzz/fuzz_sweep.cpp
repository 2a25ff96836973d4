// libFuzzer target: sweep and plan specs (parse and expand).
#include <cstddef>
#include <cstdint>
#include <string>

#include "experiments/planner.h"
#include "experiments/sweep.h"
#include "sim/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const kvsim::SweepSpec s = kvsim::parse_sweep_spec(text, "<fuzz>");
    std::size_t n = s.repetitions;
    for (const auto& a : s.axes) n *= a.values.size();
    for (const auto& z : s.zips) n *= z.front().values.size();
    if (n <= 10000) kvsim::expand_sweep(s, 1);
  } catch (const kvsim::InputError&) {
  }
  try {
    kvsim::parse_plan_spec(text, "<fuzz>");
  } catch (const kvsim::InputError&) {
  }
  return 0;
}
