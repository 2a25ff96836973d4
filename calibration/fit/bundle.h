#pragma once
// A calibration bundle on disk (docs/calibration.md, "Bundle format"):
//   meta.json                 provenance: GPU, SMs, memory, driver, CUDA, clocks, date, grid
//   <family>.csv              one row per measured point: key columns, time_us_median,
//                             time_us_p10, time_us_p90, reps, extra columns
//   samples/<family>.csv      every repetition (kept so fits can be redone without the GPU)
// Families: gemm, decode_attention, prefill_attention, elementwise, compression, copy, launch.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace kvsim {

struct BundleTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<long> lines;  // file line of each row

  int col(const std::string& name) const;
  // Field accessors; throw InputError naming path:line and the field.
  double num(std::size_t row, const std::string& name) const;
  const std::string& str(std::size_t row, const std::string& name) const;
};

struct Bundle {
  std::string dir;
  nlohmann::json meta;
  std::map<std::string, BundleTable> tables;  // by family
  bool has(const std::string& family) const { return tables.count(family) > 0; }
};

// Reads and validates a bundle: meta.json keys, each present family's required columns,
// numeric fields and positive times. Throws InputError naming the file, line and field.
Bundle load_bundle(const std::string& dir);

// One family's table from `path`: the family's required columns present, at least one row,
// every time_us_median a positive number. Throws InputError naming path:line and the field.
BundleTable read_bundle_table(const std::string& path, const std::string& family);

// The families a bundle may hold and the columns each one needs.
const std::map<std::string, std::vector<std::string>>& bundle_required_columns();

}  // namespace kvsim
