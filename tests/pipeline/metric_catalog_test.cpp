// The metric catalogue (issue #17 item 4): one table for sweep columns, validate's names,
// `kvsim list metrics` and docs/metrics.md.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "../support/run_helpers.h"
#include "experiments/validate.h"
#include "sim/pipeline/metric_catalog.h"
#include "sim/pipeline/pipeline.h"

namespace kvsim {
namespace {

TEST(MetricCatalog, NamesAreUniqueAndEveryOneReadsFromARealReport) {
  std::set<std::string> seen;
  for (const auto& m : metric_catalog()) {
    EXPECT_TRUE(seen.insert(m.name).second) << m.name;
    EXPECT_FALSE(m.unit.empty()) << m.name;
    EXPECT_FALSE(m.description.empty()) << m.name;
    EXPECT_EQ(find_metric(m.name), &m);
  }
  EXPECT_EQ(find_metric("no_such_metric"), nullptr);
  const Scenario s = testing::scenario(
      "workload: {num_requests: 30, arrival: {kind: poisson, rate_per_s: 5}, prompt_tokens: {kind: fixed, value: 200},"
      " output_tokens: {kind: fixed, value: 20}}\n");
  const RunOutcome o = run_scenario(s);
  const std::vector<double> v = metric_values(o.report);
  ASSERT_EQ(v.size(), metric_catalog().size());
  // Spot values against the report's own fields and the run's counts.
  EXPECT_EQ(v[0], 30.0);  // finished
  EXPECT_EQ(metric_value(*find_metric("e2e_p50_s"), o.report), o.report["summary"]["latency_s"]["e2e"]["p50"].get<double>());
  EXPECT_EQ(metric_value(*find_metric("kv_capacity_tokens"), o.report),
            static_cast<double>(o.report["context"]["kv_capacity"]["kv_tokens"].get<std::int64_t>()));
  // A report without the field is a kvsim bug, not bad input.
  EXPECT_THROW(metric_value(*find_metric("busy_fraction"), nlohmann::json::object()), InvariantViolation);
}

TEST(MetricCatalog, ValidateAcceptsExactlyTheCatalogueAndStepMs) {
  std::vector<std::string> want = {"step_ms"};
  for (const auto& m : metric_catalog()) want.push_back(m.name);
  EXPECT_EQ(validation_metric_names(), want);
}

TEST(MetricCatalog, DocsListEveryMetric) {
  std::ifstream in(std::string(KVSIM_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_TRUE(in) << "docs/metrics.md";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  // Rows "| `name` | unit | meaning | `/pointer` |" (plain string scanning: GCC 12's std::regex
  // trips -Werror=maybe-uninitialized under the ASan preset).
  std::vector<std::string> rows;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0 || line.find("` |", 3) == std::string::npos) continue;
    std::vector<std::string> cells;
    for (std::size_t at = 1; at < line.size();) {
      const std::size_t next = line.find(" |", at);
      if (next == std::string::npos) break;
      std::string cell = line.substr(at, next - at);
      if (!cell.empty() && cell.front() == ' ') cell.erase(0, 1);
      cells.push_back(cell);
      at = next + 2;
    }
    if (cells.size() != 4 || cells[3].size() < 3 || cells[3][1] != '/') continue;
    const std::string name = cells[0].substr(1, cells[0].size() - 2);
    const MetricDef* m = find_metric(name);
    ASSERT_NE(m, nullptr) << "docs/metrics.md lists " << name << ", which the catalogue lacks";
    EXPECT_EQ(cells[1], m->unit) << name;
    EXPECT_EQ(cells[2], m->description) << name;
    EXPECT_EQ(cells[3], "`" + m->pointer + "`") << name;
    rows.push_back(name);
  }
  EXPECT_EQ(rows, metric_names()) << "docs/metrics.md's catalogue table must list every metric, in order";
}

}  // namespace
}  // namespace kvsim
