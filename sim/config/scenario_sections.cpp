#include "sim/config/scenario_sections.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "calibration/fit/fitter.h"
#include "calibration/fit/vidur_import.h"
#include "calibration/transfer/plausibility.h"
#include "calibration/transfer/transfer_bundle.h"
#include "models/compression/compression_registry.h"
#include "models/compression/length_effect.h"
#include "models/cost/table_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/spec/hf_config.h"
#include "sim/serving/router.h"
#include "sim/serving/scheduler.h"
#include "sim/core/config_reader.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/core/text_file.h"
#include "traces/workload.h"

namespace kvsim::scenario_sections {

YAML::Node load_yaml_file(const std::string& path) {
  YAML::Node n = parse_yaml_text(read_text_file(path, "scenario file"), path);
  if (n.IsNull()) n = YAML::Node(YAML::NodeType::Map);
  if (!n.IsMap()) throw InputError(path + ": a scenario must be a YAML mapping");
  return n;
}

// `engine` supplies the defaults its profile implies (the attention semantics).
// The engine profile's costing gives the defaults (on this GPU); the section's keys override them.
RooflineParams decode_roofline(ConfigReader r, const EngineConfig& engine, const GpuSpec& gpu, const Catalog& catalog,
                               std::string& kind, std::string& calibration, std::string& profiles) {
  RooflineParams p;
  apply_engine_costing(engine.profile.costing, gpu, catalog, p);
  kind = r.get<std::string>("kind", "auto");
  const std::vector<std::string> kinds = {"auto", "roofline", "calibrated", "vidur"};
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    r.error("kind", "unknown cost model '" + kind + "'" + did_you_mean(kind, kinds) + "; valid: " + join(kinds, ", "));
  }
  calibration = r.get<std::string>("calibration", "");
  if (kind == "calibrated" && calibration.empty()) r.error("calibration", "required when kind is 'calibrated' (a bundle directory)");
  if (kind == "roofline" && !calibration.empty()) r.error("calibration", "conflicts with kind 'roofline' (drop one of them)");
  profiles = r.get<std::string>("profiles", "");
  if (kind == "vidur" && profiles.empty()) {
    r.error("profiles", "required when kind is 'vidur' (a directory with Vidur's mlp.csv and attention.csv)");
  }
  if (kind != "vidur" && !profiles.empty()) r.error("profiles", "only with kind 'vidur'");
  if (kind == "vidur" && !calibration.empty()) r.error("calibration", "conflicts with kind 'vidur' (drop one of them)");
  auto fraction = [&](const char* key, double& field) { field = r.get<double>(key, field, positive_upto(1)); };
  fraction("compute_efficiency", p.compute_efficiency);
  fraction("memory_efficiency", p.memory_efficiency);
  fraction("attention_compute_efficiency", p.attention_compute_efficiency);
  // Per-kernel host costs are microseconds (measured: 2-5 us); 1000 us bounds a step of a
  // 1000-layer model at 1000 kernels per layer to 1000 s, far inside simulated time.
  const double gap_us = r.get<double>("kernel_gap_us", static_cast<double>(p.kernel_gap_ns) / 1e3, closed(0, 1000, "us"));
  p.kernel_gap_ns = static_cast<Duration>(gap_us * 1e3);
  p.kernels_per_layer = r.get<int>("kernels_per_layer", p.kernels_per_layer, closed(0, 1000));
  p.extra_kernel_us = r.get<double>("extra_kernel_us", p.extra_kernel_us, closed(0, 1000, "us"));
  p.prefill_kernel = r.get<std::string>("prefill_kernel", p.prefill_kernel);
  if (p.prefill_kernel.empty()) r.error("prefill_kernel", "must name a prefill_attention variant of the bundle (default 'flash')");
  p.gemm_variant = r.get<std::string>("gemm_variant", p.gemm_variant);
  // A batch-masked attention layer per layer (measured on the H200: 19.9 us, 40.1 ns per KV
  // token, 41.9 ps per query x KV pair) and HF's sliding-window path (H100: 90.8 us, 20.2 ns per
  // KV token); the bounds are 100-1000x those.
  for (auto [key, field, range] : {std::tuple<const char*, double*, Range>{"masked_fixed_us", &p.masked_fixed_us, closed(0, 1e4, "us")},
                                   {"masked_ns_per_kv", &p.masked_ns_per_kv, closed(0, 1e4, "ns")},
                                   {"masked_ps_per_pair", &p.masked_ps_per_pair, closed(0, 1e5, "ps")},
                                   {"masked_single_fixed_us", &p.masked_single_fixed_us, closed(0, 1e4, "us")},
                                   {"masked_single_ns_per_kv", &p.masked_single_ns_per_kv, closed(0, 1e4, "ns")},
                                   {"window_path_fixed_us", &p.window_path_fixed_us, closed(0, 1e4, "us")},
                                   {"window_path_ns_per_kv", &p.window_path_ns_per_kv, closed(0, 1e4, "ns")}}) {
    *field = r.get<double>(key, *field, range);
  }
  p.decode_max_splits = r.get<int>("decode_max_splits", p.decode_max_splits, closed(1, 1024));
  const std::string attention = r.get<std::string>("attention", p.batch_masked_attention ? "batch_masked" : "varlen");
  p.batch_masked_attention = attention == "batch_masked";
  if (attention != "batch_masked" && attention != "varlen") r.error("attention", "must be 'varlen' (per-sequence kernels) or 'batch_masked' (got '" + attention + "')");
  r.finish();
  return p;
}

