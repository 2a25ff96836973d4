// docs/architecture.md stays true (issue #17 item 6): its layer table is the build's
// (sim/check_layers.cmake) and every file it names exists.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

std::string read(const std::string& rel) {
  std::ifstream in(std::string(KVSIM_SOURCE_DIR) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using Layers = std::vector<std::pair<std::string, std::string>>;  // (layer, folder)

TEST(ArchitectureDoc, LayerTableMatchesTheBuildCheck) {
  const std::string cmake = read("sim/check_layers.cmake");
  const auto begin = cmake.find("set(KVSIM_LAYERS");
  ASSERT_NE(begin, std::string::npos) << "sim/check_layers.cmake: no set(KVSIM_LAYERS";
  // The list ends at the first entry followed by ')' (comments inside it hold parentheses).
  const std::string table = cmake.substr(begin, cmake.find("\")", begin) + 2 - begin);
  Layers build;
  const std::regex entry("\"([0-9]+|gpu):([^\"]+)\"");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), entry); it != std::sregex_iterator(); ++it) {
    build.emplace_back((*it)[1], (*it)[2]);
  }
  ASSERT_GE(build.size(), 10u);
  const std::string doc = read("docs/architecture.md");
  Layers documented;
  const std::regex row(R"(\n\| ([0-9]+|gpu) \| `([^`]+)` \|)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator(); ++it) {
    documented.emplace_back((*it)[1], (*it)[2]);
  }
  EXPECT_EQ(documented, build) << "docs/architecture.md's layer table must list KVSIM_LAYERS, in order";
}

TEST(ArchitectureDoc, FilesNamedHereExist) {
  const std::string doc = read("docs/architecture.md");
  const std::regex path("`((?:sim|models|traces|calibration|experiments|tests|docs)/[A-Za-z0-9_./-]+)`");
  int checked = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), path); it != std::sregex_iterator(); ++it) {
    const std::string p = (*it)[1];
    EXPECT_TRUE(std::filesystem::exists(std::string(KVSIM_SOURCE_DIR) + "/" + p) || p == "sim/version.h")
        << "docs/architecture.md names " << p << ", which does not exist";
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

}  // namespace
