#include "sim/core/atomic_file.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace kvsim {

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())) {
  out_.open(tmp_, std::ios::out | std::ios::trunc | std::ios::binary);
  if (!out_) throw std::runtime_error("cannot open " + tmp_ + " for writing");
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    out_.close();
    std::remove(tmp_.c_str());
  }
}

void AtomicFile::commit() {
  out_.flush();
  if (!out_) throw std::runtime_error("write failed for " + path_);
  out_.close();
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp_ + " to " + path_);
  }
  committed_ = true;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  AtomicFile f(path);
  f.stream() << contents;
  f.commit();
}

}  // namespace kvsim
