#include "calibration/fit/bundle_overlay.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "calibration/fit/fitter.h"
#include "sim/core/atomic_file.h"
#include "sim/core/error.h"

namespace kvsim {

namespace fs = std::filesystem;

const std::vector<std::pair<std::string, std::string>>& overlay_variant_columns() {
  // The cost model picks among these by name (gemm_variant, prefill_kernel); nothing else in a
  // bundle has a per-name choice, so nothing else may be overlaid.
  static const std::vector<std::pair<std::string, std::string>> cols = {{"gemm", "dtype"},
                                                                         {"prefill_attention", "variant"}};
  return cols;
}

namespace {

std::string variant_column(const std::string& family, const std::string& csv) {
  for (const auto& [f, col] : overlay_variant_columns()) {
    if (f == family) return col;
  }
  throw InputError(csv + ": cannot overlay family '" + family +
                   "': only gemm and prefill_attention rows can be added (the cost model picks those by name)");
}

// Required columns that hold names rather than numbers: the variant and gemm's `op`.
bool is_name_column(const std::string& family, const std::string& col, const std::string& vcol) {
  return col == vcol || (family == "gemm" && col == "op");
}

nlohmann::json read_source_meta(const std::string& csv) {
  fs::path meta = csv;
  meta.replace_extension(".meta.json");
  if (!fs::exists(meta)) return nullptr;
  std::ifstream in(meta);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(meta.string() + ": invalid JSON: " + e.what());
  }
}

void append_source(Bundle& b, const OverlaySource& src) {
  const std::string vcol = variant_column(src.family, src.csv);
  auto it = b.tables.find(src.family);
  if (it == b.tables.end()) {
    throw InputError(src.csv + ": the base bundle " + b.dir + " has no " + src.family + ".csv to extend");
  }
  BundleTable& base = it->second;
  const BundleTable add = read_bundle_table(src.csv, src.family);

  std::set<std::string> measured;
  for (std::size_t i = 0; i < base.rows.size(); ++i) measured.insert(base.str(i, vcol));
  std::set<std::string> variants;
  for (std::size_t i = 0; i < add.rows.size(); ++i) {
    const std::string& v = add.str(i, vcol);
    const std::string where = src.csv + ":" + std::to_string(add.lines[i]);
    if (v.empty()) throw InputError(where + ": field '" + vcol + "' is empty");
    if (measured.count(v)) {
      throw InputError(where + ": " + src.family + " " + vcol + " '" + v + "' is already measured in " + base.path +
                       "; an overlay adds new variants (name them after the implementation, e.g. torch_linear)");
    }
    for (const auto& col : bundle_required_columns().at(src.family)) {
      if (!is_name_column(src.family, col, vcol)) add.num(i, col);  // throws naming file:line and field
    }
    variants.insert(v);
  }

  std::vector<std::string> dropped;
  for (const auto& c : add.header) {
    if (base.col(c) < 0) dropped.push_back(c);
  }
  for (std::size_t i = 0; i < add.rows.size(); ++i) {
    std::vector<std::string> row(base.header.size());
    for (std::size_t c = 0; c < base.header.size(); ++c) {
      const int from = add.col(base.header[c]);
      if (from >= 0) row[c] = add.rows[i][static_cast<std::size_t>(from)];
    }
    base.rows.push_back(std::move(row));
    base.lines.push_back(add.lines[i]);
  }

  nlohmann::json entry = {{"family", src.family},
                          {"source", src.csv},
                          {"rows", add.rows.size()},
                          {"variants", std::vector<std::string>(variants.begin(), variants.end())},
                          {"dropped_columns", dropped}};
  const nlohmann::json source_meta = read_source_meta(src.csv);
  if (!source_meta.is_null()) entry["source_meta"] = source_meta;
  b.meta["overlays"].push_back(entry);
}

std::string table_csv(const BundleTable& t) {
  std::ostringstream o;
  auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) o << (i ? "," : "") << fields[i];
    o << "\n";
  };
  line(t.header);
  for (const auto& r : t.rows) line(r);
  return o.str();
}

}  // namespace

Bundle with_overlay(const Bundle& base, const std::vector<OverlaySource>& sources) {
  if (sources.empty()) throw InputError("an overlay needs at least one source table (--gemm or --prefill-attention)");
  Bundle b = base;
  if (!b.meta.contains("overlays") || !b.meta["overlays"].is_array()) b.meta["overlays"] = nlohmann::json::array();
  for (const auto& s : sources) append_source(b, s);
  return b;
}

void write_overlay_bundle(const Bundle& overlay, const std::string& base_dir, const std::string& out_dir, bool replace) {
  const fs::path out = fs::path(out_dir).lexically_normal();
  if (fs::exists(base_dir) && fs::exists(out) && fs::equivalent(base_dir, out)) {
    throw InputError(out_dir + ": is the base bundle itself; write the overlay to a new directory");
  }
  {
    // Copying the base into a folder inside it would copy the copy.
    const fs::path b = fs::weakly_canonical(base_dir), o = fs::weakly_canonical(out);
    const auto [bend, oit] = std::mismatch(b.begin(), b.end(), o.begin(), o.end());
    if (bend == b.end()) throw InputError(out_dir + ": is inside the base bundle " + base_dir + "; write the overlay elsewhere");
  }
  if (fs::exists(out) && !replace) {
    throw InputError(out_dir + ": already exists (--force replaces it once the new overlay is complete)");
  }
  // Fit first: an overlay whose rows cannot be fitted is never written.
  const CalibratedCosts fitted = fit_bundle(overlay);

  const std::string pid = std::to_string(::getpid());
  const fs::path building = out.string() + ".tmp." + pid;
  std::error_code ec;
  fs::remove_all(building, ec);
  try {
    fs::copy(base_dir, building, fs::copy_options::recursive);
    for (const auto& [family, t] : overlay.tables) {
      write_file_atomically((building / (family + ".csv")).string(), table_csv(t));
    }
    write_file_atomically((building / "meta.json").string(), overlay.meta.dump(2) + "\n");
    write_file_atomically((building / "fit_report.json").string(), fit_report_json(fitted).dump(2) + "\n");
    if (fs::exists(out)) {
      const fs::path old = out.string() + ".old." + pid;
      fs::rename(out, old);
      fs::rename(building, out);
      fs::remove_all(old);
    } else {
      fs::rename(building, out);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(building, ec);
    throw InputError(out_dir + ": cannot write the overlay bundle: " + e.what());
  } catch (...) {
    fs::remove_all(building, ec);
    throw;
  }
}

}  // namespace kvsim
