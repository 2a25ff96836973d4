#include <cstdlib>
#include <iostream>
#include <sstream>

#include "sim/cli/commands.h"

namespace kvsim::cli {

bool parse_options(const std::vector<std::string>& args, const boost::program_options::options_description& opts,
                   boost::program_options::variables_map& vm,
                   const boost::program_options::positional_options_description* positional) {
  namespace po = boost::program_options;
  po::command_line_parser parser(args);
  parser.options(opts);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return false;
  }
  return true;
}

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
