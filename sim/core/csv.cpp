#include "sim/core/csv.h"

#include <algorithm>
#include <cmath>

#include "sim/core/error.h"

namespace kvsim {

namespace {
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\"");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\"");
  return s.substr(b, e - b + 1);
}
bool skippable(const std::string& line) {
  const std::string t = trim(line);
  return t.empty() || t[0] == '#';
}
}  // namespace

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

std::optional<long long> parse_int(const std::string& text) {
  try {
    std::size_t pos = 0;
    const long long v = std::stoll(text, &pos);
    if (pos != text.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<double> parse_double(const std::string& text) {
  try {
    std::size_t pos = 0;
    const double v = std::stod(text, &pos);
    if (pos != text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

CsvFile::CsvFile(const std::string& path) : path_(path), in_(path) {
  if (!in_) throw InputError(path + ": cannot open file");
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (skippable(line)) continue;
    header_ = split_csv_line(line);
    return;
  }
  throw InputError(path + ": empty file (expected a header row)");
}

int CsvFile::column(const std::string& name) const {
  const auto it = std::find(header_.begin(), header_.end(), name);
  return it == header_.end() ? -1 : static_cast<int>(it - header_.begin());
}

bool CsvFile::next(std::vector<std::string>& row) {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (skippable(line)) continue;
    row = split_csv_line(line);
    if (row.size() != header_.size()) {
      throw InputError(path_ + ":" + std::to_string(line_) + ": expected " + std::to_string(header_.size()) +
                       " fields (" + join(header_, ",") + ") but found " + std::to_string(row.size()));
    }
    return true;
  }
  return false;
}

}  // namespace kvsim
