#include "models/spec/hf_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "sim/core/error.h"
#include "sim/core/text_file.h"

namespace kvsim {

namespace {

class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  std::int64_t integer(const char* key) const {
    if (!has(key)) fail(key, "required key is missing");
    const auto& v = j_[key];
    // Bounded so every shape product (heads x head_dim, vocab x hidden) stays far from int overflow.
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > (std::int64_t{1} << 24)) {
      fail(key, "expected an integer in [1, 16777216], got " + v.dump());
    }
    return v.get<std::int64_t>();
  }
  std::int64_t integer_or(const char* key, std::int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_[key];
    if (!v.is_number() || !(v.get<double>() > 0)) fail(key, "expected a number > 0, got " + v.dump());
    return v.get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(key, "expected true or false, got " + j_[key].dump());
    return j_[key].get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(key, "expected a string, got " + j_[key].dump());
    return j_[key].get<std::string>();
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw InputError(path_ + ": " + key + ": " + what);
  }

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace

ModelSpec model_from_hf_config(const std::string& path, const std::string& name) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path, "model config"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw InputError(path + ": expected a JSON object (a Hugging Face config.json)");
  const JsonReader r(j, path);
  if (!j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string()) {
    r.fail("architectures", "required: a list naming the model class, e.g. [\"LlamaForCausalLM\"]");
  }
  const std::string arch = j["architectures"][0].get<std::string>();
  const bool qwen2 = arch == "Qwen2ForCausalLM";
  if (arch != "LlamaForCausalLM" && arch != "MistralForCausalLM" && !qwen2) {
    r.fail("architectures", "unsupported architecture '" + arch +
                                "'; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM");
  }
  ModelSpec m;
  const std::filesystem::path p(path);
  const std::string stem = p.filename() == "config.json" && p.has_parent_path() ? p.parent_path().filename().string()
                                                                                : p.stem().string();
  m.name = name.empty() ? "hf:" + stem : name;
  m.display_name = r.string_or("_name_or_path", stem);
  m.hf_id = r.string_or("_name_or_path", "");
  m.num_layers = static_cast<int>(r.integer("num_hidden_layers"));
  m.hidden_size = static_cast<int>(r.integer("hidden_size"));
  m.num_attention_heads = static_cast<int>(r.integer("num_attention_heads"));
  m.num_kv_heads = static_cast<int>(r.integer_or("num_key_value_heads", m.num_attention_heads));
  m.head_dim = static_cast<int>(r.integer_or("head_dim", m.hidden_size / m.num_attention_heads));
  m.intermediate_size = static_cast<int>(r.integer("intermediate_size"));
  m.vocab_size = static_cast<int>(r.integer("vocab_size"));
  m.max_context = static_cast<int>(r.integer("max_position_embeddings"));
  m.rope_theta = r.number_or("rope_theta", 10000.0);
  m.tie_word_embeddings = r.boolean_or("tie_word_embeddings", false);
  // Qwen2 always has q/k/v biases; Llama and Mistral only with attention_bias.
  m.attention_bias = qwen2 ? true : r.boolean_or("attention_bias", false);
  if (m.num_attention_heads % m.num_kv_heads != 0) {
    r.fail("num_key_value_heads", std::to_string(m.num_kv_heads) + " does not divide num_attention_heads " +
                                      std::to_string(m.num_attention_heads));
  }
  if (!r.has("head_dim") && m.hidden_size % m.num_attention_heads != 0) {
    r.fail("hidden_size", "not a multiple of num_attention_heads (and no head_dim given)");
  }
  std::string dtype = r.string_or("torch_dtype", r.string_or("dtype", "bfloat16"));
  if (dtype == "float16" || dtype == "bfloat16") m.weight_bytes_per_param = 2;
  else if (dtype == "float32") m.weight_bytes_per_param = 4;
  else r.fail("torch_dtype", "unsupported dtype '" + dtype + "'; supported: float16, bfloat16, float32");
  // Quantized weights (FP8, GPTQ/AWQ INT4, bitsandbytes, ...) change the weight bytes and the GEMM
  // kernels; kvsim has neither modelled, so pricing them as torch_dtype would be silently wrong.
  if (r.has("quantization_config")) {
    const auto& q = j["quantization_config"];
    const std::string method = q.is_object() && q.contains("quant_method") && q["quant_method"].is_string()
                                   ? q["quant_method"].get<std::string>()
                                   : q.dump();
    r.fail("quantization_config", "quantized weights (" + method +
                                      ") are not modelled: kvsim would price them as " + dtype +
                                      "; remove quantization_config to simulate the unquantized model");
  }
  // Parameters, as the catalog computes them (models/catalog/models/*.yaml).
  const std::int64_t h = m.hidden_size, q = std::int64_t{m.num_attention_heads} * m.head_dim,
                     kv = std::int64_t{m.num_kv_heads} * m.head_dim, ffn = m.intermediate_size, v = m.vocab_size;
  const std::int64_t per_layer = h * q + 2 * h * kv + q * h + 3 * h * ffn + 2 * h + (m.attention_bias ? q + 2 * kv : 0);
  m.num_parameters = v * h + m.num_layers * per_layer + h + (m.tie_word_embeddings ? 0 : v * h);
  std::string notes;
  if (r.has("rope_scaling")) notes += "; rope_scaling " + j["rope_scaling"].dump() + " (recorded; kvsim's costs do not depend on it)";
  // Mistral's sliding_window (null: none). Qwen2 declares one only with use_sliding_window true.
  const bool window_used = arch == "MistralForCausalLM" || (qwen2 && r.boolean_or("use_sliding_window", false));
  if (window_used && r.has("sliding_window") && !j["sliding_window"].is_null()) {
    m.sliding_window = static_cast<int>(r.integer("sliding_window"));
    notes += "; sliding_window " + std::to_string(m.sliding_window) +
             " (recorded: the KV cache keeps every token; hf-cb prices the path HF runs for it)";
  }
  m.source = "Hugging Face config.json " + path + " (" + arch + ")" + notes;
  return m;
}

ModelSpec resolve_model(const Catalog& catalog, const std::string& name_or_path, const std::string& base_dir) {
  const bool json = name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".json";
  if (!json) return catalog.model(name_or_path);
  namespace fs = std::filesystem;
  std::string path = name_or_path;
  std::error_code ec;
  if (!fs::path(path).is_absolute() && !base_dir.empty() && fs::exists(fs::path(base_dir) / path, ec)) {
    path = (fs::path(base_dir) / path).string();
  }
  return model_from_hf_config(path);
}

}  // namespace kvsim
