#include "sim/core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kvsim {

void ErrorList::throw_if_any() const {
  if (messages_.empty()) return;
  throw InputError(join(messages_, "\n"));
}

namespace {
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // A typo, not a different word: allow about a third of the letters to differ.
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  if (best_d <= limit) return best;
  // Or a truncated name ("residual" for "residual_tokens").
  if (word.size() >= 3) {
    for (const auto& c : candidates) {
      if (c.rfind(word, 0) == 0) return c;
    }
  }
  return std::string();
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string n = nearest_name(word, candidates);
  return n.empty() ? std::string() : " (did you mean '" + n + "'?)";
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[48];
  int precision = 6;
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    // Integers exactly, unless a run of six or more trailing zeros reads better as "1e9".
    std::snprintf(buf, sizeof buf, "%.0f", v);
    const std::string s = buf;
    const auto last = s.find_last_not_of('0');
    const std::size_t zeros = s.size() - 1 - last;
    if (zeros < 6) return s;
    precision = static_cast<int>(s.size() - zeros - (v < 0 ? 1 : 0));
  }
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  std::string s = buf;
  // "1e+09" -> "1e9", "2.5e-05" -> "2.5e-5"
  const auto e = s.find('e');
  if (e != std::string::npos) {
    std::string mant = s.substr(0, e), exp = s.substr(e + 1);
    const char sign = exp[0];
    exp = exp.substr(1);
    while (exp.size() > 1 && exp[0] == '0') exp.erase(0, 1);
    s = mant + "e" + (sign == '-' ? "-" : "") + exp;
  }
  return s;
}

}  // namespace kvsim
