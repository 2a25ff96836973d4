#include "models/parallel/parallelism.h"

#include <algorithm>

namespace kvsim {

std::vector<std::string> validate_parallelism(const ParallelismSpec& p, const ModelSpec& m) {
  std::vector<std::string> out;
  if (p.tensor < 1 || p.tensor > 64) out.push_back("tensor must be in [1, 64] (got " + std::to_string(p.tensor) + ")");
  if (p.pipeline < 1 || p.pipeline > 64) {
    out.push_back("pipeline must be in [1, 64] (got " + std::to_string(p.pipeline) + ")");
  }
  if (!out.empty()) return out;
  if (m.num_attention_heads % p.tensor != 0) {
    out.push_back("tensor " + std::to_string(p.tensor) + " does not divide " + m.name + "'s " +
                  std::to_string(m.num_attention_heads) + " attention heads");
  }
  if (m.intermediate_size % p.tensor != 0) {
    out.push_back("tensor " + std::to_string(p.tensor) + " does not divide " + m.name + "'s intermediate size " +
                  std::to_string(m.intermediate_size));
  }
  if (m.num_kv_heads % p.tensor != 0 && p.tensor % m.num_kv_heads != 0) {
    out.push_back("tensor " + std::to_string(p.tensor) + " and " + m.name + "'s " + std::to_string(m.num_kv_heads) +
                  " KV heads: one must divide the other");
  }
  if (p.pipeline > m.num_layers) {
    out.push_back("pipeline " + std::to_string(p.pipeline) + " exceeds " + m.name + "'s " +
                  std::to_string(m.num_layers) + " layers");
  }
  if (!(p.comm_overlap >= 0 && p.comm_overlap <= 1)) out.push_back("comm_overlap must be in [0, 1]");
  if (!(p.link_gbps >= 0)) out.push_back("link_gbps must be >= 0 (0: from the GPU's NVLink figure)");
  if (!(p.link_efficiency > 0 && p.link_efficiency <= 1)) out.push_back("link_efficiency must be in (0, 1]");
  if (!(p.hop_latency_us >= 0)) out.push_back("hop_latency_us must be >= 0");
  return out;
}

ModelSpec shard_model(const ModelSpec& model, const ParallelismSpec& p) {
  if (p.single()) return model;
  ModelSpec s = model;
  const int t = p.tensor;
  s.num_layers = (model.num_layers + p.pipeline - 1) / p.pipeline;
  s.num_attention_heads = model.num_attention_heads / t;
  // vLLM replicates KV heads when the tensor degree exceeds them: each GPU keeps one.
  s.num_kv_heads = std::max(1, model.num_kv_heads / t);
  s.intermediate_size = model.intermediate_size / t;
  s.vocab_size = (model.vocab_size + t - 1) / t;  // vocabulary-parallel embedding and LM head
  if (t > 1) s.name = model.name + "-tp" + std::to_string(t);
  // Weights per GPU: the layer weights of one stage, sharded, plus a 1/T vocabulary slice of
  // the embedding and LM head (both kept on a stage for simplicity: an upper bound).
  const double h = model.hidden_size;
  const double layer = h * (s.q_size() + 2.0 * s.kv_size()) + s.q_size() * h + 3.0 * h * s.intermediate_size + 2.0 * h;
  const double embed = static_cast<double>(s.vocab_size) * h * (model.tie_word_embeddings ? 1.0 : 2.0);
  s.num_parameters = static_cast<std::int64_t>(layer * s.num_layers + embed);
  return s;
}

}  // namespace kvsim