bool mentions_key(const YAML::Node& node, const std::string& key) {
  if (!node) return false;
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.Scalar() == key || mentions_key(kv.second, key)) return true;
    }
  } else if (node.IsSequence()) {
    for (const auto& v : node) {
      if (mentions_key(v, key)) return true;
    }
  }
  return false;
}

// An engine that reads a quantized KV through a separate dequantize pass (HF transformers'
// QuantizedCache: cache_utils.py dequantizes the stored part every step before attention)
// prices every quantized method that way, unless the scenario says otherwise.
void apply_dequant_path(const EngineProfile& profile, bool scenario_says, std::vector<CompressionSpec>& methods) {
  if (scenario_says || profile.costing.dequant != DequantPath::kUnfused) return;
  for (auto& m : methods) {
    if (m.format.quantized()) m.work.fused_dequant = false;
  }
}

// Adds `spec` to the table unless an identical name is there; returns its index.
std::uint8_t intern_method(std::vector<CompressionSpec>& table, const CompressionSpec& spec) {
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (table[i].name == spec.name) return static_cast<std::uint8_t>(i);
  }
  table.push_back(spec);
  return static_cast<std::uint8_t>(table.size() - 1);
}

// `compression:` is a method name, or {method, params, length_effect, routing}.
void decode_compression(const YAML::Node& node, ConfigReader& parent, Scenario& s) {
  s.methods.clear();
  if (!node || node.IsNull()) {
    s.methods.push_back(builtin_compression("fp16"));
    return;
  }
  if (node.IsScalar()) {
    s.methods.push_back(decode_compression_method(node, parent.key_path("compression"), parent));
    return;
  }
  ConfigReader r(node, parent.key_path("compression"), parent.file(), parent.errors());
  YAML::Node method = r.raw("method");
  if (!method) method = YAML::Node("fp16");
  YAML::Node params = r.raw("params");
  // Build the method node fresh: assigning to a yaml-cpp handle would write through to
  // `method` itself.
  YAML::Node spec_node;
  if (params && params.IsMap()) {
    spec_node = YAML::Clone(params);
    spec_node["method"] = YAML::Clone(method);
  } else {
    if (params) r.error("params", "expected a mapping of method parameters");
    spec_node = YAML::Clone(method);
  }
  s.methods.push_back(decode_compression_method(spec_node, r.key_path(params ? "params" : "method"), r));
  const YAML::Node le = r.raw("length_effect");
  if (le) {
    if (le.IsScalar()) {
      try {
        s.length_effect = le.as<bool>();
      } catch (const YAML::Exception&) {
        r.error("length_effect", "expected true, false or {pairs_file: PATH}");
      }
    } else if (le.IsMap()) {
      ConfigReader lr(le, r.key_path("length_effect"), r.file(), r.errors());
      std::string pairs = lr.require<std::string>("pairs_file");
      namespace fs = std::filesystem;
      if (!pairs.empty() && !fs::path(pairs).is_absolute() && !s.base_dir.empty() &&
          fs::exists(fs::path(s.base_dir) / pairs)) {
        pairs = (fs::path(s.base_dir) / pairs).string();
      }
      s.methods[0].length.enabled = true;
      s.methods[0].length.pairs_file = pairs;
      s.methods[0].length.source = "user pairs " + pairs;
      try {
        LengthEffectSampler probe(s.methods[0].length);
      } catch (const InputError& e) {
        lr.error("pairs_file", e.what());
      }
      lr.finish();
    } else {
      r.error("length_effect", "expected true, false or {pairs_file: PATH}");
    }
  }
  const YAML::Node routing = r.raw("routing");
  if (routing) {
    if (!routing.IsSequence()) {
      r.error("routing", "expected a list of {min_prompt_tokens, max_prompt_tokens, method}");
    } else {
      for (std::size_t i = 0; i < routing.size(); ++i) {
        const std::string path = r.key_path("routing") + "[" + std::to_string(i) + "]";
        ConfigReader rr(routing[i], path, r.file(), r.errors());
        RoutingRule rule;
        rule.min_prompt_tokens = rr.get<int>("min_prompt_tokens", 0, closed(0, kMaxTokens, "tokens"));
        rule.max_prompt_tokens = rr.get<int>("max_prompt_tokens", 0, closed(0, kMaxTokens, "tokens (0: no upper bound)"));
        const YAML::Node m = rr.raw("method");
        if (!m) rr.error("method", "required key is missing");
        else rule.method = intern_method(s.methods, decode_compression_method(m, rr.key_path("method"), rr));
        rr.finish();
        s.routing.push_back(rule);
      }
    }
  }
  r.finish();
}

