#pragma once
// Trace files: CSV (header row) or JSONL (one object per line). Columns / fields:
//   arrival_s (required, seconds, non-decreasing), prompt_tokens (required, >= 1),
//   output_tokens (required, >= 1), id (optional integer), max_tokens (optional, >= 0),
//   priority (optional integer), compression (optional method name, e.g. kivi-4; empty:
//   the scenario's choice). Unknown columns are an error (catches typos).
// Format is chosen by extension: .csv, .jsonl / .ndjson.
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "traces/request_spec.h"

namespace kvsim {

class TraceReader {
 public:
  virtual ~TraceReader() = default;
  // Next row, or nullopt at the end. Throws InputError naming file:line on a bad row.
  virtual std::optional<RequestSpec> next() = 0;
  virtual long line() const = 0;
  // Distinct method names seen so far, in order of first appearance (RequestSpec::method).
  virtual const std::vector<std::string>& method_names() const = 0;
};

std::unique_ptr<TraceReader> open_trace(const std::string& path, double time_scale = 1.0);

// Reads a whole trace once to validate it without keeping it: every row well formed and
// arrivals non-decreasing. Returns the row count and the largest prompt with its line.
struct TraceStats {
  std::vector<std::string> methods;  // distinct `compression` names, in order of appearance
  std::int64_t rows = 0;
  std::int32_t max_prompt = 0;
  long max_prompt_line = 0;
};
TraceStats validate_trace(const std::string& path);

}  // namespace kvsim
