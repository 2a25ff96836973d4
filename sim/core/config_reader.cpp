#include "sim/core/config_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

namespace kvsim {

namespace {

// yaml-cpp keeps both entries of a repeated key and lookups see only one of them, so a
// repeated key (at any depth) would silently drop a value: it is an error naming both lines.
void reject_duplicate_keys(const YAML::Node& n, const std::string& source, const std::string& path) {
  if (n.IsMap()) {
    std::vector<std::pair<std::string, int>> seen;
    for (const auto& kv : n) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "<non-scalar key>";
      const int line = kv.first.Mark().line + 1;
      const std::string at = path.empty() ? key : path + "." + key;
      for (const auto& [k, l] : seen) {
        if (k == key) {
          throw InputError(source + ":" + std::to_string(line) + ": " + at + ": duplicate key (first given on line " +
                           std::to_string(l) + ")");
        }
      }
      seen.emplace_back(key, line);
      reject_duplicate_keys(kv.second, source, at);
    }
  } else if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) reject_duplicate_keys(n[i], source, path + "[" + std::to_string(i) + "]");
  }
}

}  // namespace

std::string Range::text() const {
  std::string s = std::string("in ") + (lo_open ? "(" : "[") + format_number(lo) + ", " + format_number(hi) +
                  (hi_open ? ")" : "]");
  if (unit && *unit) s += std::string(" ") + unit;
  return s;
}

double Range::clamp(double v) const {
  if (contains(v)) return v;
  if (!std::isnan(v) && v >= hi) return hi_open ? std::nextafter(hi, lo) : hi;
  // Below the range (or NaN): its lower end, or, when that end is excluded, a value inside.
  if (!lo_open) return lo;
  return hi_open ? lo + (hi - lo) / 2 : hi;
}

namespace {

// Where each document of a YAML stream starts; nothing else is kept.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

YAML::Node parse_yaml_text(const std::string& text, const std::string& source) {
  // Documents are counted by a bounded parse before the text is loaded: yaml-cpp 0.7 (Debian's)
  // loops forever in LoadAll on a ',' outside a flow collection, starting empty documents at the
  // same place without end (jbeder/yaml-cpp#1040, fixed upstream by PR #1319 in 0.8; found by
  // fuzz_config). A document that starts where the previous one did is that syntax error.
  DocumentStarts docs;
  try {
    std::stringstream in(text);
    YAML::Parser parser(in);
    for (int n = 0; n < 3 && parser.HandleNextDocument(docs); ++n) {
    }
  } catch (const YAML::Exception& e) {
    throw InputError(source + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  for (std::size_t i = 1; i < docs.starts.size(); ++i) {
    if (docs.starts[i].pos == docs.starts[i - 1].pos) {
      throw InputError(source + ":" + std::to_string(docs.starts[i].line + 1) +
                       ": invalid YAML: unexpected ',' (a comma outside [ ] or { })");
    }
  }
  if (docs.starts.size() > 1) {
    throw InputError(source + ":" + std::to_string(docs.starts[1].line + 1) +
                     ": a second YAML document (after '---'); a file holds one document");
  }
  if (docs.starts.empty()) return YAML::Node();
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(source + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  reject_duplicate_keys(doc, source, "");
  return doc;
}

ConfigReader::ConfigReader(YAML::Node node, std::string path, std::string file, ErrorList& errors)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)), errors_(&errors) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    errors_->add(file_ + ": " + (path_.empty() ? "top level" : path_) + ": expected a mapping");
    node_ = YAML::Node();
  }
}

bool ConfigReader::has(const std::string& key) {
  known_.push_back(key);
  return node_ && node_.IsMap() && lookup(key);
}

std::string ConfigReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string ConfigReader::where(const std::string& key) const {
  std::string loc = file_;
  if (node_ && node_.IsMap()) {
    const YAML::Node v = lookup(key);
    if (v && v.Mark().line >= 0) loc += ":" + std::to_string(v.Mark().line + 1);
  }
  return loc + ": " + key_path(key);
}

void ConfigReader::error(const std::string& key, const std::string& message) {
  errors_->add(where(key) + ": " + message);
}

ConfigReader ConfigReader::child(const std::string& key) {
  known_.push_back(key);
  YAML::Node sub;
  if (node_ && node_.IsMap() && lookup(key)) {
    sub = lookup(key);
    if (!sub.IsMap() && !sub.IsNull()) {
      error(key, "expected a mapping");
      sub = YAML::Node();
    }
  }
  return ConfigReader(sub, key_path(key), file_, *errors_);
}

YAML::Node ConfigReader::raw(const std::string& key) {
  known_.push_back(key);
  // Undefined (not Null) when absent, so callers can tell "missing" from "key: ~".
  if (!node_ || !node_.IsMap() || !lookup(key)) return YAML::Node(YAML::NodeType::Undefined);
  return lookup(key);
}

void ConfigReader::finish() {
  if (!node_ || !node_.IsMap()) return;
  std::vector<std::string> keys;
  for (const auto& kv : node_) {
    const auto k = yaml_key(kv.first);
    if (!k) {
      errors_->add(file_ + ":" + std::to_string(kv.first.Mark().line + 1) + ": " + (path_.empty() ? "top level" : path_) +
                   ": keys must be plain names (found a list or mapping used as a key)");
      continue;
    }
    keys.push_back(*k);
  }
  std::sort(keys.begin(), keys.end());  // deterministic message order
  std::vector<std::string> known = known_;
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  for (const auto& k : keys) {
    if (!std::binary_search(known.begin(), known.end(), k)) {
      error(k, "unknown key" + did_you_mean(k, known) + "; valid keys here: " + join(known, ", "));
    }
  }
}

}  // namespace kvsim
