#include "sim/core/config_reader.h"

#include <gtest/gtest.h>

namespace kvsim {
namespace {

TEST(ConfigReader, UnknownKeyNamesPathAndSuggestsNearest) {
  ErrorList errors;
  ConfigReader r(YAML::Load("engine: {max_num_seq: 4}"), "", "f.yaml", errors);
  ConfigReader e = r.child("engine");
  e.get<int>("max_num_seqs", 1, closed(1, 100));
  e.finish();
  r.finish();
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_NE(errors.messages()[0].find("f.yaml:1: engine.max_num_seq: unknown key (did you mean 'max_num_seqs'?)"),
            std::string::npos)
      << errors.messages()[0];
}

TEST(ConfigReader, WrongTypesAreCollectedNotThrown) {
  ErrorList errors;
  ConfigReader r(YAML::Load("a: x\nb: 1.5\nc: [1]\nd: yes"), "", "f.yaml", errors);
  EXPECT_EQ(r.get<double>("a", 7.0, closed(0, 10)), 7.0);
  EXPECT_EQ(r.get<int>("b", 3, closed(0, 10)), 3);
  r.get<std::string>("c", "");
  EXPECT_TRUE(r.get<bool>("d", false));
  r.finish();
  ASSERT_EQ(errors.messages().size(), 3u);
  EXPECT_NE(errors.messages()[0].find("a: expected a number but got 'x'"), std::string::npos);
  EXPECT_NE(errors.messages()[1].find("b: expected an integer but got '1.5'"), std::string::npos);
  EXPECT_NE(errors.messages()[2].find("c: expected a string but got a list"), std::string::npos);
  EXPECT_THROW(errors.throw_if_any(), InputError);
}

TEST(ConfigReader, MissingRequiredKey) {
  ErrorList errors;
  ConfigReader r(YAML::Load("{}"), "workload.arrival", "f.yaml", errors);
  r.require<double>("rate_per_s", positive_upto(10));
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_NE(errors.messages()[0].find("workload.arrival.rate_per_s: required key is missing"), std::string::npos);
}

// Issue #16 item 1: a number outside its documented range is an error naming file, line, key,
// the range and the value, and reads as the nearest value inside the range.
TEST(ConfigReader, NumbersOutsideTheirRangeAreNamedWithTheRange) {
  struct Case {
    std::string yaml;
    Range range;
    double want;          // what the read returns
    std::string message;  // "" = no error
  };
  const std::vector<Case> cases = {
      {"v: 0.5", positive_upto(1), 0.5, ""},
      {"v: 1", positive_upto(1), 1, ""},
      {"v: 0", positive_upto(1), 1, "f.yaml:1: v: must be in (0, 1] (got 0)"},
      {"v: -3", closed(0, 1000, "us"), 0, "f.yaml:1: v: must be in [0, 1000] us (got -3)"},
      {"v: 1e12", closed(0, 1000, "us"), 1000, "f.yaml:1: v: must be in [0, 1000] us (got 1e12)"},
      {"v: 2.5e-7", closed(1e-6, 1e5, "GB/s"), 1e-6, "f.yaml:1: v: must be in [1e-6, 100000] GB/s (got 2.5e-7)"},
      {"v: 1", Range{0, 1, false, true}, 1 - 1e-16, "f.yaml:1: v: must be in [0, 1) (got 1)"},
      {"\nv: 123456789", closed(1, 1e8, "tokens"), 1e8, "f.yaml:2: v: must be in [1, 1e8] tokens (got 123456789)"},
  };
  for (const Case& c : cases) {
    ErrorList errors;
    ConfigReader r(YAML::Load(c.yaml), "", "f.yaml", errors);
    const double got = r.get<double>("v", -99, c.range);
    EXPECT_NEAR(got, c.want, 1e-12) << c.yaml;
    if (c.message.empty()) {
      EXPECT_TRUE(errors.empty()) << c.yaml;
    } else {
      ASSERT_EQ(errors.messages().size(), 1u) << c.yaml;
      EXPECT_EQ(errors.messages()[0], c.message);
    }
  }
  // Integers: an excluded lower end of 0 reads as 1, never 0.
  ErrorList errors;
  ConfigReader r(YAML::Load("n: 0"), "", "f.yaml", errors);
  EXPECT_EQ(r.get<int>("n", 5, Range{0, 10, true, false}), 10);
  // The default is the program's own and is not checked; a missing required number is named.
  EXPECT_EQ(r.get<int>("absent", -5, closed(0, 10)), -5);
  EXPECT_EQ(r.require<int>("needed", closed(3, 10)), 3);
  ASSERT_EQ(errors.messages().size(), 2u);
  EXPECT_EQ(errors.messages()[1], "f.yaml: needed: required key is missing");
}

// Found by fuzz_config (tests/fuzz/regressions/config_stray_comma_hang.yaml): a ',' outside a flow
// collection made yaml-cpp 0.7's LoadAll loop forever (jbeder/yaml-cpp#1040); now an error.
TEST(ParseYamlText, StrayCommaIsASyntaxErrorNotAHang) {
  const std::pair<const char*, const char*> cases[] = {
      {",", "f.yaml:1: invalid YAML: unexpected ',' (a comma outside [ ] or { })"},
      {"- 1\n,", "f.yaml:2: invalid YAML: unexpected ',' (a comma outside [ ] or { })"},
      {"{a: 1}\n,", "f.yaml:2: invalid YAML: unexpected ',' (a comma outside [ ] or { })"},
      {"a: 1\n---\nb: 2\n", "f.yaml:2: a second YAML document (after '---'); a file holds one document"},
  };
  for (const auto& [text, message] : cases) {
    try {
      parse_yaml_text(text, "f.yaml");
      ADD_FAILURE() << text << ": accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), message) << text;
    }
  }
  EXPECT_EQ(parse_yaml_text("a: [1, 2]\n", "f.yaml")["a"].size(), 2u);
  EXPECT_TRUE(parse_yaml_text("", "f.yaml").IsNull() || !parse_yaml_text("", "f.yaml"));
}

TEST(FormatNumber, IntegersPlainOthersShort) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(-3), "-3");
  EXPECT_EQ(format_number(100000), "100000");
  EXPECT_EQ(format_number(1000000), "1e6");
  EXPECT_EQ(format_number(123456789), "123456789");
  EXPECT_EQ(format_number(25000000000), "2.5e10");
  EXPECT_EQ(format_number(-3000000), "-3e6");
  EXPECT_EQ(format_number(1e9), "1e9");
  EXPECT_EQ(format_number(0.001), "0.001");
  EXPECT_EQ(format_number(2.5e-5), "2.5e-5");
  EXPECT_EQ(format_number(1.0 / 3), "0.333333");
}

