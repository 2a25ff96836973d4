#pragma once
// Host-side cost of one engine iteration, as physics rather than one constant.
//
// An iteration has a serial host part the GPU waits for (scheduling, input preparation, the
// sampling sync, detokenization) and an issue part: launching the step's kernels. In graph mode
// the issue part is one CUDA-graph replay; in eager mode the host dispatches every kernel itself
// (PyTorch's dispatcher, Python module calls), and the GPU runs them as they arrive, so issue and
// device work overlap:
//
//   step = serial + max(issue, device)          issue = L * (k * dispatch + python) + k0 * dispatch
//
// with L decoder layers, k kernels per layer, k0 kernels outside the layers. The constants of each
// preset are measured (calibration/e2e/host_overhead_probe.py; docs/engines.md says how to
// re-measure them on your own host) or labelled assumed; `sources` names each one's origin.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/time.h"

namespace kvsim {

// Where a number comes from, as a user reads it in `kvsim list` and report headers.
// kScenario: set by the user's scenario (its file and key are the source).
enum class Provenance : std::uint8_t { kMeasured, kCited, kAssumed, kScenario };
std::string provenance_name(Provenance p);

struct SourcedValue {
  std::string name;    // the constant, e.g. "dispatch_us"
  std::string value;   // as printed, with its unit
  Provenance kind = Provenance::kAssumed;
  std::string source;  // file and run, or citation, or why it is assumed (with the error seen for this kind)
};

struct HostCost {
  Duration serial_ns = 0;  // host work the device waits for
  Duration issue_ns = 0;   // host work that overlaps device execution
};

struct HostModel {
  std::string preset;  // preset name, or "custom" once a scenario overrides a term
  bool eager = false;  // the host launches each kernel (no CUDA graph)
  // Serial part.
  Duration per_step_ns = 0;
  Duration per_request_ns = 0;  // per request in the batch
  Duration per_token_ns = 0;    // per token processed in the step
  // Issue part (eager): per kernel dispatch, per layer Python beyond it, kernels launched.
  Duration dispatch_ns = 0;
  Duration per_layer_ns = 0;
  int kernels_per_layer = 0;
  int kernels_fixed = 0;
  // Issue part (graph mode): one replay of the captured step.
  Duration graph_replay_ns = 0;
  std::vector<SourcedValue> sources;

  Duration serial_for_step(std::int64_t requests, std::int64_t tokens) const {
    return per_step_ns + per_request_ns * requests + per_token_ns * tokens;
  }
  Duration issue_for_step(int layers) const {
    if (!eager) return graph_replay_ns;
    return static_cast<Duration>(layers) * (kernels_per_layer * dispatch_ns + per_layer_ns) + kernels_fixed * dispatch_ns;
  }
  HostCost for_step(std::int64_t requests, std::int64_t tokens, int layers) const {
    return {serial_for_step(requests, tokens), issue_for_step(layers)};
  }
  // Host time a step pays beyond its device time: serial + max(0, issue - device).
  Duration exposed_ns(std::int64_t requests, std::int64_t tokens, int layers, Duration device_ns) const {
    const HostCost h = for_step(requests, tokens, layers);
    return h.serial_ns + std::max<Duration>(0, h.issue_ns - device_ns);
  }
  // True when any constant is assumed (reports flag it).
  bool has_assumed() const;
  // "serial 1.000 ms/step + 5.0 us/request + 0.20 us/token; graph replay 5.0 us".
  std::string summary() const;
};

// Throws InputError listing the presets when `name` is unknown.
HostModel host_model_preset(const std::string& name);
std::vector<std::string> host_model_preset_names();

}  // namespace kvsim
