// docs/architecture.md stays true (issue #17 item 6): its layer table is the build's
// (sim/check_layers.cmake) and every file it names exists.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
  // Entries are "<layer>:<folder>" strings. (Plain string scanning: GCC 12's std::regex trips
  // -Werror=maybe-uninitialized under the ASan preset.)
  Layers build;
  for (std::size_t q = table.find('"'); q != std::string::npos; q = table.find('"', q + 1)) {
    const std::size_t end = table.find('"', q + 1);
    if (end == std::string::npos) break;
    const std::string item = table.substr(q + 1, end - q - 1);
    const std::size_t colon = item.find(':');
    if (colon != std::string::npos) build.emplace_back(item.substr(0, colon), item.substr(colon + 1));
    q = end;
  }
  ASSERT_GE(build.size(), 10u);
  const std::string doc = read("docs/architecture.md");
  // Table rows "| <layer> | `<folder>` | ...".
  Layers documented;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0) continue;
    const std::size_t bar = line.find(" | `", 2);
    if (bar == std::string::npos) continue;
    const std::string layer = line.substr(2, bar - 2);
    if (layer != "gpu" && layer.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::size_t start = bar + 4, close = line.find('`', start);
    if (close == std::string::npos || line.compare(close, 3, "` |") != 0) continue;
    documented.emplace_back(layer, line.substr(start, close - start));
  }
  EXPECT_EQ(documented, build) << "docs/architecture.md's layer table must list KVSIM_LAYERS, in order";
}

TEST(ArchitectureDoc, FilesNamedHereExist) {
  const std::string doc = read("docs/architecture.md");
  int checked = 0;
  for (std::size_t q = doc.find('`'); q != std::string::npos; q = doc.find('`', q + 1)) {
    const std::size_t end = doc.find('`', q + 1);
    if (end == std::string::npos) break;
    const std::string p = doc.substr(q + 1, end - q - 1);
    q = end;
    bool rooted = false;
    for (const char* top : {"sim/", "models/", "traces/", "calibration/", "experiments/", "tests/", "docs/"}) {
      if (p.rfind(top, 0) == 0) rooted = true;
    }
    if (!rooted || p.find_first_of(" <>{}*") != std::string::npos) continue;
    EXPECT_TRUE(std::filesystem::exists(std::string(KVSIM_SOURCE_DIR) + "/" + p) || p == "sim/version.h")
        << "docs/architecture.md names " << p << ", which does not exist";
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

}  // namespace
