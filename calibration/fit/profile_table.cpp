#include "calibration/fit/profile_table.h"

#include <cmath>
#include <cstdio>

#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

int ProfileTable::col(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

int ProfileTable::require(const std::string& name, const std::string& what) const {
  const int c = col(name);
  if (c < 0) {
    throw InputError(path + ":1: missing required column '" + name + "'" + (what.empty() ? "" : " (" + what + ")"));
  }
  return c;
}

double ProfileTable::num(std::size_t r, int c) const {
  const auto v = parse_double(str(r, c));
  if (!v || !std::isfinite(*v)) {
    throw InputError(path + ":" + std::to_string(lines[r]) + ": column '" + header[static_cast<std::size_t>(c)] +
                     "' must be a number (got '" + str(r, c) + "')");
  }
  return *v;
}

ProfileTable read_profile_table(const std::string& path) {
  CsvFile csv(path);
  ProfileTable t;
  t.path = path;
  t.header = csv.header();
  std::vector<std::string> row;
  while (csv.next(row)) {
    t.rows.push_back(row);
    t.lines.push_back(csv.line());
  }
  return t;
}

std::string csv_number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace kvsim
