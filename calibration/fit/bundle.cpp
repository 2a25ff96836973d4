#include "calibration/fit/bundle.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

const std::map<std::string, std::vector<std::string>>& bundle_required_columns() {
  static const std::map<std::string, std::vector<std::string>> cols = {
      {"gemm", {"op", "dtype", "m", "n", "k", "time_us_median"}},
      {"decode_attention", {"kv_format", "fused", "batch", "context_mean", "context_max", "time_us_median"}},
      {"prefill_attention", {"variant", "new_tokens", "cached_tokens", "time_us_median"}},
      {"elementwise", {"op", "rows", "width", "time_us_median"}},
      {"compression", {"op", "format", "tokens", "context", "time_us_median"}},
      {"copy", {"direction", "bytes", "time_us_median"}},
      {"launch", {"mode", "kernels", "time_us_median"}},
  };
  return cols;
}

int BundleTable::col(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

const std::string& BundleTable::str(std::size_t row, const std::string& name) const {
  const int c = col(name);
  if (c < 0) throw InputError(path + ": missing column '" + name + "'");
  return rows[row][static_cast<std::size_t>(c)];
}

double BundleTable::num(std::size_t row, const std::string& name) const {
  const std::string& s = str(row, name);
  const auto v = parse_double(s);
  if (!v) {
    throw InputError(path + ":" + std::to_string(lines[row]) + ": field '" + name + "' must be a number (got '" + s +
                     "')");
  }
  return *v;
}

BundleTable read_bundle_table(const std::string& path, const std::string& family) {
  CsvFile csv(path);
  BundleTable t;
  t.path = path;
  t.header = csv.header();
  for (const auto& req : bundle_required_columns().at(family)) {
    if (t.col(req) < 0) {
      throw InputError(path + ":" + std::to_string(csv.line()) + ": missing required column '" + req + "' (family " +
                       family + ")");
    }
  }
  std::vector<std::string> row;
  while (csv.next(row)) {
    t.rows.push_back(row);
    t.lines.push_back(csv.line());
  }
  if (t.rows.empty()) throw InputError(path + ": no measurements");
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const double tm = t.num(i, "time_us_median");
    if (!(tm > 0)) {
      throw InputError(path + ":" + std::to_string(t.lines[i]) + ": field 'time_us_median' must be > 0 (got " +
                       t.str(i, "time_us_median") + ")");
    }
  }
  return t;
}

Bundle load_bundle(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw InputError(dir + ": not a calibration bundle directory");
  Bundle b;
  b.dir = dir;
  const std::string meta_path = (fs::path(dir) / "meta.json").string();
  std::ifstream in(meta_path);
  if (!in) throw InputError(meta_path + ": missing (every bundle has a meta.json with its provenance)");
  try {
    b.meta = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(meta_path + ": invalid JSON: " + e.what());
  }
  for (const char* key : {"schema_version", "gpu_name", "sm_count", "memory_bytes", "date_utc", "model_shape"}) {
    if (!b.meta.contains(key)) throw InputError(meta_path + ": missing field '" + key + "'");
  }
  if (!b.meta["schema_version"].is_number_integer() || b.meta["schema_version"].get<int>() != 1) {
    throw InputError(meta_path + ": field 'schema_version' must be 1");
  }
  if (!b.meta["gpu_name"].is_string()) throw InputError(meta_path + ": field 'gpu_name' must be a string");
  if (!b.meta["model_shape"].is_object() || !b.meta["model_shape"].contains("name") ||
      !b.meta["model_shape"]["name"].is_string()) {
    // Found by fuzz_bundle: a non-string name reached fit_bundle's get<std::string>() and threw
    // a JSON type error instead of an InputError.
    throw InputError(meta_path + ": field 'model_shape' must be an object with a string 'name'");
  }
  if (!b.meta["date_utc"].is_string()) throw InputError(meta_path + ": field 'date_utc' must be a string");
  for (const auto& [family, cols] : bundle_required_columns()) {
    const fs::path p = fs::path(dir) / (family + ".csv");
    if (fs::exists(p)) b.tables.emplace(family, read_bundle_table(p.string(), family));
  }
  if (b.tables.empty()) throw InputError(dir + ": no measurement tables (expected gemm.csv, decode_attention.csv, ...)");
  return b;
}

}  // namespace kvsim
