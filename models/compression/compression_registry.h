#pragma once
// Built-in compression methods (docs/compression.md lists each with its parameters and
// sources) and the parser for user-given methods: a name ("kivi-4"), a generic ratio
// ("ratio:4", "ratio:4:eviction"), or a mapping {method: NAME, <parameter overrides>}.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "models/compression/compression_spec.h"
#include "sim/core/config_reader.h"
#include "sim/core/registry.h"

namespace kvsim {

// The built-in methods by name (one registration line each; capabilities: the family).
using CompressionRegistry = Registry<CompressionSpec()>;
const CompressionRegistry& compression_registry();

std::vector<std::string> compression_names();
// Throws InputError naming the valid methods when `name` is unknown.
CompressionSpec builtin_compression(const std::string& name);
// Decodes a method from a scalar name or a mapping with overrides; errors go to `r`.
CompressionSpec decode_compression_method(const YAML::Node& node, const std::string& path, ConfigReader& r);
// Checks a spec's parameters against a model (bits, group size dividing head_dim, ...).
// Returns human-readable problems (empty if valid).
std::vector<std::string> validate_compression(const CompressionSpec& spec, int head_dim);

}  // namespace kvsim
