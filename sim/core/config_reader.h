#pragma once
// Strict, path-aware reading of one YAML mapping. Every key a decoder asks for is recorded;
// finish() reports the keys nobody asked for as "unknown key", with the nearest known key
// as a suggestion. Errors are collected (not thrown) so a user sees them all at once.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "sim/core/error.h"

namespace kvsim {

// The documented valid range of a numeric key (issue #16 item 1). Every number a scenario,
// spec or catalog file gives is read with one, so nothing outside its physical range reaches
// the simulation: a zero bandwidth would divide by zero, a huge per-step cost would overflow
// simulated time (int64 ns) into a latency near zero. docs/reliability.md lists them.
struct Range {
  double lo = 0, hi = 0;
  bool lo_open = false;   // (lo, hi] instead of [lo, hi]
  bool hi_open = false;   // [lo, hi) instead of [lo, hi]
  const char* unit = "";  // printed after the interval: "tokens", "GB/s"

  bool contains(double v) const {
    return std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  // "in (0, 1]" or "in [1, 1e6] tokens".
  std::string text() const;
  // Clamped into the range (for a value already reported as out of range: later arithmetic
  // on it must stay defined until the errors are thrown).
  double clamp(double v) const;
};

inline constexpr Range closed(double lo, double hi, const char* unit = "") { return Range{lo, hi, false, false, unit}; }
// (0, hi]: a quantity that must be positive.
inline constexpr Range positive_upto(double hi, const char* unit = "") { return Range{0, hi, true, false, unit}; }

class ConfigReader {
 public:
  // `node` may be null/undefined (a missing section): every get then returns its default.
  ConfigReader(YAML::Node node, std::string path, std::string file, ErrorList& errors);

  bool has(const std::string& key);
  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;
  // "file:line: a.b.key" for messages.
  std::string where(const std::string& key) const;

  // Strings and booleans. A number is read with its Range (the overloads below): a numeric
  // type here does not compile, so no numeric key can be read unchecked.
  template <class T>
  T get(const std::string& key, T default_value);
  template <class T>
  std::optional<T> get_optional(const std::string& key);
  template <class T>
  T require(const std::string& key);

  // Numbers: a value outside `range` is an error "must be in [lo, hi] unit (got v)" and reads
  // as the nearest value inside it. The default is not checked (it is the program's own).
  template <class T>
  T get(const std::string& key, T default_value, const Range& range);
  template <class T>
  std::optional<T> get_optional(const std::string& key, const Range& range);
  template <class T>
  T require(const std::string& key, const Range& range);

  // A nested mapping. A missing key gives an empty reader; a non-map value is an error.
  ConfigReader child(const std::string& key);
  // The raw node (for polymorphic sections decoded elsewhere); marks the key as known.
  YAML::Node raw(const std::string& key);

  // Records an error about `key` ("file:line: path.key: message").
  void error(const std::string& key, const std::string& message);
  // Unknown-key check; call once after all gets.
  void finish();

  ErrorList& errors() { return *errors_; }
  const std::string& file() const { return file_; }

 private:
  template <class T>
  std::optional<T> convert(const std::string& key, const YAML::Node& value);
  template <class T>
  std::optional<T> read(const std::string& key);
  template <class T>
  T checked(const std::string& key, T v, const Range& range);
  // Reads through a const handle: yaml-cpp's non-const operator[] inserts the key, which
  // would change the document being read (and invalidate a caller's iteration over it;
  // found by fuzz_sweep).
  YAML::Node lookup(const std::string& key) const {
    const YAML::Node& n = node_;
    return n[key];
  }

