#pragma once
// A CSV profile published by another project (Vidur's schema), read whole so importers can
// filter and group its rows. Errors name the file, line and column.
#include <string>
#include <vector>

namespace kvsim {

struct ProfileTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<long> lines;  // file line of each row

  int col(const std::string& name) const;  // -1 when absent
  // The column's index; throws InputError "path:1: missing required column 'name'" (+ " (what)").
  int require(const std::string& name, const std::string& what = "") const;
  const std::string& str(std::size_t r, int c) const { return rows[r][static_cast<std::size_t>(c)]; }
  // A finite number; throws InputError "path:line: column 'name' must be a number (got 'x')".
  double num(std::size_t r, int c) const;
  // Empty cells (another phase's time, absent in this row) read as 0.
  double num_or_zero(std::size_t r, int c) const { return str(r, c).empty() ? 0.0 : num(r, c); }
};

// Reads the header and every row. Throws InputError if unreadable or a row has the wrong width.
ProfileTable read_profile_table(const std::string& path);

// A number as bundle and profile CSVs are written here (%.6g).
std::string csv_number(double v);

}  // namespace kvsim
