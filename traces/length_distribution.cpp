#include "traces/length_distribution.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/core/csv.h"
#include "traces/sharegpt.h"

namespace kvsim {

namespace {

std::int32_t clamp_len(double v, std::int32_t lo, std::int32_t hi) {
  const double r = std::round(v);
  if (!(r >= lo)) return lo;  // also catches NaN
  if (r > hi) return hi;
  return static_cast<std::int32_t>(r);
}

class Fixed final : public LengthDistribution {
 public:
  explicit Fixed(std::int32_t v) : v_(v) {}
  std::int32_t sample(Rng&) const override { return v_; }
  std::int32_t min_value() const override { return v_; }
  std::int32_t max_value() const override { return v_; }
  std::string describe() const override { return "fixed " + std::to_string(v_); }

 private:
  std::int32_t v_;
};

class Uniform final : public LengthDistribution {
 public:
  Uniform(std::int32_t lo, std::int32_t hi) : lo_(lo), hi_(hi) {}
  std::int32_t sample(Rng& rng) const override { return static_cast<std::int32_t>(rng.uniform_int(lo_, hi_)); }
  std::int32_t min_value() const override { return lo_; }
  std::int32_t max_value() const override { return hi_; }
  std::string describe() const override {
    return "uniform [" + std::to_string(lo_) + ", " + std::to_string(hi_) + "]";
  }

 private:
  std::int32_t lo_, hi_;
};

class LogNormal final : public LengthDistribution {
 public:
  LogNormal(double mu, double sigma, std::int32_t lo, std::int32_t hi, std::string label)
      : mu_(mu), sigma_(sigma), lo_(lo), hi_(hi), label_(std::move(label)) {}
  std::int32_t sample(Rng& rng) const override { return clamp_len(rng.lognormal(mu_, sigma_), lo_, hi_); }
  std::int32_t min_value() const override { return lo_; }
  std::int32_t max_value() const override { return hi_; }
  std::string describe() const override {
    std::ostringstream os;
    os << label_ << "lognormal (median " << std::exp(mu_) << ", sigma " << sigma_ << ") clamped to [" << lo_ << ", "
       << hi_ << "]";
    return os.str();
  }

 private:
  double mu_, sigma_;
  std::int32_t lo_, hi_;
  std::string label_;
};

// Discrete distribution by inverse CDF over a precomputed table (zipf, empirical).
class Tabulated final : public LengthDistribution {
 public:
  Tabulated(std::vector<std::int32_t> values, std::vector<double> cdf, std::string label)
      : values_(std::move(values)), cdf_(std::move(cdf)), label_(std::move(label)) {
    lo_ = *std::min_element(values_.begin(), values_.end());
    hi_ = *std::max_element(values_.begin(), values_.end());
  }
  std::int32_t sample(Rng& rng) const override {
    const double u = rng.uniform01() * cdf_.back();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    const auto idx = std::min<std::size_t>(static_cast<std::size_t>(it - cdf_.begin()), values_.size() - 1);
    return values_[idx];
  }
  std::int32_t min_value() const override { return lo_; }
  std::int32_t max_value() const override { return hi_; }
  std::string describe() const override { return label_; }

 private:
  std::vector<std::int32_t> values_;
  std::vector<double> cdf_;
  std::string label_;
  std::int32_t lo_ = 0, hi_ = 0;
};

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  const fs::path candidate = fs::path(base_dir) / path;
  return fs::exists(candidate) ? candidate.string() : path;
}

}  // namespace

std::unique_ptr<LengthDistribution> make_fixed_length(std::int32_t value) { return std::make_unique<Fixed>(value); }
std::unique_ptr<LengthDistribution> make_uniform_length(std::int32_t lo, std::int32_t hi) {
  return std::make_unique<Uniform>(lo, hi);
}
std::unique_ptr<LengthDistribution> make_lognormal_length(double mu, double sigma, std::int32_t lo, std::int32_t hi) {
  return std::make_unique<LogNormal>(mu, sigma, lo, hi, "");
}

std::unique_ptr<LengthDistribution> make_zipf_length(double s, std::int32_t lo, std::int32_t hi) {
  std::vector<std::int32_t> values;
  std::vector<double> cdf;
  double acc = 0;
  for (std::int64_t v = lo; v <= hi; ++v) {
    acc += 1.0 / std::pow(static_cast<double>(v - lo + 1), s);
    values.push_back(static_cast<std::int32_t>(v));
    cdf.push_back(acc);
  }
  std::ostringstream os;
  os << "zipf (s " << s << ") over [" << lo << ", " << hi << "]";
  return std::make_unique<Tabulated>(std::move(values), std::move(cdf), os.str());
}

std::unique_ptr<LengthDistribution> make_empirical_length(std::vector<std::int32_t> values, std::string origin) {
  std::sort(values.begin(), values.end());
  std::vector<double> cdf(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) cdf[i] = static_cast<double>(i + 1);
  const std::string label = "empirical (" + std::to_string(values.size()) + " values from " + origin + ")";
  return std::make_unique<Tabulated>(std::move(values), std::move(cdf), label);
}

std::unique_ptr<LengthDistribution> make_sharegpt_length(LengthRole role) {
  const ShareGptLengthModel m = sharegpt_length_model(role);
  return std::make_unique<LogNormal>(std::log(m.median), m.sigma, m.min, m.max, "ShareGPT-like ");
}

