#include <cstdlib>
#include <sstream>

#include "sim/cli/commands.h"

namespace kvsim::cli {

// KVSIM_CALIBRATION_DIR (colon-separated) replaces the built-in location of installed
// bundles, so a relocated install or a user's own bundles are found without flags.
std::vector<std::string> calibration_search_dirs() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("KVSIM_CALIBRATION_DIR")) {
    std::stringstream ss(env);
    for (std::string d; std::getline(ss, d, ':');) {
      if (!d.empty()) out.push_back(d);
    }
    return out;
  }
  out.push_back(KVSIM_DEFAULT_CALIBRATION_DIR);
  return out;
}

}  // namespace kvsim::cli
