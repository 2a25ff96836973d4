#pragma once
// A small, strict CSV reader for kvsim's own formats (no quoted fields with embedded commas;
// '#' starts a comment line). Reports positions as file:line.
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace kvsim {

class CsvFile {
 public:
  // Opens `path` and reads the header row. Throws InputError if unreadable or empty.
  explicit CsvFile(const std::string& path);
  const std::vector<std::string>& header() const { return header_; }
  int column(const std::string& name) const;  // -1 when absent
  // Next data row; false at end. Throws InputError (file:line) on a wrong field count.
  bool next(std::vector<std::string>& row);
  long line() const { return line_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  std::vector<std::string> header_;
  long line_ = 0;
};

std::vector<std::string> split_csv_line(const std::string& line);
std::optional<long long> parse_int(const std::string& text);
std::optional<double> parse_double(const std::string& text);

}  // namespace kvsim
