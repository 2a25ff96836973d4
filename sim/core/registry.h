#pragma once
// kvsim's one registry pattern for named policies (schedulers, routers, arrival processes,
// length distributions): an immutable table of entries, each a name, a one-line summary, the
// capabilities callers may ask about, and a factory. Adding one is its own file plus one entry
// line in its kind's table; an unknown name gets the same message everywhere ("unknown router
// 'x' (did you mean 'y'?); valid: ..."). Tables are built once, on first use, and never change;
// nothing registers itself at static-initialization time (explicit wiring, so a static library
// never drops an entry).
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/error.h"

namespace kvsim {

template <class Signature>
class Registry;

template <class Product, class... Args>
class Registry<Product(Args...)> {
 public:
  struct Entry {
    std::string name;
    std::string summary;
    std::vector<std::string> capabilities;
    std::function<Product(Args...)> make;
  };

  // `kind` names the thing in messages ("scheduler", "router"). Duplicate names are a kvsim bug.
  Registry(std::string kind, std::vector<Entry> entries) : kind_(std::move(kind)), entries_(std::move(entries)) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (entries_[i].name == entries_[j].name) {
          throw InvariantViolation(kind_ + " registry: '" + entries_[i].name + "' registered twice");
        }
      }
      if (!entries_[i].make) throw InvariantViolation(kind_ + " registry: '" + entries_[i].name + "' has no factory");
    }
  }

  const std::string& kind() const { return kind_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }
  // "unknown <kind> '<name>' (did you mean ...?); valid: a, b, c"
  std::string unknown(const std::string& name) const {
    return "unknown " + kind_ + " '" + name + "'" + did_you_mean(name, names()) + "; valid: " + join(names(), ", ");
  }
  // The entry, or InputError(unknown(name)).
  const Entry& at(const std::string& name) const {
    if (const Entry* e = find(name)) return *e;
    throw InputError(unknown(name));
  }
  Product make(const std::string& name, Args... args) const { return at(name).make(std::forward<Args>(args)...); }
  bool has(const std::string& name, const std::string& capability) const {
    const Entry& e = at(name);
    return std::find(e.capabilities.begin(), e.capabilities.end(), capability) != e.capabilities.end();
  }

 private:
  std::string kind_;
  std::vector<Entry> entries_;
};

}  // namespace kvsim
