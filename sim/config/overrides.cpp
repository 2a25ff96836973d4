#include "sim/config/overrides.h"

#include <string>
#include <vector>

#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

void apply_override(YAML::Node& doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError("--set " + assignment + ": expected key.path=value");
  }
  const std::string path = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) throw InputError("--set " + assignment + ": empty key in '" + path + "'");
    parts.push_back(p);
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw InputError("--set " + assignment + ": value is not valid YAML: " + e.msg);
  }
  if (!doc || doc.IsNull()) doc = YAML::Node(YAML::NodeType::Map);
  // Walk with fresh handles (yaml-cpp node assignment rebinds, so recurse by copy).
  // A list element is addressed by its index: cluster.replicas.0.count=2.
  auto index_of = [&](const YAML::Node& seq, const std::string& part) -> std::size_t {
    const auto n = parse_int(part);
    if (!n || *n < 0 || static_cast<std::size_t>(*n) >= seq.size()) {
      throw InputError("--set " + assignment + ": '" + part + "' is not an index of that list (it has " +
                       std::to_string(seq.size()) + (seq.size() == 1 ? " entry)" : " entries)"));
    }
    return static_cast<std::size_t>(*n);
  };
  std::vector<YAML::Node> chain{doc};
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node cur = chain.back();
    if (cur.IsSequence()) {
      chain.push_back(cur[index_of(cur, parts[i])]);
      continue;
    }
    if (!cur.IsMap()) throw InputError("--set " + assignment + ": cannot set '" + parts[i] + "' inside a non-mapping");
    YAML::Node next = cur[parts[i]];
    // Sections that take a name or a mapping: setting a key inside the name form turns it
    // into the mapping form first (compression: kivi-4 -> {method: kivi-4}).
    if (next && next.IsScalar() && (parts[i] == "compression" || parts[i] == "overhead")) {
      YAML::Node m(YAML::NodeType::Map);
      m[parts[i] == "compression" ? "method" : "preset"] = next.Scalar();
      cur[parts[i]] = m;
      next = cur[parts[i]];
    }
    if (!next || next.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = cur[parts[i]];
    } else if (!next.IsMap() && !next.IsSequence()) {
      throw InputError("--set " + assignment + ": '" + parts[i] + "' is not a mapping or a list");
    }
    chain.push_back(next);
  }
  YAML::Node last = chain.back();
  if (last.IsSequence()) {
    last[index_of(last, parts.back())] = parsed;
    return;
  }
  if (!last.IsMap() && !last.IsNull()) {
    throw InputError("--set " + assignment + ": cannot set '" + parts.back() + "' inside a non-mapping");
  }
  last[parts.back()] = parsed;
}

}  // namespace kvsim
