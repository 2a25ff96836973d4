#pragma once
// Shapes of a transformer LLM, as read from the catalog (models/catalog/models/*.yaml).
#include <cstdint>
#include <string>

namespace kvsim {

struct ModelSpec {
  std::string name;          // catalog key, e.g. "llama-3-8b"
  std::string display_name;
  std::string hf_id;
  std::string source;
  int num_layers = 0;
  int hidden_size = 0;
  int num_attention_heads = 0;
  int num_kv_heads = 0;       // == num_attention_heads for MHA, fewer for GQA
  int head_dim = 0;
  int intermediate_size = 0;
  int vocab_size = 0;
  int max_context = 0;        // max_position_embeddings
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  double rope_theta = 10000.0;
  std::int64_t num_parameters = 0;
  int weight_bytes_per_param = 2;  // fp16/bf16 weights

  std::int64_t weight_bytes() const { return num_parameters * weight_bytes_per_param; }
  // fp16 K and V for one token across all layers (the uncompressed baseline).
  std::int64_t kv_bytes_per_token(int bytes_per_value = 2) const {
    return std::int64_t{2} * num_layers * num_kv_heads * head_dim * bytes_per_value;
  }
  std::int64_t kv_bytes_per_token_per_layer(int bytes_per_value = 2) const {
    return std::int64_t{2} * num_kv_heads * head_dim * bytes_per_value;
  }
  int q_size() const { return num_attention_heads * head_dim; }
  int kv_size() const { return num_kv_heads * head_dim; }
};

}  // namespace kvsim
