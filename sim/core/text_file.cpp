#include "sim/core/text_file.h"

#include <fstream>
#include <sstream>

#include "sim/core/error.h"

namespace kvsim {

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open " + what);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace kvsim
