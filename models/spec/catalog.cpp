#include "models/spec/catalog.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/spec/embedded_catalog.h"
#include "sim/core/config_reader.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"

namespace kvsim {

double implied_parameters(const ModelSpec& m) {
  const double h = m.hidden_size, d = m.head_dim;
  const double attn = h * m.num_attention_heads * d * 2 + h * m.num_kv_heads * d * 2;  // q, o; k, v
  const double mlp = 3.0 * h * m.intermediate_size;                                       // gate, up, down
  const double embed = static_cast<double>(m.vocab_size) * h * (m.tie_word_embeddings ? 1 : 2);
  return m.num_layers * (attn + mlp + 2 * h) + embed + h;  // + two norms per layer and the final one
}

void Catalog::add_model_yaml(const std::string& text, const std::string& origin) {
  ErrorList errors;
  ConfigReader r(parse_yaml_text(text, origin), "", origin, errors);
  ModelSpec m;
  m.name = r.require<std::string>("name");
  m.display_name = r.get<std::string>("display_name", m.name);
  m.hf_id = r.get<std::string>("hf_id", "");
  m.source = r.get<std::string>("source", "");
  r.get<std::string>("notes", "");
  // Shapes: 10-100x the largest published dense decoder's (Llama-3.1-405B: 126 layers, hidden
  // 16384, 128 heads, intermediate 53248, vocabulary 128256).
  m.num_layers = r.require<int>("num_layers", closed(1, 1000, "layers"));
  m.hidden_size = r.require<int>("hidden_size", closed(1, 1e6));
  m.num_attention_heads = r.require<int>("num_attention_heads", closed(1, 1e4, "heads"));
  m.num_kv_heads = r.require<int>("num_kv_heads", closed(1, 1e4, "heads"));
  m.head_dim = r.require<int>("head_dim", closed(1, 4096));
  m.intermediate_size = r.require<int>("intermediate_size", closed(1, 1e7));
  m.vocab_size = r.require<int>("vocab_size", closed(1, 1e8, "tokens"));
  m.max_context = r.require<int>("max_context", closed(1, kMaxTokens, "tokens"));
  m.tie_word_embeddings = r.get<bool>("tie_word_embeddings", false);
  m.attention_bias = r.get<bool>("attention_bias", false);
  m.rope_theta = r.get<double>("rope_theta", 10000.0, positive_upto(1e12));
  m.sliding_window = r.get<int>("sliding_window", 0, closed(0, kMaxTokens, "tokens"));
  m.num_parameters = r.require<std::int64_t>("num_parameters", closed(1, 1e14));
  // A dense decoder's parameter count follows from its shapes (every shipped model matches its
  // published count to 0.002 %): a count far from it is a typo that would misprice weights.
  if (m.num_parameters > 0 && m.hidden_size > 0 && m.num_layers > 0) {
    const double implied = implied_parameters(m);
    const double ratio = static_cast<double>(m.num_parameters) / implied;
    if (ratio < 0.95 || ratio > 1.05) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%.4g disagrees with the %.4g the shapes imply (allowed: within 5 %%)",
                    static_cast<double>(m.num_parameters), implied);
      r.error("num_parameters", buf);
    }
  }
  if (m.num_kv_heads > 0 && m.num_attention_heads % m.num_kv_heads != 0) {
    r.error("num_kv_heads", "must divide num_attention_heads (" + std::to_string(m.num_attention_heads) + ")");
  }
  r.finish();
  errors.throw_if_any();
  models_[m.name] = m;
}

