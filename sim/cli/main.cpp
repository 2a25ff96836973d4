// kvsim: the composition root. The only code that prints results and chooses exit codes.
#include <boost/program_options/errors.hpp>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "sim/cli/commands.h"
#include "sim/core/error.h"

namespace {

const char* kUsage = R"(kvsim: discrete-event simulator of LLM serving under KV-cache compression

usage: kvsim <command> [options]

commands:
  run    simulate a scenario (default: the built-in Llama-3-8B / H200 / vLLM V1 scenario)
  step   predict the time of one engine iteration, with a per-operator breakdown
  list   show the catalog: models, gpus, engines, overheads, arrivals, lengths, compression, metrics, schedulers, routers
  sweep  run a grid of scenarios in parallel (threads; MPI ranks under mpirun), resumable
  plan   capacity planning: request rate at SLO, replicas, cost, ranked candidates
  calibrate  fit, show, check or overlay a calibration bundle (kvsim calibrate --help)
  validate   compare predictions with measured results (CSV or vllm bench JSON): MAPE, bias, r

Run 'kvsim <command> --help' for a command's options.
exit codes: 0 ok, 1 internal error, 2 bad input, 3 simulation invariant broken,
            4 validation error above --max-mape
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "run") return kvsim::cli::run_command(args);
    if (cmd == "step") return kvsim::cli::step_command(args);
    if (cmd == "list") return kvsim::cli::list_command(args);
    if (cmd == "calibrate") return kvsim::cli::calibrate_command(args);
    if (cmd == "sweep") return kvsim::cli::sweep_command(args);
    if (cmd == "plan") return kvsim::cli::plan_command(args);
    if (cmd == "validate") return kvsim::cli::validate_command(args);
    if (cmd == "--version") {
      std::cout << "kvsim\n";
      return 0;
    }
    std::cerr << "kvsim: unknown command '" << cmd << "'"
              << kvsim::did_you_mean(cmd, {"run", "step", "list", "calibrate", "sweep", "plan", "validate"}) << "\n" << kUsage;
    return 2;
  } catch (const kvsim::InputError& e) {
    std::cerr << "kvsim " << cmd << ": error: " << e.what() << "\n";
    return 2;
  } catch (const boost::program_options::error& e) {
    std::cerr << "kvsim " << cmd << ": error: " << e.what() << " (see 'kvsim " << cmd << " --help')\n";
    return 2;
  } catch (const kvsim::InvariantViolation& e) {
    std::cerr << "kvsim " << cmd << ": invariant violated: " << e.what() << "\n";
    return 3;
  } catch (const std::bad_alloc&) {
    // Out of memory (a scenario whose queue outgrows RAM, or a ulimit): a message, never an abort.
    std::cerr << "kvsim " << cmd << ": error: out of memory (the scenario needs more memory than this process may use)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "kvsim " << cmd << ": internal error: " << e.what() << "\n";
    return 1;
  }
}