RunOptions decode_run(ConfigReader r) {
  RunOptions o;
  o.horizon_s = r.get_optional<double>("horizon_s", positive_upto(kSimTimeLimitS, "s (the simulated-time limit)"));
  o.sample_interval_s = r.get<double>("sample_interval_s", o.sample_interval_s, closed(0, kSimTimeLimitS, "s"));
  // A sample per interval of simulated time: below 1 ms a long run writes millions of rows (and
  // runs for minutes on a handful of requests), so 0 (off) or [0.001, 1e9] s.
  if (!(o.sample_interval_s == 0 || o.sample_interval_s >= 1e-3)) {
    r.error("sample_interval_s", "must be 0 (no sampling) or in [0.001, 1e9] s");
  }
  o.livelock_steps = r.get<std::int64_t>("livelock_steps", o.livelock_steps, closed(1, 1e9, "steps"));
  o.deep_check_every = r.get<std::int64_t>("deep_check_every", o.deep_check_every, closed(0, 1e12, "events (0 disables deep checks)"));
  o.max_trace_events = r.get<std::int64_t>("max_trace_events", o.max_trace_events, closed(0, 1e9, "events"));
  o.max_events = r.get<std::int64_t>("max_events", o.max_events, closed(1, 1e12, "events"));
  o.goodput_ttft_s = r.get<double>("goodput_ttft_s", 0.0, closed(0, kSimTimeLimitS, "s (0: no limit)"));
  o.goodput_tpot_s = r.get<double>("goodput_tpot_s", 0.0, closed(0, kSimTimeLimitS, "s (0: no limit)"));
  r.finish();
  return o;
}


ParallelismSpec decode_parallelism(ConfigReader r, ParallelismSpec p) {
  p.tensor = r.get<int>("tensor", p.tensor, closed(1, 64, "GPUs"));
  p.pipeline = r.get<int>("pipeline", p.pipeline, closed(1, 64, "stages"));
  p.comm_overlap = r.get<double>("comm_overlap", p.comm_overlap, closed(0, 1));
  p.link_gbps = r.get<double>("link_gbps", p.link_gbps, closed(0, 1e5, "GB/s (0: the GPU's NVLink figure)"));
  p.link_efficiency = r.get<double>("link_efficiency", p.link_efficiency, positive_upto(1));
  p.hop_latency_us = r.get<double>("hop_latency_us", p.hop_latency_us, closed(0, 1e6, "us"));
  p.collectives = r.get<std::string>("collectives", p.collectives);
  r.finish();
  return p;
}

namespace {

// `over` laid over a deep copy of `base` (mappings merge key by key; anything else replaces).
YAML::Node merge_yaml(const YAML::Node& base, const YAML::Node& over) {
  if (!over || over.IsNull()) return base ? YAML::Clone(base) : YAML::Node();
  if (!base || !base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const auto key = yaml_key(kv.first);
    if (!key) continue;  // reported by the strict reader of the merged section
    const YAML::Node& cbase = out;
    const YAML::Node existing = cbase[*key];
    out[*key] = merge_yaml(existing, kv.second);
  }
  return out;
}

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  namespace fs = std::filesystem;
  if (!path.empty() && !fs::path(path).is_absolute() && !base_dir.empty() && fs::exists(fs::path(base_dir) / path)) {
    return (fs::path(base_dir) / path).string();
  }
  return path;
}

