#include "experiments/sweep.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "sim/config/scenario.h"
#include "sim/core/atomic_file.h"
#include "sim/core/config_reader.h"
#include "sim/core/error.h"
#include "sim/core/rng.h"
#include "sim/core/text_file.h"
#include "sim/core/worker_pool.h"
#include "sim/pipeline/run_report.h"
#include "sim/pipeline/metric_catalog.h"
#include "sim/pipeline/pipeline.h"

namespace kvsim {

namespace {

std::string flow(const YAML::Node& n) {
  YAML::Emitter em;
  em.SetMapFormat(YAML::Flow);
  em.SetSeqFormat(YAML::Flow);
  em << n;
  return em.c_str();
}

std::vector<SweepAxis> decode_axes(const YAML::Node& map, const std::string& path, ErrorList& errors,
                                   const std::string& file) {
  std::vector<SweepAxis> out;
  if (!map.IsMap()) {
    errors.add(file + ": " + path + ": expected a mapping of key: [values]");
    return out;
  }
  for (const auto& kv : map) {
    SweepAxis a;
    const auto key = yaml_key(kv.first);
    if (!key) {
      errors.add(file + ": " + path + ": axis keys must be plain config paths");
      continue;
    }
    a.key = *key;
    const YAML::Node& vals = kv.second;
    const std::string where = file + ":" + std::to_string(kv.first.Mark().line + 1) + ": " + path + "." + a.key;
    if (!vals.IsSequence()) {
      errors.add(where + ": expected a list of values");
      continue;
    }
    if (vals.size() == 0) {
      errors.add(where + ": empty list (an axis needs at least one value)");
      continue;
    }
    for (const auto& v : vals) a.values.push_back(flow(v));
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

SweepSpec parse_sweep_spec(const std::string& text, const std::string& source) {
  SweepSpec s;
  s.source = source;
  s.text = text;
  const YAML::Node doc = parse_yaml_text(text, source);
  if (!doc.IsMap()) throw InputError(source + ": a sweep spec must be a mapping with 'axes' and/or 'zip'");
  ErrorList errors;
  ConfigReader r(doc, "", source, errors);
  const YAML::Node axes = r.raw("axes");
  if (axes) s.axes = decode_axes(axes, "axes", errors, source);
  const YAML::Node zip = r.raw("zip");
  if (zip) {
    if (!zip.IsSequence()) {
      r.error("zip", "expected a list of {key: [values], ...} groups");
    } else {
      for (std::size_t i = 0; i < zip.size(); ++i) {
        const std::string path = "zip[" + std::to_string(i) + "]";
        auto group = decode_axes(zip[i], path, errors, source);
        for (std::size_t j = 1; j < group.size(); ++j) {
          if (group[j].values.size() != group[0].values.size()) {
            errors.add(source + ": " + path + ": zipped lists differ in length ('" + group[0].key + "' has " +
                       std::to_string(group[0].values.size()) + ", '" + group[j].key + "' has " +
                       std::to_string(group[j].values.size()) + ")");
          }
        }
        if (!group.empty()) s.zips.push_back(std::move(group));
      }
    }
  }
  s.repetitions = r.get<int>("repetitions", 1, closed(1, 1e4));
  r.finish();
  if (errors.empty() && s.axes.empty() && s.zips.empty()) {
    errors.add(source + ": empty grid: give at least one axis under 'axes' or 'zip'");
  }
  std::set<std::string> seen;
  for (const auto& k : sweep_keys(s)) {
    if (!seen.insert(k).second) errors.add(source + ": key '" + k + "' appears on more than one axis");
    if (k == "seed") errors.add(source + ": 'seed' cannot be an axis: points are seeded base_seed + repetition (use 'repetitions')");
  }
  errors.throw_if_any();
  return s;
}

SweepSpec load_sweep_spec(const std::string& path) {
  return parse_sweep_spec(read_text_file(path, "sweep spec"), path);
}

std::vector<std::string> sweep_keys(const SweepSpec& spec) {
  std::vector<std::string> keys;
  for (const auto& g : spec.zips) {
    for (const auto& a : g) keys.push_back(a.key);
  }
  for (const auto& a : spec.axes) keys.push_back(a.key);
  return keys;
}

std::vector<SweepPoint> expand_sweep(const SweepSpec& spec, std::uint64_t base_seed) {
  // Dimensions: each zip group is one dimension (its lists advance together), each axis one.
  struct Dim {
    std::vector<const SweepAxis*> axes;
    std::size_t size;
  };
  std::vector<Dim> dims;
  for (const auto& g : spec.zips) {
    Dim d;
    for (const auto& a : g) d.axes.push_back(&a);
    d.size = g.front().values.size();
    dims.push_back(d);
  }
  for (const auto& a : spec.axes) dims.push_back(Dim{{&a}, a.values.size()});
  std::vector<SweepPoint> out;
  std::vector<std::size_t> idx(dims.size(), 0);
  std::int64_t n = 0;
  for (;;) {
    for (int rep = 0; rep < spec.repetitions; ++rep) {
      SweepPoint p;
      p.index = n++;
      p.rep = rep;
      p.seed = base_seed + static_cast<std::uint64_t>(rep);
      for (std::size_t d = 0; d < dims.size(); ++d) {
        for (const SweepAxis* a : dims[d].axes) p.params.emplace_back(a->key, a->values[idx[d]]);
      }
      out.push_back(std::move(p));
    }
    // Odometer: the last dimension moves fastest.
    std::size_t d = dims.size();
    while (d > 0) {
      --d;
      if (++idx[d] < dims[d].size) break;
      idx[d] = 0;
      if (d == 0) return out;
    }
    if (dims.empty()) return out;
  }
}

void validate_sweep_axes(const SweepSpec& spec, const std::string& base_path, const Catalog& catalog,
                         const CalibrationSource& calibration) {
  for (const auto& key : sweep_keys(spec)) {
    std::string first;
    for (const auto& a : spec.axes) {
      if (a.key == key) first = a.values.front();
    }
    for (const auto& g : spec.zips) {
      for (const auto& a : g) {
        if (a.key == key) first = a.values.front();
      }
    }
    try {
      load_scenario(base_path, {key + "=" + first}, std::nullopt, catalog, calibration);
    } catch (const InputError& e) {
      throw InputError(spec.source + ": axis '" + key + "': " + e.what());
    }
  }
}


namespace {
std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

SweepRow run_sweep_point(const SweepSpec&, const SweepPoint& p, const std::string& base_path, const Catalog& catalog,
                         const CalibrationSource& calibration_dirs) {
  std::vector<std::string> sets;
  for (const auto& [k, v] : p.params) sets.push_back(k + "=" + v);
  const Scenario s = load_scenario(base_path, sets, p.seed, catalog, calibration_dirs);
  const std::vector<double> m = metric_values(run_scenario(s).report);
  SweepRow row;
  row.index = p.index;
  row.csv = sweep_row_prefix(p);
  nlohmann::json metrics = nlohmann::json::object();
  for (std::size_t i = 0; i < m.size(); ++i) {
    row.csv += "," + num(m[i]);
    metrics[metric_catalog()[i].name] = m[i];
  }
  row.csv += "\n";
  nlohmann::json j = sweep_row_identity(p);
  j["metrics"] = metrics;
  row.json = j.dump() + "\n";
  return row;
}

SweepShard parse_sweep_shard(const std::string& text) {
  const auto slash = text.find('/');
  SweepShard sh;
  try {
    if (slash == std::string::npos) throw std::invalid_argument(text);
    sh.index = std::stoi(text.substr(0, slash));
    sh.count = std::stoi(text.substr(slash + 1));
  } catch (const std::exception&) {
    throw InputError("--shard must be i/N with 0 <= i < N (got '" + text + "')");
  }
  if (sh.count < 1 || sh.index < 0 || sh.index >= sh.count) {
    throw InputError("--shard must be i/N with 0 <= i < N (got '" + text + "')");
  }
  return sh;
}

SweepBatch run_sweep_points(const SweepSpec& spec, const std::vector<const SweepPoint*>& points,
                            const std::string& base_path, const Catalog& catalog, const CalibrationSource& calibration,
                            int jobs, const std::function<void(SweepRow&&)>& on_row,
                            const std::function<void()>& on_point) {
  SweepBatch out;
  std::mutex mu;
  const ParallelOutcome ran = parallel_for(points.size(), jobs, [&](std::size_t i) {
    try {
      on_row(run_sweep_point(spec, *points[i], base_path, catalog, calibration));
    } catch (const std::exception& e) {
      std::string params;
      for (const auto& [k, v] : points[i]->params) params += " " + k + "=" + v;
      const std::lock_guard<std::mutex> lock(mu);
      out.failures.push_back("point " + std::to_string(points[i]->index) + " (" + params.substr(params.empty() ? 0 : 1) +
                             ", seed " + std::to_string(points[i]->seed) + "): " + e.what());
    }
    on_point();
  });
  ran.rethrow_first();  // only what is not a std::exception escapes a point
  out.threads = ran.threads;
  std::sort(out.failures.begin(), out.failures.end());
  return out;
}

std::string sweep_row_prefix(const SweepPoint& p) {
  std::string out = std::to_string(p.index) + "," + std::to_string(p.rep) + "," + std::to_string(p.seed);
  for (const auto& kv : p.params) out += "," + csv_field(kv.second);
  return out;
}

nlohmann::json sweep_row_identity(const SweepPoint& p) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : p.params) params[k] = v;
  return {{"point", p.index}, {"rep", p.rep}, {"seed", p.seed}, {"params", params}};
}

std::string sweep_signature(const SweepSpec& spec, const std::string& base_text) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(fnv1a64(spec.text + "\n--\n" + base_text)));
  return buf;
}

namespace {

std::vector<std::string> read_lines(const std::string& path, bool& torn) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  std::vector<std::string> lines;
  std::size_t start = 0;
  torn = false;
  while (start < all.size()) {
    const auto nl = all.find('\n', start);
    if (nl == std::string::npos) {
      torn = true;  // a last line without its newline was cut by a crash
      break;
    }
    lines.push_back(all.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::int64_t leading_int(const std::string& s) {
  std::size_t pos = 0;
  try {
    const long long v = std::stoll(s, &pos);
    return pos > 0 ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

void write_all(int fd, const std::string& s, const std::string& path) {
  // One write per line keeps rows whole with O_APPEND; retry only on a short write.
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) throw std::runtime_error("write failed: " + path);
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

SweepResults::SweepResults(const std::string& dir, const std::string& signature, const std::vector<std::string>& keys,
                           bool resume, const std::string& stem, const std::vector<SweepPoint>* grid) {
  namespace fs = std::filesystem;
  csv_path_ = (fs::path(dir) / (stem + ".csv")).string();
  jsonl_path_ = (fs::path(dir) / (stem + ".jsonl")).string();
  const std::string sig_line = "# kvsim-sweep v1 signature=" + signature;
  std::string header = "point,rep,seed";
  for (const auto& k : keys) header += "," + csv_field(k);
  for (const auto& m : metric_catalog()) header += "," + m.name;
  const bool exists = fs::exists(csv_path_) || fs::exists(jsonl_path_);
  if (exists && !resume) {
    throw InputError(dir + ": already holds sweep results; use --resume to continue them or choose another --out");
  }
  std::string csv_body, json_body;
  if (exists) {
    bool torn_csv = false, torn_json = false;
    const auto csv = read_lines(csv_path_, torn_csv);
    const auto json = read_lines(jsonl_path_, torn_json);
    if (csv.size() < 2 || csv[0] != sig_line || csv[1] != header) {
      throw InputError(csv_path_ + ": not the results of this sweep (its signature line and header must read '" +
                       sig_line + "' and the columns of this spec); refusing to resume");
    }
    std::map<std::int64_t, const SweepPoint*> points;
    if (grid) {
      for (const SweepPoint& p : *grid) points[p.index] = &p;
    }
    const std::size_t metric_fields = metric_catalog().size();
    std::map<std::int64_t, std::string> csv_rows, json_rows;
    std::set<std::int64_t> conflicting;
    auto report = [&](const std::string& where, const std::string& what) { findings_.push_back(where + ": " + what); };
    // One row per point: an identical repeat is harmless, a different one leaves no trusted row.
    auto keep = [&](std::map<std::int64_t, std::string>& rows, std::int64_t p, const std::string& line,
                    const std::string& where) {
      const auto it = rows.find(p);
      if (it == rows.end()) {
        rows[p] = line;
      } else if (it->second == line) {
        report(where, "point " + std::to_string(p) + " repeated (identical); kept once");
      } else {
        report(where, "point " + std::to_string(p) + " repeated with different contents; re-running it");
        conflicting.insert(p);
      }
    };
    for (std::size_t i = 2; i < csv.size(); ++i) {
      const std::string where = csv_path_ + ":" + std::to_string(i + 1);
      const std::int64_t p = leading_int(csv[i]);
      if (p < 0) throw InputError(where + ": not a sweep row; refusing to resume");
      if (grid) {
        const auto it = points.find(p);
        if (it == points.end()) {
          report(where, "point " + std::to_string(p) + " is not in this grid; dropped");
          continue;
        }
        const std::string prefix = sweep_row_prefix(*it->second) + ",";
        if (csv[i].compare(0, prefix.size(), prefix) != 0) {
          report(where, "point " + std::to_string(p) + "'s rep, seed or parameters differ from the grid's; re-running it");
          continue;
        }
        const std::string rest = csv[i].substr(prefix.size());
        if (static_cast<std::size_t>(std::count(rest.begin(), rest.end(), ',')) + 1 != metric_fields) {
          report(where, "point " + std::to_string(p) + "'s row is cut short or too long; re-running it");
          continue;
        }
      }
      keep(csv_rows, p, csv[i], where);
    }
    for (std::size_t i = 0; i < json.size(); ++i) {
      const std::string where = jsonl_path_ + ":" + std::to_string(i + 1);
      std::int64_t p = -1;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(json[i]);
        p = j.at("point").get<std::int64_t>();
      } catch (const std::exception&) {
        throw InputError(where + ": not a sweep row; refusing to resume");
      }
      if (grid) {
        const auto it = points.find(p);
        if (it == points.end()) {
          report(where, "point " + std::to_string(p) + " is not in this grid; dropped");
          continue;
        }
        const nlohmann::json want = sweep_row_identity(*it->second);
        bool same = j.is_object() && j.contains("metrics") && j["metrics"].is_object() &&
                    j["metrics"].size() == metric_fields;
        for (const auto& [k, v] : want.items()) same = same && j.contains(k) && j[k] == v;
        if (!same) {
          report(where, "point " + std::to_string(p) + "'s row does not match the grid's point or lacks metrics; re-running it");
          continue;
        }
      }
      keep(json_rows, p, json[i], where);
    }
    for (const auto& [p, line] : csv_rows) {
      if (conflicting.count(p)) continue;
      if (json_rows.count(p)) {
        done_.insert(p);
        csv_body += line + "\n";
        json_body += json_rows[p] + "\n";
      }
    }
  }
  // (Re)write both files with only whole rows of points present in both, atomically.
  write_file_atomically(csv_path_, sig_line + "\n" + header + "\n" + csv_body);
  write_file_atomically(jsonl_path_, json_body);
  csv_fd_ = ::open(csv_path_.c_str(), O_WRONLY | O_APPEND);
  jsonl_fd_ = ::open(jsonl_path_.c_str(), O_WRONLY | O_APPEND);
  if (csv_fd_ < 0 || jsonl_fd_ < 0) throw std::runtime_error("cannot open sweep results in " + dir);
}

SweepResults::~SweepResults() {
  if (csv_fd_ >= 0) ::close(csv_fd_);
  if (jsonl_fd_ >= 0) ::close(jsonl_fd_);
}

void SweepResults::append(const SweepRow& row) {
  const std::lock_guard<std::mutex> lock(mutex_);
  // CSV first, JSONL second: a point counts as done only when both hold it.
  write_all(csv_fd_, row.csv, csv_path_);
  write_all(jsonl_fd_, row.json, jsonl_path_);
}

}  // namespace kvsim
