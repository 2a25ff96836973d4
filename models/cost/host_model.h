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
// with L decoder layers, k kernels per layer, k0 kernels outside the layers. Graph mode covers only
// the steps the engine captured (GraphCoverage: vLLM V0 and SGLang capture decode-only batches up to
// a batch size, vLLM V1 any batch up to a token count); every other step is issued eagerly, with the
// same terms as eager mode. The constants of each
// preset are measured (calibration/e2e/host_overhead_probe.py; docs/engines.md says how to
// re-measure them on your own host) or labelled assumed; `sources` names each one's origin.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "models/cost/batch_shape.h"
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

// Which steps a CUDA-graph engine replays from a captured graph.
//   kAll:        every step (an engine whose graphs cover everything, or a measured whole-step cost)
//   kDecodeOnly: decode-only steps of at most graph_max rows (0: any) and, where graph_max_context
//                is set, no context longer than it (vLLM V0's max_seq_len_to_capture)
//   kTokens:     any step of at most graph_max tokens (vLLM V1's piecewise graphs)
enum class GraphCoverage : std::uint8_t { kAll, kDecodeOnly, kTokens };

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
  GraphCoverage graph_coverage = GraphCoverage::kAll;
  std::int64_t graph_max = 0;
  std::int32_t graph_max_context = 0;
  std::vector<SourcedValue> sources;

  // True when this step replays a captured graph (graph mode and inside the coverage).
  bool replays_graph(const BatchShape& shape) const {
    if (eager) return false;
    switch (graph_coverage) {
      case GraphCoverage::kAll: return true;
      case GraphCoverage::kDecodeOnly: {
        if (!shape.prefills.empty()) return false;
        if (graph_max > 0 && shape.decode_count() > graph_max) return false;
        if (graph_max_context > 0) {
          for (const auto& g : shape.decode) {
            if (g.context_max > graph_max_context) return false;
          }
        }
        return true;
      }
      case GraphCoverage::kTokens: return graph_max <= 0 || shape.tokens() <= graph_max;
    }
    return true;
  }

  Duration serial_for_step(std::int64_t requests, std::int64_t tokens) const {
    return per_step_ns + per_request_ns * requests + per_token_ns * tokens;
  }
  // The eager issue of one step: every kernel dispatched by the host.
  Duration eager_issue(int layers) const {
    return static_cast<Duration>(layers) * (kernels_per_layer * dispatch_ns + per_layer_ns) + kernels_fixed * dispatch_ns;
  }
  // Issue of a step the engine replays (graph mode) or, in eager mode, dispatches.
  Duration issue_for_step(int layers) const { return eager ? eager_issue(layers) : graph_replay_ns; }
  HostCost for_step(const BatchShape& shape, int layers) const {
    return {serial_for_step(shape.requests(), shape.tokens()),
            replays_graph(shape) ? graph_replay_ns : eager_issue(layers)};
  }
  // Host time a step pays beyond its device time: serial + max(0, issue - device).
  Duration exposed_ns(const BatchShape& shape, int layers, Duration device_ns) const {
    const HostCost h = for_step(shape, layers);
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
