#pragma once
// Subcommands of the kvsim CLI. Each returns the process exit code:
// 0 ok, 2 bad input, 3 invariant broken, 1 anything else (main maps exceptions).
#include <string>
#include <vector>

namespace kvsim::cli {

int run_command(const std::vector<std::string>& args);
int step_command(const std::vector<std::string>& args);
int list_command(const std::vector<std::string>& args);
int calibrate_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);
int plan_command(const std::vector<std::string>& args);

// Where installed calibration bundles are searched (<dir>/<gpu>/<model>/).
std::vector<std::string> calibration_search_dirs();

}  // namespace kvsim::cli
