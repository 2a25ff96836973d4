#include "sim/core/output_set.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "sim/core/error.h"

namespace kvsim {
namespace {

namespace fs = std::filesystem;

std::string staging_prefix(const fs::path& target) { return "." + target.filename().string() + ".kvsim-staging-"; }

// Whether a process runs: it exists and is not a zombie (a killed run whose parent has not
// reaped it, common under containers without an init, still answers kill(pid, 0)).
bool alive(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: trust kill()
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

// Staging directories of runs that no longer exist (kill -9, power loss) are removed.
void remove_stale_staging(const fs::path& target) {
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  const std::string prefix = staging_prefix(target);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    char* end = nullptr;
    const long pid = std::strtol(pid_text.c_str(), &end, 10);
    if (pid_text.empty() || *end != '\0' || pid <= 0) continue;
    if (alive(pid)) continue;
    fs::remove_all(e.path(), ec);
  }
}

}  // namespace

OutputSet::OutputSet(const std::string& target, std::set<std::string> names) {
  fs::path t = fs::path(target);
  if (t.filename().empty()) t = t.parent_path();  // "dir/" names "dir"
  target_ = t.string();
  std::error_code ec;
  if (fs::exists(t, ec)) {
    if (!fs::is_directory(t, ec)) throw InputError("--out " + target + ": exists and is not a directory");
    for (const auto& e : fs::directory_iterator(t, ec)) {
      const std::string name = e.path().filename().string();
      // A temporary file of an earlier kvsim's per-file atomic write ("report.json.tmp.123") is
      // kvsim's own and goes with the old set.
      const auto tmp = name.find(".tmp.");
      if (!names.count(name) && !(tmp != std::string::npos && names.count(name.substr(0, tmp)))) {
        throw InputError("--out " + target + ": holds '" + name +
                         "', which kvsim did not write; give an empty directory or one a previous run wrote (it is "
                         "replaced as a whole)");
      }
    }
  }
  const fs::path parent = t.parent_path().empty() ? fs::path(".") : t.parent_path();
  fs::create_directories(parent, ec);
  if (!fs::is_directory(parent, ec)) throw InputError("--out " + target + ": cannot create directory " + parent.string());
  remove_stale_staging(t);
  staging_ = (parent / (staging_prefix(t) + std::to_string(::getpid()))).string();
  fs::remove_all(staging_, ec);
  if (!fs::create_directory(staging_, ec)) throw InputError("--out " + target + ": cannot create directory " + staging_);
}

OutputSet::~OutputSet() {
  std::error_code ec;
  if (!staging_.empty()) fs::remove_all(staging_, ec);
}

void OutputSet::commit() {
  if (committed_) return;
  std::error_code ec;
  if (!fs::exists(target_, ec)) {
    fs::rename(staging_, target_);  // throws filesystem_error on failure
  } else if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0) {
    throw std::runtime_error("--out " + target_ + ": cannot swap in the new results: " + std::strerror(errno));
  }
  committed_ = true;  // staging_ now holds the previous set (or nothing): the destructor removes it
}

}  // namespace kvsim
