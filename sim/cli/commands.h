#pragma once
// Subcommands of the kvsim CLI. Each returns the process exit code:
// 0 ok, 2 bad input, 3 invariant broken, 1 anything else (main maps exceptions).
#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace kvsim::cli {

int run_command(const std::vector<std::string>& args);
int step_command(const std::vector<std::string>& args);
int list_command(const std::vector<std::string>& args);
int calibrate_command(const std::vector<std::string>& args);
// calibrate import-profiles / transfer-check (transfer_commands.cpp); args after the verb.
int import_profiles_command(const std::vector<std::string>& args);
int transfer_check_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);
int plan_command(const std::vector<std::string>& args);
int validate_command(const std::vector<std::string>& args);

// Parses a subcommand's options (with optional positionals); prints the help and returns
// false when --help was given.
bool parse_options(const std::vector<std::string>& args, const boost::program_options::options_description& opts,
                   boost::program_options::variables_map& vm,
                   const boost::program_options::positional_options_description* positional = nullptr);

// Where installed calibration bundles are searched (<dir>/<gpu>/<model>/).
std::vector<std::string> calibration_search_dirs();

}  // namespace kvsim::cli
