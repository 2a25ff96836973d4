#pragma once
// A scratch directory private to this test process. ctest runs every gtest case as its own
// process, in parallel, so fixed names under ::testing::TempDir() ("plan.yaml", "bad.yaml")
// were shared between concurrently running cases and one could read the other's half-written
// file. Keying the directory by process id makes every case's files its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace kvsim::testing {

// Ends with a separator, like ::testing::TempDir(), so `scratch() + "name"` is a path.
inline const std::string& scratch() {
  static const std::string dir = [] {
    const std::filesystem::path d =
        std::filesystem::path(::testing::TempDir()) / ("kvsim_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string() + "/";
  }();
  return dir;
}

}  // namespace kvsim::testing