TEST(DidYouMean, OnlyPlausibleTypos) {
  EXPECT_EQ(nearest_name("vllm-v2", {"vllm-v0", "vllm-v1", "static"}), "vllm-v0");
  EXPECT_EQ(nearest_name("completely-different", {"vllm-v0", "static"}), "");
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

// Found by fuzz_config (tests/fuzz/regressions/config_nonscalar_key.yaml): a list used as a
// mapping key crashed the unknown-key check with an uncaught yaml-cpp exception.
TEST(ConfigReader, NonScalarKeysAreAnInputErrorNotACrash) {
  ErrorList errors;
  ConfigReader r(YAML::Load("{[a, b]: 1, seed: 2}"), "", "f.yaml", errors);
  r.get<int>("seed", 0, closed(0, 10));
  r.finish();
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_NE(errors.messages()[0].find("keys must be plain names"), std::string::npos);
}

}  // namespace
}  // namespace kvsim

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/run_helpers.h"
#include "calibration/fit/fitter.h"
#include "experiments/planner.h"
#include "experiments/sweep.h"

namespace kvsim {
namespace {

// Every input a fuzzer ever crashed on stays here and must now be a clean InputError.
TEST(FuzzRegressions, ScenarioInputsFailCleanly) {
  const std::filesystem::path dir = std::filesystem::path(KVSIM_SOURCE_DIR) / "tests/fuzz/regressions";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("config_", 0) != 0) continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_THROW(load_scenario_text(ss.str(), e.path().string(), {}, std::nullopt, testing::catalog()), InputError)
        << e.path();
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

// fuzz_sweep's inputs: sweep and plan specs; each must parse or fail with an InputError (the
// stray-comma one hung, the map-lookup one was a use-after-free under ASan).
TEST(FuzzRegressions, SweepAndPlanInputsFailCleanly) {
  namespace fs = std::filesystem;
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(KVSIM_SOURCE_DIR) / "tests/fuzz/regressions")) {
    if (e.path().filename().string().rfind("sweep_", 0) != 0) continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    for (int kind = 0; kind < 2; ++kind) {
      try {
        if (kind == 0) parse_sweep_spec(ss.str(), e.path().string());
        else parse_plan_spec(ss.str(), e.path().string());
      } catch (const InputError&) {
      }
    }
    ++n;
  }
  EXPECT_GE(n, 2);
}

// fuzz_bundle's input layout: byte 0 picks the family, then meta.json, a NUL, the table.
TEST(FuzzRegressions, BundleInputsFailCleanly) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(KVSIM_SOURCE_DIR) / "tests/fuzz/regressions";
  const char* families[] = {"gemm", "decode_attention", "prefill_attention", "elementwise", "compression", "copy", "launch"};
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("bundle_", 0) != 0) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    ASSERT_GE(data.size(), 2u);
    const std::string body = data.substr(1);
    const auto nul = body.find('\0');
    const fs::path b = fs::temp_directory_path() / ("kvsim_regression_bundle_" + std::to_string(n));
    fs::create_directories(b);
    std::ofstream(b / "meta.json", std::ios::binary) << (nul == std::string::npos ? body : body.substr(0, nul));
    std::ofstream(b / (std::string(families[static_cast<unsigned char>(data[0]) % 7]) + ".csv"), std::ios::binary)
        << (nul == std::string::npos ? "" : body.substr(nul + 1));
    try {
      fit_bundle(load_bundle(b.string()));
    } catch (const InputError& err) {
      // The only acceptable failure; the found crash is now this message.
      if (e.path().filename() == "bundle_model_shape_name_not_string.bin") {
        EXPECT_EQ(std::string(err.what()),
                  (b / "meta.json").string() + ": field 'model_shape' must be an object with a string 'name'");
      }
    }
    fs::remove_all(b);
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace kvsim