// A split replica needs a link bandwidth: the GPU's NVLink figure, or parallelism.link_gbps.
void check_link(const ParallelismSpec& p, const GpuSpec& gpu, ConfigReader& r) {
  if (!p.single() && p.link_gbps <= 0 && gpu.nvlink_gbps <= 0) {
    r.error("parallelism", gpu.name + " has no NVLink figure in the catalog: set parallelism.link_gbps (the link "
                                      "bandwidth per direction, GB/s)");
  }
}

}  // namespace

// Decodes `cluster:` (or, without it, one group from the top level) into s.cluster.groups:
// names, counts, roles, GPUs, engines, parallelism and forced methods. Capacities and cost
// sources are resolved later, once every error has been reported.
void decode_cluster(ConfigReader& top, const YAML::Node& doc, Scenario& s, const Catalog& catalog) {
  const YAML::Node& cdoc = doc;
  const YAML::Node top_engine = cdoc["engine"];
  const YAML::Node top_parallel = cdoc["parallelism"];
  s.cluster = ClusterSpec{};
  if (!top.has("cluster")) {
    ReplicaGroup g;
    g.name = "replica";
    g.gpu = s.gpu;
    g.engine = s.engine;
    g.parallelism = s.parallelism;
    for (const auto& problem : validate_parallelism(g.parallelism, s.model)) top.error("parallelism", problem);
    check_link(g.parallelism, g.gpu, top);
    s.cluster.groups.push_back(std::move(g));
    return;
  }
  s.cluster.explicit_cluster = true;
  ConfigReader r = top.child("cluster");
  s.cluster.router = r.get<std::string>("router", s.cluster.router);
  const std::vector<std::string> routers = router_names();
  if (std::find(routers.begin(), routers.end(), s.cluster.router) == routers.end()) {
    r.error("router", "unknown router '" + s.cluster.router + "'" + did_you_mean(s.cluster.router, routers) +
                          "; valid: " + join(routers, ", "));
  }
  {
    ConfigReader t = r.child("kv_transfer");
    // 1e-6 GB/s (1 kB/s) still moves a 1.8 GB cache inside simulated time (1.8e6 s).
    s.cluster.kv_link_gbps = t.get<double>("link_gbps", s.cluster.kv_link_gbps, closed(1e-6, 1e5, "GB/s"));
    s.cluster.kv_latency_us = t.get<double>("latency_us", s.cluster.kv_latency_us, closed(0, 1e9, "us"));
    t.finish();
  }
  const YAML::Node list = r.raw("replicas");
  if (!list || !list.IsSequence() || list.size() == 0) {
    r.error("replicas", "expected a non-empty list of replica groups ({count, gpu, parallelism, compression, role, engine})");
    r.finish();
    return;
  }
  int total = 0;
  bool prefill = false, decode = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = r.key_path("replicas") + "[" + std::to_string(i) + "]";
    ConfigReader g(list[i], path, r.file(), r.errors());
    ReplicaGroup group;
    group.name = g.get<std::string>("name", "group" + std::to_string(i));
    group.count = g.get<int>("count", 1, closed(1, 4096, "replicas"));
    total += std::max(0, group.count);
    const std::string role = g.get<std::string>("role", "mixed");
    if (role == "mixed") group.role = ReplicaRole::kMixed;
    else if (role == "prefill") group.role = ReplicaRole::kPrefill;
    else if (role == "decode") group.role = ReplicaRole::kDecode;
    else g.error("role", "unknown role '" + role + "'; valid: mixed, prefill, decode");
    prefill |= group.role == ReplicaRole::kPrefill;
    decode |= group.role == ReplicaRole::kDecode;
    group.gpu = s.gpu;
    if (auto gpu = g.get_optional<std::string>("gpu")) {
      try {
        group.gpu = catalog.gpu(*gpu);
      } catch (const InputError& e) {
        g.error("gpu", e.what());
      }
    }
    const YAML::Node engine = merge_yaml(top_engine, g.raw("engine"));
    group.engine = decode_engine(ConfigReader(engine, path + ".engine", r.file(), r.errors()), group.gpu, s.model);
    const YAML::Node parallel = merge_yaml(top_parallel, g.raw("parallelism"));
    group.parallelism = decode_parallelism(ConfigReader(parallel, path + ".parallelism", r.file(), r.errors()), {});
    for (const auto& problem : validate_parallelism(group.parallelism, s.model)) g.error("parallelism", problem);
    check_link(group.parallelism, group.gpu, g);
    if (group.role != ReplicaRole::kMixed && !scheduler_registry().has(group.engine.scheduler, kKvHandover)) {
      g.error("role", std::string("a ") + role_name(group.role) + " replica needs a vLLM engine (preset vllm-v0 or vllm-v1); '" +
                          group.engine.preset + "' has no KV hand-over");
    }
    if (const YAML::Node m = g.raw("compression")) {
      try {
        group.method = intern_method(s.methods, decode_compression_method(m, g.key_path("compression"), g));
      } catch (const InputError& e) {
        g.error("compression", e.what());
      }
    }
    g.finish();
    s.cluster.groups.push_back(std::move(group));
  }
  if (total > 65536) r.error("replicas", "at most 65536 replicas in all (got " + std::to_string(total) + ")");
  // A decode group serves requests in the format their prefill replica wrote: a decode group's
  // fixed method must be every prefill group's fixed method too.
  for (std::size_t i = 0; i < s.cluster.groups.size(); ++i) {
    const ReplicaGroup& d = s.cluster.groups[i];
    if (d.role != ReplicaRole::kDecode || !d.method) continue;
    for (const ReplicaGroup& p : s.cluster.groups) {
      if (p.role == ReplicaRole::kPrefill && p.method != d.method) {
        r.error("replicas", "group '" + d.name + "' decodes with " + s.methods[*d.method].name + " but prefill group '" +
                                p.name + "' writes " + (p.method ? s.methods[*p.method].name : std::string("per-request methods")) +
                                " (a hand-over keeps the KV format: give both the same compression)");
      }
    }
  }
  if (prefill != decode) {
    r.error("replicas", std::string("disaggregated serving needs at least one ") + (prefill ? "decode" : "prefill") +
                            " group (roles: prefill groups hand requests to decode groups)");
  }
  r.finish();
}

