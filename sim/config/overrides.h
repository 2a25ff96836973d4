#pragma once
// `--set a.b.c=value`: one override applied to a scenario (or sweep) document.
#include <yaml-cpp/yaml.h>

#include <string>

namespace kvsim {

// Applies one "a.b.c=value" override to a YAML document (value parsed as YAML).
void apply_override(YAML::Node& doc, const std::string& assignment);

}  // namespace kvsim
