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
  // The attention window the model's config declares (Mistral-7B-v0.1: 4096; 0: none). Recorded as
  // a fact of the model: kvsim does not bound the KV cache by it (a window is modelled as a
  // compression method, e.g. StreamingLLM with no sinks), but an engine whose code path depends
  // on it prices that path (hf-cb: RooflineParams::window_path_*).
  int sliding_window = 0;
  std::int64_t num_parameters = 0;
  int weight_bytes_per_param = 2;  // fp16/bf16 weights

  std::int64_t weight_bytes() const { return num_parameters * weight_bytes_per_param; }
  // Whether `o` runs the same kernels per token: every layer shape equal (layers, hidden, heads,
  // KV heads, head dim, MLP, vocabulary, biases, tied embeddings, weight bytes). Context length
  // and RoPE settings may differ (Llama-3.1-8B runs Llama-3-8B's kernels): they change no GEMM,
  // and attention is priced by the tokens it reads.
  bool same_kernel_shapes(const ModelSpec& o) const {
    return num_layers == o.num_layers && hidden_size == o.hidden_size && num_attention_heads == o.num_attention_heads &&
           num_kv_heads == o.num_kv_heads && head_dim == o.head_dim && intermediate_size == o.intermediate_size &&
           vocab_size == o.vocab_size && tie_word_embeddings == o.tie_word_embeddings &&
           attention_bias == o.attention_bias && weight_bytes_per_param == o.weight_bytes_per_param;
  }
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
