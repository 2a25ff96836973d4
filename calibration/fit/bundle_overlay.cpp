#include "calibration/fit/bundle_overlay.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "calibration/fit/fitter.h"
#include "models/cost/table_cost_model.h"
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

// Sizes that must be >= 1 (the others, cached_tokens, may be 0).
bool is_positive_size(const std::string& col) {
  return col == "m" || col == "n" || col == "k" || col == "new_tokens";
}

// `<name>.meta.json` beside `<name>.csv`, as the PyTorch benches write it; null if absent.
nlohmann::json read_source_meta(const std::string& csv) {
  fs::path meta = csv;
  meta.replace_extension(".meta.json");
  std::error_code ec;
  if (!fs::is_regular_file(meta, ec)) return nullptr;
  std::ifstream in(meta);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(meta.string() + ": invalid JSON: " + e.what());
  }
}

// A path for meta.json: absolute, so it means the same from any working directory (as given if
// the working directory cannot be read).
std::string provenance_path(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// Where each variant of each family already comes from: the base table, or an earlier source.
using VariantOrigins = std::map<std::string, std::map<std::string, std::string>>;

void check_row(const BundleTable& add, std::size_t i, const std::string& family, const std::string& vcol) {
  const std::string where = add.path + ":" + std::to_string(add.lines[i]);
  if (add.str(i, vcol).empty()) throw InputError(where + ": field '" + vcol + "' is empty");
  for (const auto& col : bundle_required_columns().at(family)) {
    if (is_name_column(family, col, vcol)) continue;
    const double v = add.num(i, col);  // throws naming file:line and field
    if (is_positive_size(col) && !(v >= 1)) {
      throw InputError(where + ": field '" + col + "' must be >= 1 (got " + add.str(i, col) + ")");
    }
    if (col == "cached_tokens" && !(v >= 0)) {
      throw InputError(where + ": field 'cached_tokens' must be >= 0 (got " + add.str(i, col) + ")");
    }
  }
}

// A GEMM variant the cost model could not use (an operator missing) is refused here, not later.
void check_gemm_coverage(const BundleTable& add, const std::set<std::string>& variants) {
  for (const auto& v : variants) {
    std::set<std::string> ops;
    for (std::size_t i = 0; i < add.rows.size(); ++i) {
      if (add.str(i, "dtype") == v) ops.insert(add.str(i, "op"));
    }
    std::vector<std::string> missing;
    for (const auto& op : gemm_operators()) {
      if (!ops.count(op)) missing.push_back(op);
    }
    if (!missing.empty()) {
      throw InputError(add.path + ": gemm variant '" + v + "' has no rows for " + join(missing, ", ") +
                       " (a variant must cover " + join(gemm_operators(), ", ") + ")");
    }
  }
}

void append_source(Bundle& b, const OverlaySource& src, VariantOrigins& origins) {
  const std::string vcol = variant_column(src.family, src.csv);
  auto it = b.tables.find(src.family);
  if (it == b.tables.end()) {
    throw InputError(src.csv + ": the base bundle " + b.dir + " has no " + src.family + ".csv to extend");
  }
  BundleTable& base = it->second;
  const BundleTable add = read_bundle_table(src.csv, src.family);

  auto& known = origins[src.family];
  if (known.empty()) {
    for (std::size_t i = 0; i < base.rows.size(); ++i) known.emplace(base.str(i, vcol), base.path);
  }
  std::set<std::string> variants;
  for (std::size_t i = 0; i < add.rows.size(); ++i) {
    check_row(add, i, src.family, vcol);
    const std::string& v = add.str(i, vcol);
    if (const auto seen = known.find(v); seen != known.end()) {
      throw InputError(src.csv + ":" + std::to_string(add.lines[i]) + ": " + src.family + " " + vcol + " '" + v +
                       "' is already in " + seen->second +
                       "; an overlay adds new variants (name them after the implementation, e.g. torch_linear)");
    }
    variants.insert(v);
  }
  if (src.family == "gemm") check_gemm_coverage(add, variants);
  for (const auto& v : variants) known.emplace(v, src.csv);

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
                          {"source", provenance_path(src.csv)},
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

// `a` is `b` or a folder inside it.
bool is_within(const fs::path& a, const fs::path& b) {
  return std::mismatch(b.begin(), b.end(), a.begin(), a.end()).first == b.end();
}

// Absolute, with no "..", symlinked parents or trailing separator ("dir/" names "dir").
fs::path absolute_folder(const std::string& path) {
  fs::path p = fs::weakly_canonical(fs::absolute(path));
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();
  return p;
}

// Where the overlay may go: not the base, not inside it, not around it; a parent that exists;
// an existing target only with --force and only if it is itself a bundle (never an arbitrary
// folder). Returns the target as an absolute path.
fs::path checked_target(const std::string& base_dir, const std::string& out_dir, bool replace) {
  try {
    const fs::path b = absolute_folder(base_dir), o = absolute_folder(out_dir);
    if (o == b) throw InputError(out_dir + ": is the base bundle itself; write the overlay to a new directory");
    if (is_within(o, b)) throw InputError(out_dir + ": is inside the base bundle " + base_dir + "; write the overlay elsewhere");
    if (is_within(b, o)) throw InputError(out_dir + ": holds the base bundle " + base_dir + "; write the overlay elsewhere");
    const fs::path parent = o.parent_path();
    if (!fs::is_directory(parent)) throw InputError(out_dir + ": its parent folder " + parent.string() + " does not exist");
    if (fs::exists(fs::symlink_status(o))) {
      if (!replace) throw InputError(out_dir + ": already exists (--force replaces it once the new overlay is complete)");
      if (!fs::is_directory(o) || !fs::exists(o / "meta.json")) {
        throw InputError(out_dir + ": exists and is not a calibration bundle (no meta.json); --force replaces only a bundle");
      }
    }
    return o;
  } catch (const fs::filesystem_error& e) {
    throw InputError(out_dir + ": " + e.code().message());
  }
}

// fs::copy keeps the base's permissions; a read-only installed bundle would give a read-only copy.
void make_owner_writable(const fs::path& dir) {
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    fs::permissions(e.path(), e.is_directory() ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::add);
  }
}

}  // namespace

