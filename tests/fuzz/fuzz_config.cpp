// libFuzzer target: the scenario loader (YAML decode, validation, resolution) and, for small
// workloads, a whole run. Bad input must raise InputError, never crash or break a law.
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/config/scenario.h"
#include "sim/core/error.h"
#include "sim/metrics/summary.h"
#include "sim/serving/simulation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const kvsim::Catalog catalog = kvsim::Catalog::builtin();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const kvsim::Scenario s = kvsim::load_scenario_text(text, "<fuzz>", {}, std::nullopt, catalog);
    // Keep each input fast: run only small workloads with a bounded horizon.
    if (!s.workload || s.workload->size_hint() > 50) return 0;
    kvsim::SummaryCollector summary;
    const auto cost = kvsim::make_cost_model(s);
    kvsim::Simulation sim(s, *cost, {&summary});
    sim.run();
  } catch (const kvsim::InputError&) {
  }
  return 0;
}
