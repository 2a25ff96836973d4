#include "sim/serving/engine_config.h"

#include "sim/core/error.h"

namespace kvsim {

std::vector<std::string> engine_preset_names() { return {"lmdeploy-pytorch", "static", "vllm-v0", "vllm-v1"}; }

std::string describe_engine_preset(const std::string& name) {
  if (name == "vllm-v0") {
    return "vLLM V0 (<=0.6): prefill-first iterations, FCFS, 1% admission watermark, LIFO preemption, recompute "
           "(swap optional), block 16, max_num_seqs 256";
  }
  if (name == "vllm-v1") {
    return "vLLM V1 (>=0.8): chunked prefill always, mixed prefill/decode under a token budget, LIFO preemption "
           "by recompute, block 16, CUDA graphs";
  }
  if (name == "lmdeploy-pytorch") {
    return "LMDeploy PyTorch engine (0.6): separate prefill and decode forwards, prefill_interval 16, block 64, "
           "cache_max_entry_count 0.8 of free memory, self-preemption by recompute";
  }
  if (name == "static") return "static batching (HF generate): fixed batches padded to the longest prompt and output";
  return "";
}

EngineConfig engine_preset(const std::string& name, const GpuSpec& gpu) {
  EngineConfig e;
  e.preset = name;
  const double gib = static_cast<double>(gpu.memory_bytes) / (1024.0 * 1024 * 1024);
  if (name == "vllm-v0") {
    e.scheduler = "vllm-v0";
    e.block_size = 16;
    e.max_num_seqs = 256;
    e.max_num_batched_tokens = 0;  // resolved below: max(max_model_len, 2048) without chunking
    e.watermark = 0.01;
    e.overhead = overhead_preset("cuda-graph");
    e.overhead.per_step_ns = 3 * kNsPerMs;  // V0's Python scheduler + input prep, heavier than V1
    e.overhead.preset = "vllm-v0";
    e.graph_reserve_gib = 0.5;
  } else if (name == "vllm-v1") {
    e.scheduler = "vllm-v1";
    e.block_size = 16;
    const bool big = gib >= 70.0 && gpu.name.rfind("a100", 0) != 0;
    // API-server defaults (vllm serve), the setting a capacity planner models.
    e.max_num_seqs = big ? 1024 : 256;
    e.max_num_batched_tokens = big ? 8192 : 2048;
    e.chunked_prefill = true;
    e.overhead = overhead_preset("cuda-graph");
    e.graph_reserve_gib = 0.5;
  } else if (name == "lmdeploy-pytorch") {
    e.scheduler = "lmdeploy-pytorch";
    e.block_size = 64;
    e.max_num_seqs = 128;  // max_batches
    e.max_num_batched_tokens = 4096;  // max_prefill_token_num
    e.gpu_memory_utilization = 0.8;   // cache_max_entry_count
    e.prefill_interval = 16;
    e.capacity_rule = CapacityRule::kLmdeploy;
    e.overhead = overhead_preset("cuda-graph");
    e.overhead.per_step_ns = 2 * kNsPerMs;
    e.overhead.preset = "lmdeploy-pytorch";
  } else if (name == "static") {
    e.scheduler = "static";
    e.block_size = 16;
    e.max_num_seqs = 16;  // batch size
    // No token budget in HF generate; this only sizes the activation reserve estimate.
    e.max_num_batched_tokens = 32768;
    e.overhead = overhead_preset("eager");
  } else {
    throw InputError("unknown engine '" + name + "'" + did_you_mean(name, engine_preset_names()) +
                     "; valid engines: " + join(engine_preset_names(), ", "));
  }
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
  auto positive = [&](const char* key, int& field) {
    field = r.get<int>(key, field);
    if (field < 1) r.error(key, "must be >= 1 (got " + std::to_string(field) + ")");
  };
  positive("block_size", e.block_size);
  positive("max_num_seqs", e.max_num_seqs);
  e.max_model_len = r.get<int>("max_model_len", e.max_model_len);
  if (e.max_model_len < 0) r.error("max_model_len", "must be >= 1");
  if (e.max_model_len > model.max_context) {
    r.error("max_model_len", "exceeds the model's context (" + std::to_string(model.max_context) + ")");
  }
  e.chunked_prefill = r.get<bool>("chunked_prefill", e.chunked_prefill);
  if (e.preset == "vllm-v1" && !e.chunked_prefill) r.error("chunked_prefill", "vLLM V1 always chunks prefills");
  const int max_len = e.effective_max_model_len(model);
  if (e.max_num_batched_tokens == 0) e.max_num_batched_tokens = e.chunked_prefill ? 2048 : std::max(max_len, 2048);
  positive("max_num_batched_tokens", e.max_num_batched_tokens);
  if (e.scheduler != "lmdeploy-pytorch" && e.scheduler != "static" && e.max_num_batched_tokens < e.max_num_seqs) {
    r.error("max_num_batched_tokens", "must be >= max_num_seqs (" + std::to_string(e.max_num_seqs) +
                                          "), as vLLM requires");
  }
  e.gpu_memory_utilization = r.get<double>("gpu_memory_utilization", e.gpu_memory_utilization);
  if (!(e.gpu_memory_utilization > 0 && e.gpu_memory_utilization <= 1)) {
    r.error("gpu_memory_utilization", "must be in (0, 1]");
  }
  if (auto n = r.get_optional<std::int64_t>("num_gpu_blocks")) {
    if (*n < 1) r.error("num_gpu_blocks", "must be >= 1");
    e.num_gpu_blocks = n;
  }
  e.watermark = r.get<double>("watermark", e.watermark);
  if (!(e.watermark >= 0 && e.watermark < 1)) r.error("watermark", "must be in [0, 1)");
  const std::string mode = r.get<std::string>("preemption_mode", "recompute");
  if (mode == "recompute") e.preemption_mode = PreemptionMode::kRecompute;
  else if (mode == "swap") e.preemption_mode = PreemptionMode::kSwap;
  else r.error("preemption_mode", "must be 'recompute' or 'swap' (got '" + mode + "')");
  if (e.preemption_mode == PreemptionMode::kSwap && e.scheduler != "vllm-v0") {
    r.error("preemption_mode", "swap is only modelled for vllm-v0 (vLLM V1 and LMDeploy PyTorch recompute)");
  }
  e.swap_space_gib = r.get<double>("swap_space_gib", e.swap_space_gib);
  if (e.swap_space_gib < 0) r.error("swap_space_gib", "must be >= 0");
  positive("prefill_interval", e.prefill_interval);
  if (auto a = r.get_optional<double>("activation_reserve_gib")) {
    if (*a < 0) r.error("activation_reserve_gib", "must be >= 0");
    e.activation_reserve_gib = a;
  }
  e.graph_reserve_gib = r.get<double>("graph_reserve_gib", e.graph_reserve_gib);
  if (e.graph_reserve_gib < 0) r.error("graph_reserve_gib", "must be >= 0");
  e.non_torch_reserve_gib = r.get<double>("non_torch_reserve_gib", e.non_torch_reserve_gib);
  if (e.non_torch_reserve_gib < 0) r.error("non_torch_reserve_gib", "must be >= 0");

  // overhead: a preset name or {preset, per_step_ms, per_request_us, per_token_us}
  const YAML::Node ov = r.raw("overhead");
  if (ov && ov.IsScalar()) {
    try {
      e.overhead = overhead_preset(ov.as<std::string>());
    } catch (const InputError& err) {
      r.error("overhead", err.what());
    }
  } else if (ov && ov.IsMap()) {
    ConfigReader o(ov, r.key_path("overhead"), r.file(), r.errors());
    if (auto p = o.get_optional<std::string>("preset")) {
      try {
        e.overhead = overhead_preset(*p);
      } catch (const InputError& err) {
        o.error("preset", err.what());
      }
    }
    auto term = [&](const char* key, Duration& field, double unit_ns) {
      if (auto v = o.get_optional<double>(key)) {
        if (*v < 0) o.error(key, "must be >= 0");
        field = static_cast<Duration>(*v * unit_ns);
        e.overhead.preset = "custom";
      }
    };
    term("per_step_ms", e.overhead.per_step_ns, 1e6);
    term("per_request_us", e.overhead.per_request_ns, 1e3);
    term("per_token_us", e.overhead.per_token_ns, 1e3);
    o.finish();
  } else if (ov) {
    r.error("overhead", "expected a preset name or a mapping");
  }
  r.finish();
  return e;
}

}  // namespace kvsim