// The capacity and cost sources of one group (after every decode error has been reported).
void resolve_group(ReplicaGroup& g, const Scenario& s, const std::string& cost_kind,
                   const std::string& calibration_dir, const std::string& vidur_dir, const Catalog& catalog,
                   const CalibrationSource& calibration) {
  namespace fs = std::filesystem;
  g.shard = shard_model(s.model, g.parallelism);
  const std::string who = s.cluster.explicit_cluster ? "cluster group '" + g.name + "': " : "";
  try {
    g.capacity = compute_kv_capacity(g.shard, g.gpu, g.engine, s.methods, g.method.value_or(0), g.method.has_value());
  } catch (const InputError& e) {
    throw InputError(s.source + ": " + who + e.what());
  }
  // Cost model: an explicit bundle (calibrated, or transfer when measured on another GPU),
  // an installed bundle for exactly this GPU and (shard) model (auto), or the roofline.
  try {
  if (cost_kind == "vidur") {
    // Vidur's profiles were measured on the group's GPU (they carry no GPU name of their own).
    CalibratedCosts c = fit_bundle(bundle_from_vidur(resolve_path(vidur_dir, s.base_dir), s.model, g.shard.name,
                                                     g.parallelism.tensor, g.engine.block_size, g.gpu.display_name),
                                   g.gpu.name);
    c.provenance = "Vidur profiles for " + g.shard.name + " (" + vidur_dir + ")";
    g.calibration = std::move(c);
  } else if (!calibration_dir.empty()) {
    g.calibration = calibration.load(resolve_path(calibration_dir, s.base_dir), g.shard.name, catalog);
  } else if (cost_kind == "auto") {
    g.calibration = find_installed_calibration(calibration, catalog, g.gpu, s.model, g.shard.name);
  }
  if (g.calibration) {
    g.cost_kind = "calibrated";
    g.calibration_gpu = catalog.gpu(g.calibration->catalog_gpu);
  }
  // Collectives: the measured tables for this GPU (all-reduce and all-gather at this tensor
  // degree, sends), or an explicit all-reduce CSV.
  const int t = g.parallelism.tensor;
  const std::string& want = g.parallelism.collectives;
  if (!g.parallelism.single() && want == "auto") {
    g.collective_tables = find_collective_tables(calibration.dirs(), g.gpu.name, t);
  } else if (t > 1 && want != "ring") {
    const std::string path = resolve_path(want, s.base_dir);
    g.collective_tables.all_reduce = read_allreduce_csv(path, t);
    g.collective_tables.source = path;
  }
  } catch (const InputError& e) {
    if (!s.cluster.explicit_cluster) throw;
    throw InputError(s.source + ": " + who + e.what());
  }
  // Framework kernel choices the resolved cost model cannot serve, reported before any run.
  const auto problems = g.calibration ? framework_variant_problems(*g.calibration, s.roofline)
                                      : framework_variants_without_bundle(s.roofline);
  if (!problems.empty()) throw InputError(s.source + ": " + who + "cost_model." + problems.front());
}


}  // namespace kvsim::scenario_sections