void Catalog::add_gpu_yaml(const std::string& text, const std::string& origin) {
  ErrorList errors;
  ConfigReader r(parse_yaml_text(text, origin), "", origin, errors);
  GpuSpec g;
  g.name = r.require<std::string>("name");
  g.display_name = r.get<std::string>("display_name", g.name);
  g.source = r.get<std::string>("source", "");
  r.get<std::string>("notes", "");
  // Datasheet figures: bounds 10-100x beyond any GPU shipped (B200: 192 GB, 8 TB/s, 2.25 dense
  // bf16 PFLOP/s, 148 SMs), and low enough below that a unit slip (TB/s for GB/s) is caught.
  g.memory_bytes = r.require<std::int64_t>("memory_bytes", closed(1e9, 1.7e13, "bytes"));
  g.hbm_bandwidth_gbps = r.require<double>("hbm_bandwidth_gbps", closed(10, 1e5, "GB/s"));
  g.fp16_tflops = r.require<double>("fp16_tflops", closed(1, 1e5, "TFLOP/s"));
  g.bf16_tflops = r.get<double>("bf16_tflops", g.fp16_tflops, closed(1, 1e5, "TFLOP/s"));
  g.fp8_tflops = r.get<double>("fp8_tflops", 0.0, closed(0, 1e5, "TFLOP/s (0: no FP8)"));
  g.fp32_tflops = r.get<double>("fp32_tflops", 0.0, closed(0, 1e5, "TFLOP/s"));
  g.num_sms = r.require<int>("num_sms", closed(1, 1e4, "SMs"));
  g.l2_bytes = r.get<std::int64_t>("l2_bytes", 0, closed(0, 1.7e10, "bytes"));
  g.architecture = r.get<std::string>("architecture", "");
  g.chip = r.get<std::string>("chip", "");
  g.compute_capability = r.get<std::string>("compute_capability", "");
  g.boost_clock_mhz = r.get<double>("boost_clock_mhz", 0.0, closed(0, 1e4, "MHz"));
  g.memory_type = r.get<std::string>("memory_type", "");
  g.host_link_gbps = r.require<double>("host_link_gbps", closed(0.1, 1e4, "GB/s"));
  g.nvlink_gbps = r.get<double>("nvlink_gbps", 0.0, closed(0, 1e5, "GB/s (0: none)"));
  g.tdp_watts = r.get<double>("tdp_watts", 0.0, closed(0, 1e5, "W"));
  g.price_per_hour_usd = r.get<double>("price_per_hour_usd", 0.0, closed(0, 1e4, "USD/h"));
  r.finish();
  errors.throw_if_any();
  gpus_[g.name] = g;
}

Catalog Catalog::builtin() {
  Catalog c;
  for (const auto& f : embedded_catalog_files()) {
    const std::string origin = std::string("<builtin>/") + f.path;
    if (std::string(f.path).rfind("models/", 0) == 0) c.add_model_yaml(f.text, origin);
    else c.add_gpu_yaml(f.text, origin);
  }
  return c;
}

void Catalog::add_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw InputError("--catalog " + dir + ": not a directory");
  for (const char* kind : {"models", "gpus"}) {
    const fs::path sub = fs::path(dir) / kind;
    if (!fs::is_directory(sub)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(sub)) {
      if (e.path().extension() == ".yaml") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      std::ifstream in(p);
      std::stringstream ss;
      ss << in.rdbuf();
      if (std::string(kind) == "models") add_model_yaml(ss.str(), p.string());
      else add_gpu_yaml(ss.str(), p.string());
    }
  }
}

template <class Map>
static std::vector<std::string> keys_of(const Map& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

std::vector<std::string> Catalog::model_names() const { return keys_of(models_); }
std::vector<std::string> Catalog::gpu_names() const { return keys_of(gpus_); }

const ModelSpec& Catalog::model(const std::string& name) const {
  auto it = models_.find(name);
  if (it == models_.end()) {
    throw InputError("unknown model '" + name + "'" + did_you_mean(name, model_names()) +
                     "; valid models: " + join(model_names(), ", "));
  }
  return it->second;
}

const GpuSpec& Catalog::gpu(const std::string& name) const {
  auto it = gpus_.find(name);
  if (it == gpus_.end()) {
    throw InputError("unknown GPU '" + name + "'" + did_you_mean(name, gpu_names()) +
                     "; valid GPUs: " + join(gpu_names(), ", "));
  }
  return it->second;
}

}  // namespace kvsim
