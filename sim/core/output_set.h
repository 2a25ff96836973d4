#pragma once
// A results directory replaced as a whole (issue #16 item 4). A run writes its files into a
// staging directory beside the target (`.<name>.kvsim-staging-<pid>`); commit() swaps it in with
// one renameat2(RENAME_EXCHANGE) (or one rename when the target does not exist yet) and removes
// the old set. A run that fails, throws or is killed leaves the previous set whole; its staging
// directory is removed by the destructor, or, after kill -9, by the next OutputSet for the same
// target (one whose pid no longer runs).
#include <set>
#include <string>

namespace kvsim {

class OutputSet {
 public:
  // `names`: the files a run may write. A target holding anything else is refused (InputError),
  // since swapping it would drop files kvsim did not write.
  OutputSet(const std::string& target, std::set<std::string> names);
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // Where this run writes its files.
  const std::string& staging() const { return staging_; }
  // Swaps the staged set in. Throws std::runtime_error if the filesystem refuses.
  void commit();

 private:
  std::string target_, staging_;
  bool committed_ = false;
};

}  // namespace kvsim
