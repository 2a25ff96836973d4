#pragma once
// Generated at build time from models/catalog/{models,gpus}/*.yaml (see models/CMakeLists.txt).
#include <vector>

namespace kvsim {
struct EmbeddedFile {
  const char* path;  // relative to models/catalog, e.g. "models/llama-3-8b.yaml"
  const char* text;
};
const std::vector<EmbeddedFile>& embedded_catalog_files();
}  // namespace kvsim
