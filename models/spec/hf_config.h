#pragma once
// Hugging Face `config.json` as a model spec: Llama, Mistral and Qwen2 families (GQA through
// num_key_value_heads, rope_theta and rope_scaling, tied embeddings, attention biases, dtype).
#include <string>

#include "models/spec/catalog.h"
#include "models/spec/model_spec.h"

namespace kvsim {

// Reads `path` (a config.json). Throws InputError naming the file and the key for a missing
// or ill-typed key, an unsupported architecture, or shapes that do not fit together. The
// model's name is "hf:<parent directory or file stem>" unless `name` is given.
ModelSpec model_from_hf_config(const std::string& path, const std::string& name = "");

// A catalog name, or a path to a config.json (ending in .json; relative paths are tried
// against `base_dir` first).
ModelSpec resolve_model(const Catalog& catalog, const std::string& name_or_path, const std::string& base_dir = "");

}  // namespace kvsim
