// Physical plausibility of calibration bundles (issue #16 item 6): every shipped bundle passes,
// and an edited copy of a real bundle that breaks the physics fails `load` (the scenario's
// calibrated cost model) and `kvsim calibrate check` with the row's file:line and exit 2.
#include "../support/scratch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "calibration/transfer/plausibility.h"
#include "models/spec/catalog.h"
#include "sim/config/scenario.h"
#include "sim/core/error.h"

namespace kvsim {
namespace {

namespace fs = std::filesystem;

const std::string kSrc = std::string(KVSIM_SOURCE_DIR) + "/calibration/data/h200/llama-2-7b";

// A copy of the shipped H200 Llama-2-7B bundle with one row's time_us_median replaced.
fs::path edited_copy(const std::string& name, const std::string& file, int line, const std::string& time) {
  const fs::path dir = fs::path(testing::scratch()) / ("plaus_" + name);
  fs::remove_all(dir);
  fs::copy(kSrc, dir, fs::copy_options::recursive);
  std::ifstream in(dir / file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  in.close();
  std::stringstream header(lines.at(0));
  int col = 0, time_col = -1;
  for (std::string c; std::getline(header, c, ','); ++col) {
    if (c == "time_us_median") time_col = col;
  }
  std::stringstream row(lines.at(static_cast<std::size_t>(line - 1)));
  std::string out, field;
  for (int i = 0; std::getline(row, field, ','); ++i) out += (i ? "," : "") + (i == time_col ? time : field);
  lines[static_cast<std::size_t>(line - 1)] = out;
  std::ofstream o(dir / file);
  for (const auto& l : lines) o << l << "\n";
  return dir;
}

std::string message_of(const fs::path& dir) {
  try {
    require_plausible(load_bundle(dir.string()), Catalog::builtin().gpu("h200"));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Plausibility, EveryShippedBundlePasses) {
  const Catalog catalog = Catalog::builtin();
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(std::string(KVSIM_SOURCE_DIR) + "/calibration/data")) {
    if (e.path().filename() != "meta.json") continue;
    const Bundle b = load_bundle(e.path().parent_path().string());
    const std::string gpu = e.path().parent_path().parent_path().filename().string();
    if (!catalog.has_gpu(gpu)) continue;  // nccl tables, verify runs
    EXPECT_TRUE(plausibility_problems(b, catalog.gpu(gpu)).empty()) << b.dir;
    ++checked;
  }
  EXPECT_GE(checked, 60);  // 4 H200, 1 H100, and the imported public profiles
  EXPECT_GT(min_time_over_bound(load_bundle(kSrc), catalog.gpu("h200")), 0.95);
}

struct Broken {
  const char* name;
  const char* file;
  int line;
  const char* time;
  std::string message;  // after "<dir>/<file>:"
};

TEST(Plausibility, EditedBundlesFailWithTheRowAndTheNumbers) {
  const Broken cases[] = {
      // lm_head m = 1 reads 262 MB of weights: at most 4.8 TB/s beyond the 52 MB L2.
      {"faster", "gemm.csv", 202, "1.0",
       "202: time_us_median 1 is faster than h200's datasheet allows (43.71 us for 0.2621 GFLOP and 262.2 MB)"},
      // 64 x 16,384 fp16 decode reads 17 GB; the slow row also breaks the next size's order.
      {"slower", "decode_attention.csv", 434, "5000000",
       "434: time_us_median 5e+06 is 1401x the datasheet bound of 3568 us on h200 (more than 1000x) (and 1 more)"},
      {"monotone", "gemm.csv", 53, "5.0",
       "53: time_us_median 5 at size 2 is more than 50 % below the 13.12 us of the smaller size 1 (" +
           (fs::path(testing::scratch()) / "plaus_monotone" / "gemm.csv").string() +
           ":52): times must grow with the work"},
  };
  for (const auto& c : cases) {
    const fs::path dir = edited_copy(c.name, c.file, c.line, c.time);
    EXPECT_EQ(message_of(dir), (dir / c.file).string() + ":" + c.message) << c.name;
    // The same message from the CLI, exit 2.
    const std::string cmd = std::string(KVSIM_BINARY) + " calibrate check " + dir.string() + " 2> " +
                            (dir / "err.txt").string() + " > /dev/null";
    EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2) << c.name;
    std::ifstream err(dir / "err.txt");
    std::stringstream got;
    got << err.rdbuf();
    EXPECT_EQ(got.str(), "kvsim calibrate: error: " + (dir / c.file).string() + ":" + c.message + "\n") << c.name;
    // A scenario priced with the edited bundle refuses it at load.
    EXPECT_THROW(load_calibration(dir.string(), "llama-2-7b", Catalog::builtin()), InputError) << c.name;
  }
}

// A bundle measured on a GPU the built-in catalog lacks is checked against the user's catalog
// entry (--catalog), and refused, naming the fix, without one.
TEST(Plausibility, UserCatalogGpusAreCheckedToo) {
  const fs::path root = fs::path(testing::scratch()) / "plaus_user_gpu";
  fs::remove_all(root);
  const fs::path dir = root / "bundle";
  fs::create_directories(root);
  fs::copy(kSrc, dir, fs::copy_options::recursive);
  {  // meta.json names the user's GPU
    std::ifstream in(dir / "meta.json");
    std::stringstream t;
    t << in.rdbuf();
    std::string meta = t.str();
    meta.replace(meta.find('{'), 1, "{\"catalog_gpu\": \"my-h200\", ");
    std::ofstream(dir / "meta.json") << meta;
  }
  // The user's datasheet says 1 TB/s: the H200's measured decode reads are then impossible.
  fs::create_directories(root / "catalog" / "gpus");
  {
    std::ifstream in(std::string(KVSIM_SOURCE_DIR) + "/models/catalog/gpus/h200.yaml");
    std::stringstream t;
    t << in.rdbuf();
    std::string y = t.str();
    y.replace(y.find("name: h200"), 10, "name: my-h200");
    y.replace(y.find("hbm_bandwidth_gbps: 4800"), 24, "hbm_bandwidth_gbps: 1000");
    std::ofstream(root / "catalog" / "gpus" / "my-h200.yaml") << y;
  }
  auto run = [&](const std::string& extra) {
    const std::string cmd = std::string(KVSIM_BINARY) + " calibrate check " + dir.string() + extra + " 2> " +
                            (root / "err.txt").string() + " > /dev/null";
    const int rc = WEXITSTATUS(std::system(cmd.c_str()));
    std::ifstream err(root / "err.txt");
    std::stringstream got;
    got << err.rdbuf();
    return std::make_pair(rc, got.str());
  };
  const auto [rc1, err1] = run("");
  EXPECT_EQ(rc1, 2);
  EXPECT_EQ(err1, "kvsim calibrate: error: " + dir.string() +
                      "/meta.json: the bundle's GPU 'my-h200' is not in the catalog; give its datasheet figures with "
                      "--catalog DIR (gpus/my-h200.yaml)\n");
  const auto [rc2, err2] = run(" --catalog " + (root / "catalog").string());
  EXPECT_EQ(rc2, 2);
  EXPECT_NE(err2.find("is faster than my-h200's datasheet allows"), std::string::npos) << err2;
  // At load, through the scenario's catalog.
  Catalog catalog = Catalog::builtin();
  EXPECT_THROW(load_calibration(dir.string(), "llama-2-7b", catalog), InputError);
  catalog.add_directory((root / "catalog").string());
  try {
    load_calibration(dir.string(), "llama-2-7b", catalog);
    ADD_FAILURE() << "an impossible bundle for a user GPU loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("is faster than my-h200's datasheet allows"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kvsim
