#pragma once
// Helpers the engine files share: a rule with its provenance, and the host model's note of
// which steps replay CUDA graphs.
#include <algorithm>
#include <string>

#include "models/cost/host_model.h"

namespace kvsim::engine_rules {

inline SourcedValue cited(std::string key, std::string value, std::string source) {
  return {std::move(key), std::move(value), Provenance::kCited, std::move(source)};
}
inline SourcedValue measured(std::string key, std::string value, std::string source) {
  return {std::move(key), std::move(value), Provenance::kMeasured, std::move(source)};
}
inline SourcedValue assumed(std::string key, std::string value, std::string why) {
  return {std::move(key), std::move(value), Provenance::kAssumed, std::move(why)};
}

// Records (replacing an earlier one) the host model's graph_capture source line.
inline void note_graph_capture(HostModel& h, const std::string& value, Provenance kind, const std::string& source) {
  auto& src = h.sources;
  src.erase(std::remove_if(src.begin(), src.end(), [](const SourcedValue& v) { return v.name == "graph_capture"; }),
            src.end());
  src.push_back({"graph_capture", value, kind, source});
}

}  // namespace kvsim::engine_rules
