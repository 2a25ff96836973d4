#pragma once
// The catalog of models and GPUs. Built-in entries are YAML files under models/catalog/,
// embedded into the binary at build time so kvsim runs from any directory; users may add
// their own files (same schema) with --catalog DIR.
#include <map>
#include <string>
#include <vector>

#include "models/spec/gpu_spec.h"
#include "models/spec/model_spec.h"

namespace kvsim {

// Parameters of a dense Llama-style decoder with `m`'s shapes (embeddings, attention, gated MLP,
// norms; untied lm_head unless tie_word_embeddings).
double implied_parameters(const ModelSpec& m);

class Catalog {
 public:
  // Parses the embedded built-in files. Throws InputError if one is malformed (a build bug).
  static Catalog builtin();
  // Adds every *.yaml under dir/models and dir/gpus (later entries replace earlier ones).
  void add_directory(const std::string& dir);
  void add_model_yaml(const std::string& text, const std::string& origin);
  void add_gpu_yaml(const std::string& text, const std::string& origin);

  // Throw InputError naming the valid choices when `name` is unknown.
  const ModelSpec& model(const std::string& name) const;
  const GpuSpec& gpu(const std::string& name) const;
  bool has_gpu(const std::string& name) const { return gpus_.count(name) > 0; }
  std::vector<std::string> model_names() const;
  std::vector<std::string> gpu_names() const;
  const std::map<std::string, ModelSpec>& models() const { return models_; }
  const std::map<std::string, GpuSpec>& gpus() const { return gpus_; }

 private:
  std::map<std::string, ModelSpec> models_;
  std::map<std::string, GpuSpec> gpus_;
};

}  // namespace kvsim
