#include "traces/trace_reader.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <set>

#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/core/csv.h"

namespace kvsim {

namespace {

const std::vector<std::string> kKnownFields = {"arrival_s", "prompt_tokens", "output_tokens", "id", "max_tokens",
                                               "priority", "compression", "cached_prompt_tokens"};

struct RowBuilder {
  std::string path;
  double time_scale = 1.0;
  std::int64_t next_id = 0;
  SimTime last_arrival = 0;
  std::vector<std::string> methods;

  std::int16_t method_index(long line, const std::string& name) {
    if (name.empty()) return -1;
    for (std::size_t i = 0; i < methods.size(); ++i) {
      if (methods[i] == name) return static_cast<std::int16_t>(i);
    }
    if (methods.size() >= 32) fail(line, "more than 32 distinct compression methods");
    methods.push_back(name);
    return static_cast<std::int16_t>(methods.size() - 1);
  }

  [[noreturn]] void fail(long line, const std::string& msg) const {
    throw InputError(path + ":" + std::to_string(line) + ": " + msg);
  }

  RequestSpec build(long line, std::optional<double> arrival, std::optional<long long> prompt,
                    std::optional<long long> output, std::optional<long long> id, std::optional<long long> max_tokens,
                    std::optional<long long> priority, const std::string& method, std::optional<long long> cached) {
    if (!arrival) fail(line, "arrival_s is missing or not a number");
    if (*arrival < 0) fail(line, "arrival_s must be >= 0 (got " + std::to_string(*arrival) + ")");
    // The documented ranges (docs/reliability.md): simulated time and token counts.
    if (!(*arrival * time_scale <= kSimTimeLimitS)) {
      fail(line, "arrival_s " + format_number(*arrival) + (time_scale != 1 ? " x time_scale " + format_number(time_scale) : "") +
                     " is past kvsim's simulated-time limit of 1e9 s");
    }
    if (!prompt || *prompt < 1 || *prompt > INT32_MAX) fail(line, "prompt_tokens must be an integer >= 1");
    if (!output || *output < 1 || *output > INT32_MAX) fail(line, "output_tokens must be an integer >= 1");
    if (max_tokens && (*max_tokens < 0 || *max_tokens > INT32_MAX)) fail(line, "max_tokens must be an integer >= 0");
    for (const auto& [name, v] : {std::pair<const char*, std::optional<long long>>{"prompt_tokens", prompt},
                                  {"output_tokens", output}, {"max_tokens", max_tokens}}) {
      if (v && *v > kMaxTokens) fail(line, std::string(name) + " " + std::to_string(*v) + " is past kvsim's token limit of 1e8");
    }
    if (cached && (*cached < 0 || *cached >= *prompt)) {
      fail(line, "cached_prompt_tokens must be an integer in [0, prompt_tokens - 1] (got " + std::to_string(*cached) +
                     " of a " + std::to_string(*prompt) + "-token prompt: at least one prompt token is computed)");
    }
    RequestSpec r;
    r.arrival = seconds_to_ns(*arrival * time_scale);
    if (r.arrival < last_arrival) {
      fail(line, "arrival_s goes backwards (traces must be sorted by arrival time)");
    }
    last_arrival = r.arrival;
    r.id = id ? *id : next_id;
    next_id = r.id + 1;
    r.prompt_tokens = static_cast<std::int32_t>(*prompt);
    r.output_tokens = static_cast<std::int32_t>(*output);
    r.max_tokens = max_tokens ? static_cast<std::int32_t>(*max_tokens) : 0;
    r.priority = priority ? static_cast<std::int32_t>(*priority) : 0;
    r.method = method_index(line, method);
    r.cached_prompt_tokens = cached ? static_cast<std::int32_t>(*cached) : 0;
    return r;
  }
};

class CsvTrace final : public TraceReader {
 public:
  CsvTrace(const std::string& path, double time_scale) : csv_(path) {
    b_.path = path;
    b_.time_scale = time_scale;
    for (const auto& h : csv_.header()) {
      if (std::find(kKnownFields.begin(), kKnownFields.end(), h) == kKnownFields.end()) {
        throw InputError(path + ":" + std::to_string(csv_.line()) + ": unknown column '" + h + "'" +
                         did_you_mean(h, kKnownFields) + "; known columns: " + join(kKnownFields, ", "));
      }
    }
    for (const char* req : {"arrival_s", "prompt_tokens", "output_tokens"}) {
      if (csv_.column(req) < 0) {
        throw InputError(path + ":" + std::to_string(csv_.line()) + ": missing required column '" + req + "'");
      }
    }
  }
  std::optional<RequestSpec> next() override {
    if (!csv_.next(row_)) return std::nullopt;
    auto cell = [&](const char* name) -> const std::string* {
      const int c = csv_.column(name);
      return c < 0 ? nullptr : &row_[static_cast<std::size_t>(c)];
    };
    auto opt_int = [&](const char* name) -> std::optional<long long> {
      const std::string* s = cell(name);
      if (!s || s->empty()) return std::nullopt;
      auto v = parse_int(*s);
      if (!v) b_.fail(csv_.line(), std::string(name) + " must be an integer (got '" + *s + "')");
      return v;
    };
    const std::string* method = cell("compression");
    return b_.build(csv_.line(), parse_double(*cell("arrival_s")), parse_int(*cell("prompt_tokens")),
                    parse_int(*cell("output_tokens")), opt_int("id"), opt_int("max_tokens"), opt_int("priority"),
                    method ? *method : std::string(), opt_int("cached_prompt_tokens"));
  }
  long line() const override { return csv_.line(); }
  const std::vector<std::string>& method_names() const override { return b_.methods; }

