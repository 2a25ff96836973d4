#include "sim/serving/engine_config.h"

#include <algorithm>
#include <cstdio>

#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/serving/engine_profile.h"
#include "sim/serving/engines/engines.h"
#include "sim/serving/scheduler.h"

namespace kvsim {

std::vector<std::string> engine_preset_names() { return engine_profile_names(); }

std::string describe_engine_preset(const std::string& name) {
  const EngineProfile p = engine_profile(name);
  return p.engine + "; " + p.issue;
}

namespace {

// Which steps the engine replays from captured CUDA graphs (the engine's own rule,
// EngineDefinition::graph_capture); an eager host, or one with no host cost, replays none.
// Depends on the batch caps and the host model, so it runs after both are final.
void apply_graph_capture(const EngineDefinition& d, EngineConfig& e, const GpuSpec& gpu) {
  const HostModel& h = e.host;
  if (h.eager || h.preset == "hf-cb" || h.preset == "none") return;
  if (d.graph_capture) d.graph_capture(e, gpu);
}

}  // namespace

EngineConfig engine_preset(const std::string& name, const GpuSpec& gpu) {
  EngineConfig e;
  e.preset = name;
  const EngineDefinition d = engine_definition(name);  // names the valid engines when `name` is unknown
  e.profile = d.profile;
  e.host = host_model_preset(e.profile.host_preset);
  // The knobs are the profile's rules (sim/serving/engines/*.cpp cites each one;
  // tests/serving/engine_profile_test.cpp checks that the two agree).
  if (d.knobs) d.knobs(e, gpu);
  apply_graph_capture(d, e, gpu);
  return e;
}

EngineConfig decode_engine(ConfigReader r, const GpuSpec& gpu, const ModelSpec& model) {
  const std::string preset = r.get<std::string>("preset", "vllm-v1");
  EngineConfig e;
  try {
    e = engine_preset(preset, gpu);
  } catch (const InputError& err) {
    r.error("preset", err.what());
    e = engine_preset("vllm-v1", gpu);
  }
  auto count = [&](const char* key, int& field, double hi, const char* unit) { field = r.get<int>(key, field, closed(1, hi, unit)); };
  count("block_size", e.block_size, 65536, "tokens");
  count("max_num_seqs", e.max_num_seqs, 1e6, "sequences");
  e.max_model_len = r.get<int>("max_model_len", e.max_model_len, closed(0, kMaxTokens, "tokens (0: the model's context)"));
  if (e.max_model_len > model.max_context) {
    r.error("max_model_len", "exceeds the model's context (" + std::to_string(model.max_context) + ")");
  }
  e.chunked_prefill = r.get<bool>("chunked_prefill", e.chunked_prefill);
  if (scheduler_registry().has(e.scheduler, kAlwaysChunksPrefill) && !e.chunked_prefill) {
    r.error("chunked_prefill", "preset " + e.preset + " always chunks prefills (vLLM V1's scheduling rules)");
  }
  const int max_len = e.effective_max_model_len(model);
  if (e.max_num_batched_tokens == 0) e.max_num_batched_tokens = e.chunked_prefill ? 2048 : std::max(max_len, 2048);
  count("max_num_batched_tokens", e.max_num_batched_tokens, kMaxTokens, "tokens");
  count("max_prefill_tokens", e.max_prefill_tokens, kMaxTokens, "tokens");
  e.schedule_conservativeness = r.get<double>("schedule_conservativeness", e.schedule_conservativeness, positive_upto(100));
  if (scheduler_registry().has(e.scheduler, kTokenBudgetCoversSeqs) && e.max_num_batched_tokens < e.max_num_seqs) {
    r.error("max_num_batched_tokens", "must be >= max_num_seqs (" + std::to_string(e.max_num_seqs) +
                                          "), as vLLM requires");
  }
  e.gpu_memory_utilization = r.get<double>("gpu_memory_utilization", e.gpu_memory_utilization, positive_upto(1));
  // HF continuous batching sizes its pool by solving for blocks and batch tokens together
  // (max_memory_percent 0.9); kvsim has that engine's result only where it was measured.
  if (e.preset == "hf-cb" && model.name == "llama-3-8b" && gpu.name == "h200") e.num_gpu_blocks = 3038;
  if (auto n = r.get_optional<std::int64_t>("num_gpu_blocks", closed(1, 1e9, "blocks"))) e.num_gpu_blocks = n;
  e.watermark = r.get<double>("watermark", e.watermark, Range{0, 1, false, true});
  const std::string mode = r.get<std::string>("preemption_mode", "recompute");
  if (mode == "recompute") e.preemption_mode = PreemptionMode::kRecompute;
  else if (mode == "swap") e.preemption_mode = PreemptionMode::kSwap;
  else r.error("preemption_mode", "must be 'recompute' or 'swap' (got '" + mode + "')");
  if (e.preemption_mode == PreemptionMode::kSwap && !scheduler_registry().has(e.scheduler, kSwapPreemption)) {
    r.error("preemption_mode", "swap is only modelled for vllm-v0 (vLLM V1 and LMDeploy PyTorch recompute)");
  }
  // Host and GPU memory in GiB: 1e5 GiB (100 TiB) is beyond any one machine.
  e.swap_space_gib = r.get<double>("swap_space_gib", e.swap_space_gib, closed(0, 1e5, "GiB"));
  count("prefill_interval", e.prefill_interval, 1e6, "steps");
  if (auto a = r.get_optional<double>("activation_reserve_gib", closed(0, 1e5, "GiB"))) e.activation_reserve_gib = a;
  e.graph_reserve_gib = r.get<double>("graph_reserve_gib", e.graph_reserve_gib, closed(0, 1e5, "GiB"));
  e.non_torch_reserve_gib = r.get<double>("non_torch_reserve_gib", e.non_torch_reserve_gib, closed(0, 1e5, "GiB"));

  // overhead: a preset name or {preset, per_step_ms, per_request_us, per_token_us}
  const YAML::Node ov = r.raw("overhead");
  int graph_max = -1;  // overhead.graph_max, when the scenario sets it
  if (ov && ov.IsScalar()) {
    try {
      e.host = host_model_preset(ov.as<std::string>());
    } catch (const InputError& err) {
      r.error("overhead", err.what());
    }
  } else if (ov && ov.IsMap()) {
    ConfigReader o(ov, r.key_path("overhead"), r.file(), r.errors());
    if (auto p = o.get_optional<std::string>("preset")) {
      try {
        e.host = host_model_preset(*p);
      } catch (const InputError& err) {
        o.error("preset", err.what());
      }
    }
    // A term the scenario sets replaces the preset's constant and its source.
    auto set_source = [&](const char* key, const std::string& value) {
      e.host.preset = "custom";
      auto& src = e.host.sources;
      src.erase(std::remove_if(src.begin(), src.end(), [&](const SourcedValue& v) { return v.name == key; }), src.end());
      src.push_back({key, value, Provenance::kScenario, o.where(key)});
    };
    // Each term is bounded so a step can never overflow simulated time (int64 ns; the run limit
    // is 1e9 s): at most 1000 s per step, per request or per layer-sized term.
    auto term = [&](const char* key, Duration& field, double unit_ns) {
      const double max = 1e12 / unit_ns;  // 1000 s in the key's unit
      if (auto v = o.get_optional<double>(key, closed(0, max, unit_ns == 1e6 ? "ms (1000 s)" : "us (1000 s)"))) {
        field = static_cast<Duration>(*v * unit_ns);
        set_source(key, std::to_string(*v));
      }
    };
    auto kernels = [&](const char* key, int& field) {
      if (auto v = o.get_optional<int>(key, closed(0, 1e4, "kernels"))) {
        field = *v;
        set_source(key, std::to_string(*v));
      }
    };
    if (auto m = o.get_optional<std::string>("mode")) {
      if (*m == "eager") e.host.eager = true;
      else if (*m == "graph") e.host.eager = false;
      else o.error("mode", "must be 'eager' (the host launches every kernel) or 'graph' (got '" + *m + "')");
      set_source("mode", *m);
    }
    term("per_step_ms", e.host.per_step_ns, 1e6);
    term("per_request_us", e.host.per_request_ns, 1e3);
    term("per_token_us", e.host.per_token_ns, 1e3);
    term("dispatch_us", e.host.dispatch_ns, 1e3);
    term("per_layer_us", e.host.per_layer_ns, 1e3);
    term("graph_replay_us", e.host.graph_replay_ns, 1e3);
    kernels("kernels_per_layer", e.host.kernels_per_layer);
    kernels("kernels_fixed", e.host.kernels_fixed);
    if (auto v = o.get_optional<int>("graph_max", closed(0, 1e6, "sequences"))) {
      graph_max = *v;
      set_source("graph_max", std::to_string(*v));
    }
    o.finish();
  } else if (ov) {
    r.error("overhead", "expected a preset name or a mapping");
  }
  // The capture follows the final batch caps and host model; a scenario's graph_max wins.
  apply_graph_capture(engine_definition(e.preset), e, gpu);
  if (graph_max >= 0) e.host.graph_max = graph_max;
  r.finish();
  return e;
}

}  // namespace kvsim
