#pragma once
// Error taxonomy (docs/cli.md, "Exit codes"):
//   InputError         bad user input (config, trace, CLI, catalog file) -> exit 2
//   InvariantViolation a broken law of the simulation (conservation, causality) -> exit 3
// Library code throws; only sim/cli prints and chooses the exit code.
#include <stdexcept>
#include <string>
#include <vector>

namespace kvsim {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvariantViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Collects every problem found while decoding one input, so a user sees all of them at
// once instead of fixing one per run.
class ErrorList {
 public:
  void add(std::string message) { messages_.push_back(std::move(message)); }
  bool empty() const { return messages_.empty(); }
  const std::vector<std::string>& messages() const { return messages_; }
  // Throws InputError with all messages (one per line) if any were collected.
  void throw_if_any() const;

 private:
  std::vector<std::string> messages_;
};

// Returns the candidate closest to `word` by edit distance, or "" if none is close enough
// to be a plausible typo.
std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates);

// "did you mean 'x'?" suffix, or "" when nothing is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& items, const std::string& sep);

// A number as messages print it: integers exactly (or "1e9" past six trailing zeros), others
// with 6 significant digits and a short exponent ("2.5e-5").
std::string format_number(double v);

}  // namespace kvsim