 private:
  CsvFile csv_;
  std::vector<std::string> row_;
  RowBuilder b_;
};

class JsonlTrace final : public TraceReader {
 public:
  JsonlTrace(const std::string& path, double time_scale) : in_(path) {
    if (!in_) throw InputError(path + ": cannot open file");
    b_.path = path;
    b_.time_scale = time_scale;
  }
  std::optional<RequestSpec> next() override {
    std::string text;
    while (std::getline(in_, text)) {
      ++line_;
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        b_.fail(line_, std::string("invalid JSON: ") + e.what());
      }
      if (!j.is_object()) b_.fail(line_, "expected a JSON object");
      for (const auto& [k, v] : j.items()) {
        if (std::find(kKnownFields.begin(), kKnownFields.end(), k) == kKnownFields.end()) {
          b_.fail(line_, "unknown field '" + k + "'" + did_you_mean(k, kKnownFields));
        }
      }
      auto num = [&](const char* k) -> std::optional<double> {
        if (!j.contains(k)) return std::nullopt;
        if (!j[k].is_number()) b_.fail(line_, std::string(k) + " must be a number");
        return j[k].get<double>();
      };
      auto integer = [&](const char* k) -> std::optional<long long> {
        if (!j.contains(k)) return std::nullopt;
        if (!j[k].is_number_integer()) b_.fail(line_, std::string(k) + " must be an integer");
        return j[k].get<long long>();
      };
      std::string method;
      if (j.contains("compression")) {
        if (!j["compression"].is_string()) b_.fail(line_, "compression must be a method name (string)");
        method = j["compression"].get<std::string>();
      }
      return b_.build(line_, num("arrival_s"), integer("prompt_tokens"), integer("output_tokens"), integer("id"),
                      integer("max_tokens"), integer("priority"), method, integer("cached_prompt_tokens"));
    }
    return std::nullopt;
  }
  long line() const override { return line_; }
  const std::vector<std::string>& method_names() const override { return b_.methods; }

 private:
  std::ifstream in_;
  long line_ = 0;
  RowBuilder b_;
};

}  // namespace

std::unique_ptr<TraceReader> open_trace(const std::string& path, double time_scale) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".csv") return std::make_unique<CsvTrace>(path, time_scale);
  if (ext == ".jsonl" || ext == ".ndjson") return std::make_unique<JsonlTrace>(path, time_scale);
  throw InputError(path + ": unknown trace format '" + ext + "' (use .csv or .jsonl)");
}

TraceStats validate_trace(const std::string& path) {
  auto reader = open_trace(path);
  TraceStats s;
  while (auto r = reader->next()) {
    ++s.rows;
    if (r->prompt_tokens > s.max_prompt) {
      s.max_prompt = r->prompt_tokens;
      s.max_prompt_line = reader->line();
    }
  }
  if (s.rows == 0) throw InputError(path + ": trace has no requests");
  s.methods = reader->method_names();
  return s;
}

}  // namespace kvsim