Bundle with_overlay(const Bundle& base, const std::vector<OverlaySource>& sources) {
  if (sources.empty()) throw InputError("an overlay needs at least one source table (--gemm or --prefill-attention)");
  Bundle b = base;
  if (!b.meta.contains("overlays") || !b.meta["overlays"].is_array()) b.meta["overlays"] = nlohmann::json::array();
  b.meta["overlay_base"] = provenance_path(base.dir);
  VariantOrigins origins;
  for (const auto& s : sources) append_source(b, s, origins);
  return b;
}

void write_overlay_bundle(const Bundle& overlay, const std::string& base_dir, const std::string& out_dir, bool replace) {
  const fs::path out = checked_target(base_dir, out_dir, replace);
  const CalibratedCosts fitted = fit_bundle(overlay);  // the fit report of the combined tables
  std::set<std::string> extended;
  for (const auto& e : overlay.meta.value("overlays", nlohmann::json::array())) extended.insert(e.value("family", ""));

  const std::string pid = std::to_string(::getpid());
  const fs::path building = out.parent_path() / (out.filename().string() + ".tmp." + pid);
  const fs::path old = out.parent_path() / (out.filename().string() + ".old." + pid);
  std::error_code ec;
  fs::remove_all(building, ec);
  try {
    fs::copy(base_dir, building, fs::copy_options::recursive);
    make_owner_writable(building);
    // Only the extended tables are rewritten; the others stay byte for byte the base's.
    for (const auto& [family, t] : overlay.tables) {
      if (extended.count(family)) write_file_atomically((building / (family + ".csv")).string(), table_csv(t));
    }
    write_file_atomically((building / "meta.json").string(), overlay.meta.dump(2) + "\n");
    write_file_atomically((building / "fit_report.json").string(), fit_report_json(fitted).dump(2) + "\n");
  } catch (const std::exception& e) {
    fs::remove_all(building, ec);
    throw std::runtime_error(out_dir + ": cannot write the overlay bundle: " + e.what());
  }
  // Swap: the old output is moved aside, and moved back if the new one cannot take its place.
  const bool had_old = fs::exists(fs::symlink_status(out));
  if (had_old) {
    fs::rename(out, old, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove_all(building, ignored);
      throw std::runtime_error(out_dir + ": cannot move the existing overlay aside: " + ec.message());
    }
  }
  fs::rename(building, out, ec);
  if (ec) {
    std::error_code ignored;
    if (had_old) fs::rename(old, out, ignored);
    fs::remove_all(building, ignored);
    throw std::runtime_error(out_dir + ": cannot move the new overlay into place: " + ec.message());
  }
  if (had_old) fs::remove_all(old, ec);  // a leftover is harmless; the new overlay is complete
}

}  // namespace kvsim
