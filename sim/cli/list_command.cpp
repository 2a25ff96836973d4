#include <cstdio>
#include <iostream>

#include "models/compression/compression_registry.h"
#include "models/compression/kv_layout.h"
#include "models/cost/host_model.h"
#include "models/spec/catalog.h"
#include "sim/cli/commands.h"
#include "sim/core/error.h"
#include "sim/pipeline/metric_catalog.h"
#include "sim/serving/engine_config.h"
#include "sim/serving/engine_profile.h"
#include "sim/serving/router.h"
#include "sim/serving/scheduler.h"
#include "traces/length_distribution.h"
#include "traces/workload.h"

namespace kvsim::cli {

namespace {
// One line per registry entry: name, summary and capabilities.
template <class R>
void print_registry(const R& registry) {
  for (const auto& e : registry.entries()) {
    std::printf("%-19s %s%s\n", e.name.c_str(), e.summary.c_str(),
                e.capabilities.empty() ? "" : ("  [" + join(e.capabilities, ", ") + "]").c_str());
  }
}
}  // namespace

int list_command(const std::vector<std::string>& args) {
  const std::vector<std::string> topics = {"models", "gpus", "engines", "overheads", "arrivals", "lengths", "compression", "metrics", "schedulers", "routers"};
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "kvsim list <topic>\nkvsim list engines NAME | overheads NAME\n\nShow the catalog. Topics: "
              << join(topics, ", ") << ". With NAME: that engine's implementation profile, or that host model, with the "
              << "source of every number.\n";
    return args.empty() ? 2 : 0;
  }
  // `list engines NAME` / `list overheads NAME` print one entry in full, with sources.
  if (args.size() > 2 || (args.size() == 2 && args[0] != "engines" && args[0] != "overheads")) {
    throw InputError("list takes one topic, or 'engines NAME' / 'overheads NAME' (got " + std::to_string(args.size()) +
                     " arguments)");
  }
  if (args.size() == 2) {
    if (args[0] == "engines") {
      // The graph capture limit depends on the GPU and the batch caps: shown for the H200.
      const EngineProfile p = engine_profile(args[1]);
      const HostModel h = engine_preset(args[1], Catalog::builtin().gpu("h200")).host;
      std::cout << format_engine_profile(p, &h, "h200");
    } else {
      const HostModel h = host_model_preset(args[1]);
      std::cout << args[1] << ": " << h.summary() << "\n";
      for (const auto& s : h.sources) {
        std::cout << "  " << s.name << " = " << s.value << "  [" << provenance_name(s.kind) << ": " << s.source << "]\n";
      }
    }
    return 0;
  }
  const std::string& t = args[0];
  const Catalog catalog = Catalog::builtin();
  if (t == "models") {
    std::printf("%-14s %7s %7s %6s %4s %5s %7s %8s %8s %10s\n", "name", "params", "layers", "hidden", "q", "kv",
                "ffn", "vocab", "context", "KV B/tok");
    for (const auto& [name, m] : catalog.models()) {
      std::printf("%-14s %6.2fB %7d %6d %4d %5d %7d %8d %8d %10lld\n", name.c_str(), m.num_parameters / 1e9,
                  m.num_layers, m.hidden_size, m.num_attention_heads, m.num_kv_heads, m.intermediate_size,
                  m.vocab_size, m.max_context, static_cast<long long>(m.kv_bytes_per_token()));
    }
  } else if (t == "gpus") {
    std::printf("%-10s %9s %9s %9s %9s %5s %9s %9s %8s\n", "name", "mem GiB", "HBM GB/s", "fp16 TF", "fp8 TF", "SMs",
                "host GB/s", "NVLink", "$/hour");
    for (const auto& [name, g] : catalog.gpus()) {
      std::printf("%-10s %9.1f %9.0f %9.1f %9.1f %5d %9.0f %9.0f %8.2f\n", name.c_str(),
                  g.memory_bytes / (1024.0 * 1024 * 1024), g.hbm_bandwidth_gbps, g.fp16_tflops, g.fp8_tflops,
                  g.num_sms, g.host_link_gbps, g.nvlink_gbps, g.price_per_hour_usd);
    }
  } else if (t == "engines") {
    for (const auto& n : engine_preset_names()) std::printf("%-19s %s\n", n.c_str(), describe_engine_preset(n).c_str());
    std::printf("\n(kvsim list engines NAME: the implementation profile, its rules and their sources)\n");
  } else if (t == "overheads") {
    for (const auto& n : host_model_preset_names()) {
      const HostModel o = host_model_preset(n);
      std::printf("%-19s %s%s\n", n.c_str(), o.summary().c_str(), o.has_assumed() ? "  [some terms assumed]" : "");
    }
    std::printf("\n(kvsim list overheads NAME: each term with its source)\n");
  } else if (t == "compression") {
    std::printf("%-20s %-13s %6s %6s %10s %7s  %-38s %s\n", "method", "family", "K bits", "V bits", "B/tok-head",
                "ratio", "retention", "length effect (>=1.5x / <=0.5x / mean longer)");
    for (const auto& name : compression_names()) {
      const std::string concrete = name == "ratio:<x>" ? "ratio:4" : name == "ratio:<x>:eviction" ? "ratio:4:eviction" : name;
      const CompressionSpec s = builtin_compression(concrete);
      const double bytes = kv_bytes_per_token_head(s.format, 128);
      std::string ret = "all tokens";
      if (s.retention.evicts()) {
        ret = s.retention.keep_fraction > 0 ? "keep 1/" + std::to_string(static_cast<int>(1 / s.retention.keep_fraction + 0.5)) + " of prompt"
                                            : "keep " + std::to_string(s.retention.budget_tokens) + " tokens";
        ret += s.retention.every_step ? ", every step" : ", once after prefill";
      }
      char le[96] = "none";
      if (s.length.enabled) {
        std::snprintf(le, sizeof le, "%.1f%% / %.1f%% / %.2fx", s.length.longer_1_5x * 100, s.length.shorter_2x * 100,
                      s.length.mean_ratio_longer);
      }
      std::printf("%-20s %-13s %6.1f %6.1f %10.1f %6.2fx  %-38s %s\n", concrete.c_str(), s.family.c_str(),
                  s.format.key_bits, s.format.value_bits, bytes, 512.0 / bytes, ret.c_str(), le);
    }
    std::printf("\n(bytes per token per KV head for head_dim 128; fp16 = 512. Sources: docs/compression.md)\n");
  } else if (t == "metrics") {
    // The metric catalogue: sweep columns and validate's metric names (sim/pipeline/metric_catalog.h).
    std::printf("%-20s %-9s %s\n", "name", "unit", "meaning");
    for (const auto& m : metric_catalog()) {
      std::printf("%-20s %-9s %s (report %s)\n", m.name.c_str(), m.unit.c_str(), m.description.c_str(), m.pointer.c_str());
    }
    std::printf("%-20s %-9s %s\n", "step_ms", "ms", "one engine iteration (kvsim validate's step points; kvsim step)");
  } else if (t == "arrivals") {
    print_registry(arrival_registry());
  } else if (t == "lengths") {
    print_registry(length_registry());
  } else if (t == "schedulers") {
    print_registry(scheduler_registry());
  } else if (t == "routers") {
    print_registry(router_registry());
  } else {
    throw InputError("unknown topic '" + t + "'" + did_you_mean(t, topics) + "; valid topics: " + join(topics, ", "));
  }
  return 0;
}

}  // namespace kvsim::cli