std::vector<std::int32_t> read_length_column(const std::string& path, const std::string& column) {
  CsvFile csv(path);
  const int col = csv.column(column);
  if (col < 0) throw InputError(path + ":1: no column '" + column + "' (columns: " + join(csv.header(), ", ") + ")");
  std::vector<std::int32_t> out;
  std::vector<std::string> row;
  while (csv.next(row)) {
    const std::string& cell = row[static_cast<std::size_t>(col)];
    const auto v = parse_int(cell);
    if (!v || *v < 1) {
      throw InputError(path + ":" + std::to_string(csv.line()) + ": column '" + column +
                       "' must be a positive integer (got '" + cell + "')");
    }
    out.push_back(static_cast<std::int32_t>(*v));
  }
  if (out.empty()) throw InputError(path + ": no data rows");
  return out;
}

namespace {

std::int32_t positive_int(ConfigReader& r, const std::string& key, std::int32_t def) {
  return r.get<int>(key, def, closed(1, kMaxTokens, "tokens"));
}

std::unique_ptr<LengthDistribution> decode_fixed(ConfigReader& r, LengthRole, const std::string&) {
  auto out = make_fixed_length(positive_int(r, "value", 1));
  if (!r.has("value")) r.error("value", "required key is missing");
  return out;
}

std::unique_ptr<LengthDistribution> decode_uniform(ConfigReader& r, LengthRole, const std::string&) {
  const auto lo = positive_int(r, "min", 1), hi = positive_int(r, "max", 1);
  if (hi < lo) r.error("max", "must be >= min (" + std::to_string(lo) + ")");
  return make_uniform_length(lo, std::max(lo, hi));
}

std::unique_ptr<LengthDistribution> decode_lognormal(ConfigReader& r, LengthRole, const std::string&) {
  const double sigma = r.require<double>("sigma", positive_upto(10));
  const auto median = r.get_optional<double>("median", positive_upto(kMaxTokens, "tokens"));
  const auto mean = r.get_optional<double>("mean", positive_upto(kMaxTokens, "tokens"));
  if (median.has_value() == mean.has_value()) r.error("median", "give exactly one of 'median' or 'mean'");
  const double center = median.value_or(mean.value_or(1.0));
  const double mu = median ? std::log(std::max(center, 1e-9)) : std::log(std::max(center, 1e-9)) - sigma * sigma / 2.0;
  const auto lo = positive_int(r, "min", 1), hi = positive_int(r, "max", 1 << 20);
  if (hi < lo) r.error("max", "must be >= min");
  return make_lognormal_length(mu, std::max(sigma, 1e-9), lo, std::max(lo, hi));
}

std::unique_ptr<LengthDistribution> decode_zipf(ConfigReader& r, LengthRole, const std::string&) {
  const double s = r.require<double>("s", positive_upto(100));
  const auto lo = positive_int(r, "min", 1), hi = positive_int(r, "max", 1);
  if (hi < lo) r.error("max", "must be >= min");
  if (static_cast<std::int64_t>(hi) - lo > 10'000'000) r.error("max", "range too large for zipf (max 1e7 values)");
  if (!r.errors().empty()) return nullptr;
  return make_zipf_length(s, lo, hi);
}

std::unique_ptr<LengthDistribution> decode_empirical(ConfigReader& r, LengthRole role, const std::string& base_dir) {
  const std::string file = r.require<std::string>("file");
  const std::string column = r.get<std::string>("column", role == LengthRole::kPrompt ? "prompt_tokens" : "output_tokens");
  if (file.empty()) return nullptr;
  try {
    return make_empirical_length(read_length_column(resolve_path(file, base_dir), column), file);
  } catch (const InputError& e) {
    r.error("file", e.what());
  }
  return nullptr;
}

std::unique_ptr<LengthDistribution> decode_sharegpt(ConfigReader& r, LengthRole role, const std::string&) {
  auto out = make_sharegpt_length(role);
  const auto hi = r.get_optional<int>("max", closed(1, kMaxTokens, "tokens"));
  if (hi) {
    const ShareGptLengthModel m = sharegpt_length_model(role);
    if (*hi < m.min) r.error("max", "must be >= " + std::to_string(m.min));
    else out = std::make_unique<LogNormal>(std::log(m.median), m.sigma, m.min, *hi, "ShareGPT-like ");
  }
  return out;
}

}  // namespace

const LengthRegistry& length_registry() {
  static const LengthRegistry registry(
      "length distribution",
      {{"fixed", "every request the same: value", {}, decode_fixed},
       {"uniform", "uniform integers in [min, max]", {}, decode_uniform},
       {"lognormal", "log-normal with sigma and a median or a mean, clipped to [min, max]", {}, decode_lognormal},
       {"zipf", "Zipf with exponent s over [min, max]", {}, decode_zipf},
       {"empirical", "resampled from a column of a CSV file", {}, decode_empirical},
       {"sharegpt", "the built-in ShareGPT-like log-normal (optionally capped at max)", {}, decode_sharegpt}});
  return registry;
}

std::vector<std::string> length_distribution_kinds() { return length_registry().names(); }

std::unique_ptr<LengthDistribution> decode_length_distribution(ConfigReader r, LengthRole role,
                                                               const std::string& base_dir) {
  const std::string kind = r.require<std::string>("kind");
  std::unique_ptr<LengthDistribution> out;
  if (const auto* e = length_registry().find(kind)) out = e->make(r, role, base_dir);
  else if (!kind.empty()) r.error("kind", length_registry().unknown(kind));
  r.finish();
  return out;
}

}  // namespace kvsim