  YAML::Node node_;
  std::string path_;
  std::string file_;
  ErrorList* errors_;
  std::vector<std::string> known_;
};

// Parses YAML text; a syntax error becomes an InputError naming source:line.
YAML::Node parse_yaml_text(const std::string& text, const std::string& source);

// A mapping key as text, or nullopt when the key is not a plain scalar (YAML allows lists
// and mappings as keys; kvsim's formats never use them).
inline std::optional<std::string> yaml_key(const YAML::Node& key) {
  if (!key.IsScalar()) return std::nullopt;
  return key.Scalar();
}

// Human name of a C++ type for "expected a number" messages.
template <class T>
const char* type_name();
template <>
inline const char* type_name<double>() { return "a number"; }
template <>
inline const char* type_name<std::int64_t>() { return "an integer"; }
template <>
inline const char* type_name<int>() { return "an integer"; }
template <>
inline const char* type_name<bool>() { return "true or false"; }
template <>
inline const char* type_name<std::string>() { return "a string"; }

template <class T>
std::optional<T> ConfigReader::convert(const std::string& key, const YAML::Node& value) {
  if (!value.IsScalar()) {
    error(key, std::string("expected ") + type_name<T>() + " but got a " +
                   (value.IsMap() ? "mapping" : value.IsSequence() ? "list" : "null value"));
    return std::nullopt;
  }
  try {
    if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::int64_t>) {
      // yaml-cpp would accept "1.5" as int 1 on some paths; insist on an integer literal.
      const std::string s = value.Scalar();
      std::size_t pos = 0;
      const long long v = std::stoll(s, &pos);
      if (pos != s.size()) throw std::invalid_argument(s);
      if constexpr (std::is_same_v<T, int>) {
        if (v < INT32_MIN || v > INT32_MAX) throw std::out_of_range(s);
      }
      return static_cast<T>(v);
    } else if constexpr (std::is_same_v<T, double>) {
      const std::string s = value.Scalar();
      std::size_t pos = 0;
      const double v = std::stod(s, &pos);
      if (pos != s.size() || !std::isfinite(v)) throw std::invalid_argument(s);
      return v;
    } else {
      return value.as<T>();
    }
  } catch (const std::exception&) {
    error(key, std::string("expected ") + type_name<T>() + " but got '" + value.Scalar() + "'");
    return std::nullopt;
  }
}

template <class T>
inline constexpr bool kNumeric = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

template <class T>
std::optional<T> ConfigReader::read(const std::string& key) {
  known_.push_back(key);
  if (!node_ || !node_.IsMap()) return std::nullopt;
  const YAML::Node value = lookup(key);
  if (!value) return std::nullopt;
  return convert<T>(key, value);
}

template <class T>
T ConfigReader::checked(const std::string& key, T v, const Range& range) {
  static_assert(kNumeric<T>);
  const double d = static_cast<double>(v);
  if (range.contains(d)) return v;
  error(key, "must be " + range.text() + " (got " + format_number(d) + ")");
  const double c = range.clamp(d);
  if constexpr (std::is_integral_v<T>) return static_cast<T>(std::ceil(c));  // ceil: an open lower end of 0 gives 1
  return static_cast<T>(c);
}

template <class T>
std::optional<T> ConfigReader::get_optional(const std::string& key) {
  static_assert(!kNumeric<T>, "a numeric key is read with its Range: get_optional<T>(key, range)");
  return read<T>(key);
}

template <class T>
T ConfigReader::get(const std::string& key, T default_value) {
  static_assert(!kNumeric<T>, "a numeric key is read with its Range: get<T>(key, default, range)");
  return read<T>(key).value_or(default_value);
}

template <class T>
T ConfigReader::require(const std::string& key) {
  static_assert(!kNumeric<T>, "a numeric key is read with its Range: require<T>(key, range)");
  const bool present = node_ && node_.IsMap() && lookup(key);
  auto v = read<T>(key);
  if (!present) error(key, "required key is missing");
  return v.value_or(T{});
}

template <class T>
std::optional<T> ConfigReader::get_optional(const std::string& key, const Range& range) {
  static_assert(kNumeric<T>);
  auto v = read<T>(key);
  if (v) v = checked(key, *v, range);
  return v;
}

template <class T>
T ConfigReader::get(const std::string& key, T default_value, const Range& range) {
  return get_optional<T>(key, range).value_or(default_value);
}

template <class T>
T ConfigReader::require(const std::string& key, const Range& range) {
  static_assert(kNumeric<T>);
  const bool present = node_ && node_.IsMap() && lookup(key);
  auto v = get_optional<T>(key, range);
  if (!present) {
    error(key, "required key is missing");
    return static_cast<T>(range.clamp(range.lo));
  }
  return v.value_or(static_cast<T>(range.clamp(range.lo)));
}

}  // namespace kvsim
