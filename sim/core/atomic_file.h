#pragma once
// Writes a file so that readers never see it half written: data goes to "<path>.tmp.<pid>"
// and commit() renames it over <path>. If the writer is destroyed without commit() (an error
// or a crash path), the temporary is removed and any previous <path> is left untouched.
#include <fstream>
#include <string>

namespace kvsim {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ostream& stream() { return out_; }
  // Flushes, checks the stream and renames into place. Throws std::runtime_error on failure.
  void commit();

 private:
  std::string path_;
  std::string tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

// Convenience: atomically replaces `path` with `contents`.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace kvsim
