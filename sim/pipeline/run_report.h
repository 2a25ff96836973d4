#pragma once
// The run report: {schema_version, context, summary}. `context` describes the inputs and
// provenance; `summary` the results. The text summary printed on stdout is rendered from the
// same JSON and contains nothing volatile (no wall time, host or date), so it is
// byte-deterministic for a given scenario and seed.
#include <nlohmann/json.hpp>

#include <string>

#include "sim/config/scenario.h"
#include "sim/serving/simulation.h"

namespace kvsim {

inline constexpr int kReportSchemaVersion = 1;

nlohmann::json scenario_context(const Scenario& s, const std::string& cost_model, const std::string& workload);
nlohmann::json capacity_json(const KvCapacity& c);
nlohmann::json build_report(const Scenario& s, const std::string& cost_model, const std::string& workload,
                            const RunResult& result, const nlohmann::json& summary);
std::string render_text_summary(const nlohmann::json& report);
std::string kvsim_version();

}  // namespace kvsim
