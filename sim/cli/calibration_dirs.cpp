#include <cstdlib>
#include <iostream>
#include <sstream>

#include "sim/cli/commands.h"
#include "sim/core/error.h"

namespace kvsim::cli {

bool parse_options(const std::vector<std::string>& args, const boost::program_options::options_description& opts,
                   boost::program_options::variables_map& vm,
                   const boost::program_options::positional_options_description* positional) {
  namespace po = boost::program_options;
  po::command_line_parser parser(args);
  parser.options(opts);
  if (positional) parser.positional(*positional);
  const po::parsed_options parsed = parser.run();
  // Without a positional description boost drops bare words silently, so `kvsim run s.yaml`
  // would run the built-in default instead of the user's scenario: refuse them.
  if (!positional) {
    for (const auto& option : parsed.options) {
      if (option.position_key < 0) continue;
      const std::string word = option.value.empty() ? option.original_tokens.front() : option.value.front();
      const bool looks_like_file = word.find(".yaml") != std::string::npos || word.find(".yml") != std::string::npos;
      throw InputError("unexpected argument '" + word + "'" +
                       (looks_like_file ? " (a scenario file is given with -c " + word + ")" : ""));
    }
  }
  po::store(parsed, vm);
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
