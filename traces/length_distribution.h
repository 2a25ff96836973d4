#pragma once
// Token-length distributions for prompts and outputs. All draw from an Rng the caller owns
// (one named stream per use), so the same seed gives the same lengths.
#include <memory>
#include <string>
#include <vector>

#include "sim/core/config_reader.h"
#include "sim/core/registry.h"
#include "sim/core/rng.h"

namespace kvsim {

class LengthDistribution {
 public:
  virtual ~LengthDistribution() = default;
  // Contract: returns a value in [min_value(), max_value()], both >= 1.
  virtual std::int32_t sample(Rng& rng) const = 0;
  virtual std::int32_t min_value() const = 0;
  virtual std::int32_t max_value() const = 0;
  virtual std::string describe() const = 0;
};

// Which built-in ShareGPT-like model to use (its statistics are documented in
// docs/workloads.md with sources).
enum class LengthRole { kPrompt, kOutput };

// Decodes a `{kind: ..., ...}` mapping. Errors go to the reader's ErrorList; returns nullptr
// if the section is unusable. `base_dir` resolves relative file paths.
std::unique_ptr<LengthDistribution> decode_length_distribution(ConfigReader r, LengthRole role,
                                                               const std::string& base_dir);
// The length distributions by `kind` (one entry each; factories read the section).
using LengthRegistry =
    Registry<std::unique_ptr<LengthDistribution>(ConfigReader&, LengthRole, const std::string& base_dir)>;
const LengthRegistry& length_registry();
std::vector<std::string> length_distribution_kinds();

// Building blocks, exposed for tests.
std::unique_ptr<LengthDistribution> make_fixed_length(std::int32_t value);
std::unique_ptr<LengthDistribution> make_uniform_length(std::int32_t lo, std::int32_t hi);
std::unique_ptr<LengthDistribution> make_lognormal_length(double mu, double sigma, std::int32_t lo, std::int32_t hi);
std::unique_ptr<LengthDistribution> make_zipf_length(double s, std::int32_t lo, std::int32_t hi);
std::unique_ptr<LengthDistribution> make_empirical_length(std::vector<std::int32_t> values, std::string origin);
std::unique_ptr<LengthDistribution> make_sharegpt_length(LengthRole role);

// Reads one integer column (by header name) from a CSV file; InputError names file:line.
std::vector<std::int32_t> read_length_column(const std::string& path, const std::string& column);

}  // namespace kvsim
