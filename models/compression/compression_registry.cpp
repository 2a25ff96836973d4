#include "models/compression/compression_registry.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sim/core/error.h"
#include "sim/core/limits.h"

namespace kvsim {

namespace {

// Statistics from the study (docs/compression.md): share >= 1.5x longer, share >= 2x
// shorter, mean ratio on the longer answers (Mistral-7B, ShareGPT, temperature 1.0).
LengthEffect study_length(double longer, double shorter, double mean_longer, const std::string& what) {
  LengthEffect l;
  l.enabled = true;
  l.longer_1_5x = longer;
  l.shorter_2x = shorter;
  l.mean_ratio_longer = mean_longer;
  l.source = "Gao et al., MLSys'25 (" + what + ")";
  return l;
}

CompressionSpec fp16() {
  CompressionSpec s;
  s.name = "fp16";
  s.family = "none";
  s.description = "uncompressed fp16/bf16 KV (baseline)";
  s.source = "-";
  return s;
}

CompressionSpec per_head_quant(const std::string& name, double bits, double efficiency, const std::string& src) {
  CompressionSpec s;
  s.name = name;
  s.family = "quantization";
  s.format.key_bits = s.format.value_bits = bits;
  s.format.per_head_scales = true;
  s.format.scale_bytes = 4;  // fp16 scale + zero per token per head, for K and for V
  s.work.quantize_on_write = true;
  s.work.fused_dequant = true;
  s.work.attention_efficiency = efficiency;
  s.source = src;
  s.description = std::to_string(static_cast<int>(bits)) +
                  "-bit asymmetric per-token-head KV, fused into paged attention (LMDeploy quant_policy=" +
                  std::to_string(static_cast<int>(bits)) + ")";
  return s;
}

CompressionSpec kivi(int bits) {
  CompressionSpec s;
  s.name = "kivi-" + std::to_string(bits);
  s.family = "quantization";
  s.format.key_bits = s.format.value_bits = bits;
  s.format.group_size = 32;
  s.format.key_per_channel = true;
  s.format.scale_bytes = 4;
  s.format.residual_tokens = 128;
  s.work.quantize_on_write = true;
  s.work.fused_dequant = true;
  s.work.flush_every = 128;
  s.work.attention_efficiency = 0.30;
  s.description = "KIVI: keys per-channel, values per-token, group 32, fp16 residual of 128 recent tokens";
  s.source = "jy-yuan/KIVI (ICML'24); rethink-kv LMDeploy fork (paged, fp16 residual blocks)";
  s.length = study_length(0.449, 0.028, 1.69, "KIVI");
  return s;
}

CompressionSpec gear(int bits) {
  CompressionSpec s;
  s.name = "gear-" + std::to_string(bits);
  s.family = "quantization";
  s.format.key_bits = s.format.value_bits = bits;
  s.format.group_size = 64;
  s.format.scale_bytes = 4;
  s.format.residual_tokens = 64;
  s.format.lowrank_fraction = 0.02;  // rank 2 % of head_dim
  s.format.outlier_fraction = 0.02;
  s.work.quantize_on_write = true;
  s.work.fused_dequant = true;
  s.work.flush_every = 64;
  s.work.attention_efficiency = 0.30;
  s.description = "GEAR: " + std::to_string(bits) + "-bit KIVI-style codes + low-rank (rank 2 %) + 2 % sparse outliers";
  s.source = "opengear-project/GEAR (arXiv 2403.05527)";
  s.length = study_length(0.494, 0.008, 1.70, "GEAR");
  return s;
}

CompressionSpec streaming() {
  CompressionSpec s;
  s.name = "streamingllm";
  s.family = "eviction";
  s.retention.kind = RetentionKind::kWindow;
  s.retention.sink_tokens = 64;
  s.retention.recent_tokens = 448;
  s.retention.budget_tokens = 512;
  s.work.topk_compaction = true;  // block compaction after prefill (no scores needed)
  s.description = "StreamingLLM: 64 sink + 448 recent tokens, applied once after prefill (as in the study)";
  s.source = "mit-han-lab/streaming-llm (ICLR'24); rethink-kv fork";
  s.length = study_length(0.163, 0.173, 1.76, "StreamingLLM-512");
  return s;
}

CompressionSpec h2o() {
  CompressionSpec s;
  s.name = "h2o";
  s.family = "eviction";
  s.retention.kind = RetentionKind::kHeavyHitter;
  s.retention.heavy_tokens = 64;
  s.retention.recent_tokens = 448;
  s.retention.budget_tokens = 512;
  s.work.scores_at_prefill = true;  // needs materialized attention probabilities: no flash
  s.work.topk_compaction = true;
  s.description = "H2O: 64 heavy hitters + 448 recent tokens, selected once after prefill from accumulated scores";
  s.source = "FMInference/H2O (NeurIPS'23); rethink-kv fork";
  s.length = study_length(0.143, 0.110, 1.55, "H2O-512");
  return s;
}

CompressionSpec snapkv(bool pyramid) {
  CompressionSpec s;
  s.name = pyramid ? "pyramidkv" : "snapkv";
  s.family = "eviction";
  s.retention.kind = RetentionKind::kSnapshot;
  s.retention.recent_tokens = 32;
  s.retention.budget_tokens = 2048;
  s.retention.pyramid = pyramid;
  s.work.topk_compaction = true;
  s.work.observation_window = 32;
  s.description = pyramid ? "PyramidKV: SnapKV selection with per-layer budgets (beta 20), mean budget 2048"
                          : "SnapKV: keep 2048 prompt tokens chosen by a 32-query observation window, once at prefill";
  s.source = pyramid ? "Zefan-Cai/KVCache-Factory" : "FasterDecoding/SnapKV (NeurIPS'24)";
  // No length statistics published for SnapKV; the study's H2O numbers are used.
  s.length = study_length(0.143, 0.110, 1.55, "H2O-512 statistics, assumed for SnapKV/PyramidKV");
  return s;
}

CompressionSpec ratio_method(double x, bool eviction) {
  CompressionSpec s;
  std::ostringstream name;
  name << "ratio:" << x << (eviction ? ":eviction" : "");
  s.name = name.str();
  s.family = "ratio";
  // Strength relative to the reference method of the family (KIVI-4 at 3.2x, H2O at
  // about 4x of a ShareGPT context): shares and mean excess scale with log(ratio).
  const double ref = eviction ? 4.0 : 3.2;
  const double k = x > 1 ? std::log(x) / std::log(ref) : 0.0;
  if (eviction) {
    s.retention.kind = RetentionKind::kSnapshot;
    s.retention.budget_tokens = 0;
    s.retention.keep_fraction = 1.0 / x;  // proportional: keep prompt / ratio
    s.work.topk_compaction = true;
    s.work.observation_window = 32;
    s.description = "generic eviction keeping 1/" + std::to_string(x).substr(0, 5) + " of the prompt once after prefill";
    const LengthEffect ref_l = h2o().length;
    s.length = study_length(std::min(0.9, ref_l.longer_1_5x * k), std::min(0.5, ref_l.shorter_2x * k),
                            1.0 + (ref_l.mean_ratio_longer - 1.0) * k, "H2O statistics scaled by log(ratio)/log(4)");
  } else {
    s.format.key_bits = s.format.value_bits = 16.0 / x;
    s.work.quantize_on_write = x > 1;
    s.work.fused_dequant = true;
    s.work.attention_efficiency = x > 1 ? 0.30 + 0.70 / x : 1.0;
    s.description = "generic quantization storing 16/" + std::to_string(x).substr(0, 5) + " bits per value";
    const LengthEffect ref_l = kivi(4).length;
    s.length = study_length(std::min(0.9, ref_l.longer_1_5x * k), std::min(0.5, ref_l.shorter_2x * k),
                            1.0 + (ref_l.mean_ratio_longer - 1.0) * k, "KIVI statistics scaled by log(ratio)/log(3.2)");
  }
  if (x <= 1) s.length.enabled = false;
  // At large X the log-scaled shares (each capped on its own) add up to more than the whole
  // population (ratio:X from X = 63.7, where 0.9 + 0.028 log(X)/log(3.2) passes 1; issue #16):
  // scale both down together, keeping their proportion, so the longer and shorter answers are
  // at most all of them.
  const double shares = s.length.longer_1_5x + s.length.shorter_2x;
  if (shares > 1.0) {
    s.length.longer_1_5x /= shares;
    s.length.shorter_2x /= shares;
  }
  // Scaled-down statistics must stay a valid mixture: the mean of the longer answers can be
  // no less than the mean of its (1, 1.5) band and the 1.5x tail at their shares.
  const double mid = (1.0 - s.length.longer_1_5x - s.length.shorter_2x) / 2.0;
  if (mid + s.length.longer_1_5x > 0) {
    const double floor_mean = (1.25 * mid + 1.5 * s.length.longer_1_5x) / (mid + s.length.longer_1_5x);
    s.length.mean_ratio_longer = std::max(s.length.mean_ratio_longer, floor_mean + 1e-9);
  }
  s.source = "kvsim generic method (docs/compression.md)";
  return s;
}

}  // namespace

const CompressionRegistry& compression_registry() {
  // One line per built-in method (`kvsim list compression` order); a capability is the family
  // ("quantization", "eviction", ...), so callers may ask what a method does.
  static const CompressionRegistry r = [] {
    const std::vector<std::pair<std::string, std::function<CompressionSpec()>>> methods = {
        {"fp16", fp16},
        {"fp8", [] {
           CompressionSpec s;
           s.name = "fp8";
           s.family = "quantization";
           s.format.key_bits = s.format.value_bits = 8;
           s.work.quantize_on_write = true;
           s.work.fused_dequant = true;
           // vLLM docs: "no latency improvements as the implementation does not yet include
           // fused dequantization and attention": half the bytes at half the efficiency.
           s.work.attention_efficiency = 0.5;
           s.description = "fp8 e4m3 KV with a per-tensor scale (vLLM kv_cache_dtype=fp8)";
           s.source = "vLLM docs (quantized KV cache)";
           return s;
         }},
        {"int8", [] { return per_head_quant("int8", 8, 0.9, "LMDeploy kv_quant docs; TurboMind block layout"); }},
        {"int4", [] { return per_head_quant("int4", 4, 0.8, "LMDeploy kv_quant docs; TurboMind block layout"); }},
        {"kivi-2", [] { return kivi(2); }},
        {"kivi-4", [] { return kivi(4); }},
        {"gear-4", [] { return gear(4); }},
        {"gear-8", [] { return gear(8); }},
        {"streamingllm", streaming},
        {"h2o", h2o},
        {"snapkv", [] { return snapkv(false); }},
        {"pyramidkv", [] { return snapkv(true); }},
    };
    std::vector<CompressionRegistry::Entry> entries;
    for (const auto& [name, make] : methods) {
      const CompressionSpec s = make();
      entries.push_back({name, s.description, {s.family}, make});
    }
    return CompressionRegistry("compression method", std::move(entries));
  }();
  return r;
}

std::vector<std::string> compression_names() {
  std::vector<std::string> out = compression_registry().names();
  out.insert(out.end(), {"ratio:<x>", "ratio:<x>:eviction"});  // the generic methods, parsed by name
  return out;
}

CompressionSpec builtin_compression(const std::string& name) {
  if (name == "none" || name == "bf16") return fp16();  // aliases
  if (const auto* e = compression_registry().find(name)) return e->make();
  if (name.rfind("ratio:", 0) == 0) {
    std::string rest = name.substr(6);
    bool eviction = false;
    const auto colon = rest.find(':');
    if (colon != std::string::npos) {
      const std::string style = rest.substr(colon + 1);
      if (style == "eviction") eviction = true;
      else if (style != "quantization") {
        throw InputError("compression '" + name + "': style must be 'quantization' or 'eviction' (got '" + style + "')");
      }
      rest = rest.substr(0, colon);
    }
    double x = 0;
    try {
      std::size_t pos = 0;
      x = std::stod(rest, &pos);
      if (pos != rest.size()) throw std::invalid_argument(rest);
    } catch (const std::exception&) {
      throw InputError("compression '" + name + "': ratio must be a number, e.g. ratio:4");
    }
    if (!(x >= 1) || x > 64) throw InputError("compression '" + name + "': ratio must be in [1, 64]");
    return ratio_method(x, eviction);
  }
  throw InputError("unknown compression method '" + name + "'" + did_you_mean(name, compression_names()) +
                   "; valid: " + join(compression_names(), ", "));
}

CompressionSpec decode_compression_method(const YAML::Node& node, const std::string& path, ConfigReader& parent) {
  if (node.IsScalar()) {
    try {
      return builtin_compression(node.Scalar());
    } catch (const InputError& e) {
      parent.errors().add(parent.file() + ": " + path + ": " + e.what());
      return fp16();
    }
  }
  if (!node.IsMap()) {
    parent.errors().add(parent.file() + ": " + path + ": expected a method name or a mapping");
    return fp16();
  }
  ConfigReader r(node, path, parent.file(), parent.errors());
  CompressionSpec s;
  try {
    s = builtin_compression(r.require<std::string>("method"));
  } catch (const InputError& e) {
    r.error("method", e.what());
    s = fp16();
  }
  KvFormat& f = s.format;
  // The same ranges validate_compression checks on every method (built-in ones included);
  // read here, a bad value is named with its file and line.
  f.key_bits = r.get<double>("key_bits", f.key_bits, positive_upto(16, "bits"));
  f.value_bits = r.get<double>("value_bits", f.value_bits, positive_upto(16, "bits"));
  f.group_size = r.get<int>("group_size", f.group_size, closed(0, 65536, "elements (0: per token)"));
  f.scale_bytes = r.get<int>("scale_bytes", f.scale_bytes, closed(0, 64, "bytes"));
  f.residual_tokens = r.get<int>("residual_tokens", f.residual_tokens, closed(0, kMaxTokens, "tokens"));
  f.lowrank_fraction = r.get<double>("lowrank_fraction", f.lowrank_fraction, closed(0, 1));
  f.outlier_fraction = r.get<double>("outlier_fraction", f.outlier_fraction, Range{0, 1, false, true});
  Retention& t = s.retention;
  t.sink_tokens = r.get<int>("sink_tokens", t.sink_tokens, closed(0, kMaxTokens, "tokens"));
  t.recent_tokens = r.get<int>("recent_tokens", t.recent_tokens, closed(0, kMaxTokens, "tokens"));
  t.heavy_tokens = r.get<int>("heavy_tokens", t.heavy_tokens, closed(0, kMaxTokens, "tokens"));
  if (r.has("sink_tokens") || r.has("recent_tokens") || r.has("heavy_tokens")) {
    t.budget_tokens = t.kind == RetentionKind::kWindow        ? t.sink_tokens + t.recent_tokens
                      : t.kind == RetentionKind::kHeavyHitter ? t.heavy_tokens + t.recent_tokens
                                                              : t.budget_tokens;
  }
  t.budget_tokens = r.get<int>("budget_tokens", t.budget_tokens, closed(0, kMaxTokens, "tokens"));
  t.every_step = r.get<bool>("evict_every_step", t.every_step);
  ExtraWork& w = s.work;
  w.fused_dequant = r.get<bool>("fused_dequant", w.fused_dequant);
  w.attention_efficiency = r.get<double>("attention_efficiency", w.attention_efficiency, positive_upto(1));
  w.dequant_bandwidth_gbps = r.get<double>("dequant_bandwidth_gbps", w.dequant_bandwidth_gbps, closed(0, 1e5, "GB/s (0: the engine's own kernel)"));
  if (r.has("evict_every_step") && t.every_step && t.kind == RetentionKind::kHeavyHitter) w.scores_at_decode = true;
  r.finish();
  // Name a customized method by its overrides, so two variants of one method stay distinct
  // in a scenario's method table (and in reports).
  std::vector<std::string> overrides;
  for (const auto& kv : node) {
    const std::string k = yaml_key(kv.first).value_or("");
    if (k != "method" && kv.second.IsScalar()) overrides.push_back(k + "=" + kv.second.Scalar());
  }
  std::sort(overrides.begin(), overrides.end());
  if (!overrides.empty()) {
    s.name += "{" + join(overrides, ",") + "}";
    s.description += " (customized: " + join(overrides, ", ") + ")";
  }
  return s;
}

std::vector<std::string> validate_compression(const CompressionSpec& s, int head_dim) {
  std::vector<std::string> out;
  const KvFormat& f = s.format;
  for (double b : {f.key_bits, f.value_bits}) {
    if (!(b > 0 && b <= 16)) out.push_back("bits must be in (0, 16] (got " + std::to_string(b) + ")");
  }
  if (f.group_size < 0) out.push_back("group_size must be >= 0");
  if (f.group_size > 0 && head_dim % f.group_size != 0 && !f.key_per_channel) {
    out.push_back("group_size " + std::to_string(f.group_size) + " does not divide head_dim " + std::to_string(head_dim));
  }
  if (f.group_size > 0 && f.key_per_channel && head_dim % f.group_size != 0) {
    out.push_back("group_size " + std::to_string(f.group_size) + " does not divide head_dim " + std::to_string(head_dim));
  }
  if (f.scale_bytes < 0) out.push_back("scale_bytes must be >= 0");
  if (f.residual_tokens < 0) out.push_back("residual_tokens must be >= 0");
  if (!(f.lowrank_fraction >= 0 && f.lowrank_fraction <= 1)) out.push_back("lowrank_fraction must be in [0, 1]");
  if (!(f.outlier_fraction >= 0 && f.outlier_fraction < 1)) out.push_back("outlier_fraction must be in [0, 1)");
  const Retention& t = s.retention;
  if (t.budget_tokens < 0 || t.sink_tokens < 0 || t.recent_tokens < 0 || t.heavy_tokens < 0) {
    out.push_back("token budgets must be >= 0 (a budget larger than the context is allowed)");
  }
  if (t.evicts() && t.budget_tokens == 0 && t.keep_fraction <= 0) out.push_back("budget_tokens must be >= 1");
  if (!(s.work.attention_efficiency > 0 && s.work.attention_efficiency <= 1)) {
    out.push_back("attention_efficiency must be in (0, 1]");
  }
  if (!(s.work.dequant_bandwidth_gbps >= 0)) out.push_back("dequant_bandwidth_gbps must be >= 0 (0: the engine's own kernel)");
  if (s.work.dequant_bandwidth_gbps > 0 && s.work.fused_dequant) {
    out.push_back("dequant_bandwidth_gbps applies to an unfused dequantize pass (set fused_dequant: false)");
  }
  return out;
}

}  // namespace kvsim
