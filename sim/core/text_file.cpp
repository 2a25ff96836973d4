#include "sim/core/text_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/core/error.h"

namespace kvsim {

std::string read_text_file(const std::string& path, const std::string& what) {
  // A directory opens as an empty stream on Linux; it must not read as an empty file.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path + ": is a directory, expected a " + what);
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open " + what);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace kvsim
