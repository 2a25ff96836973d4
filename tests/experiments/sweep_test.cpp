// Sweeps and planning: grid expansion, resume after a crash, sharding, bisection on a cost
// model with a known answer, saturation verdicts.
#include "../support/scratch.h"
#include <gtest/gtest.h>
#include <vector>
#include <functional>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "../support/run_helpers.h"
#include "experiments/planner.h"
#include "experiments/sweep.h"

namespace kvsim {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write(const std::string& name, const std::string& text) {
  const fs::path p = fs::path(::kvsim::testing::scratch()) / name;
  std::ofstream(p) << text;
  return p.string();
}

TEST(SweepSpec, CartesianZipAndRepetitionsExpandInOrder) {
  const SweepSpec s = parse_sweep_spec(
      "axes: {compression: [fp16, kivi-4], workload.arrival.rate_per_s: [1, 2, 3]}\n"
      "zip: [{gpu: [h100-sxm, h200], engine.max_num_seqs: [256, 1024]}]\nrepetitions: 2",
      "<t>");
  const auto pts = expand_sweep(s, 10);
  ASSERT_EQ(pts.size(), 2u * 2 * 3 * 2);
  EXPECT_EQ(sweep_keys(s), (std::vector<std::string>{"gpu", "engine.max_num_seqs", "compression",
                                                      "workload.arrival.rate_per_s"}));
  // Zip first (slowest), then axes in file order, repetitions innermost.
  EXPECT_EQ(pts[0].params[0].second, "h100-sxm");
  EXPECT_EQ(pts[0].params[1].second, "256");
  EXPECT_EQ(pts[0].seed, 10u);
  EXPECT_EQ(pts[1].seed, 11u);
  EXPECT_EQ(pts[1].params, pts[0].params);
  EXPECT_EQ(pts[2].params[3].second, "2");
  EXPECT_EQ(pts.back().params[0].second, "h200");
  EXPECT_EQ(pts.back().params[1].second, "1024");
  for (std::size_t i = 0; i < pts.size(); ++i) EXPECT_EQ(pts[i].index, static_cast<std::int64_t>(i));
}

TEST(SweepSpec, BadSpecsAreClearErrors) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"{}", "empty grid"},
      {"axes: {compression: []}", "axes.compression: empty list"},
      {"zip: [{gpu: [h100-sxm, h200], engine.max_num_seqs: [256]}]", "zipped lists differ in length"},
      {"axes: {gpu: [h200]}\nrepetition: 3", "repetition: unknown key (did you mean 'repetitions'?)"},
      {"axes: {gpu: h200}", "axes.gpu: expected a list of values"},
      {"axes: {gpu: [h200]}\nzip: [{gpu: [h100-sxm]}]", "key 'gpu' appears on more than one axis"},
  };
  for (const auto& c : cases) {
    try {
      parse_sweep_spec(c.text, "grid.yaml");
      ADD_FAILURE() << c.text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.text << " -> " << e.what();
    }
  }
  const SweepSpec typo = parse_sweep_spec("axes: {engine.max_num_seq: [1, 2]}", "grid.yaml");
  try {
    validate_sweep_axes(typo, "", testing::catalog(), CalibrationSource{});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("axis 'engine.max_num_seq'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'max_num_seqs'"), std::string::npos) << e.what();
  }
}

// Runs every point not yet done into `dir` (the library path the CLI uses).
void run_into(const fs::path& dir, const SweepSpec& spec, const std::string& base, bool resume, std::size_t limit) {
  SweepResults res(dir.string(), sweep_signature(spec, slurp(base)), sweep_keys(spec), resume);
  std::size_t n = 0;
  for (const auto& p : expand_sweep(spec, 7)) {
    if (res.done().count(p.index) || n++ >= limit) continue;
    res.append(run_sweep_point(spec, p, base, testing::catalog(), {}));
  }
}

std::set<std::string> rows_of(const fs::path& f, std::size_t skip) {
  std::set<std::string> out;
  std::stringstream ss(slurp(f));
  std::size_t i = 0;
  for (std::string l; std::getline(ss, l); ++i) {
    if (i >= skip) out.insert(l);
  }
  return out;
}

TEST(SweepResults, ResumeAfterACrashRunsOnlyMissingPointsWithNoDuplicateOrTornRows) {
  const std::string base = write("sweep_base.yaml",
                                 "seed: 7\nworkload: {num_requests: 100, arrival: {kind: poisson, rate_per_s: 20}}\n");
  const SweepSpec spec = parse_sweep_spec("axes: {compression: [fp16, kivi-4, h2o]}\nrepetitions: 3", "grid.yaml");
  const fs::path full = fs::path(::kvsim::testing::scratch()) / "sweep_full";
  const fs::path crash = fs::path(::kvsim::testing::scratch()) / "sweep_crash";
  fs::remove_all(full);
  fs::remove_all(crash);
  fs::create_directories(full);
  fs::create_directories(crash);
  run_into(full, spec, base, false, 1000);
  // A crash after 5 points: the 5th CSV row torn in half, its JSONL row never written.
  run_into(crash, spec, base, false, 5);
  {
    std::string csv = slurp(crash / "sweep.csv");
    csv.resize(csv.size() - 20);
    std::ofstream(crash / "sweep.csv") << csv;
    std::string js = slurp(crash / "sweep.jsonl");
    js.resize(js.rfind('\n', js.size() - 2) + 1);
    std::ofstream(crash / "sweep.jsonl") << js;
  }
  {
    SweepResults probe(crash.string(), sweep_signature(spec, slurp(base)), sweep_keys(spec), true);
    EXPECT_EQ(probe.done().size(), 4u);  // the torn point is not counted as done
  }
  run_into(crash, spec, base, true, 1000);
  EXPECT_EQ(rows_of(crash / "sweep.csv", 2), rows_of(full / "sweep.csv", 2));
  EXPECT_EQ(rows_of(crash / "sweep.jsonl", 0), rows_of(full / "sweep.jsonl", 0));
  EXPECT_EQ(rows_of(crash / "sweep.csv", 2).size(), 9u);
  // Without --resume an existing results directory is refused; another sweep's files too.
  EXPECT_THROW(SweepResults(crash.string(), sweep_signature(spec, slurp(base)), sweep_keys(spec), false), InputError);
  const SweepSpec other = parse_sweep_spec("axes: {compression: [fp16]}", "other.yaml");
  try {
    SweepResults(crash.string(), sweep_signature(other, slurp(base)), sweep_keys(other), true);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not the results of this sweep"), std::string::npos) << e.what();
  }
}

// Issue #16 item 3: resume trusts nothing it could not have written for this grid.
struct ResumeDamage {
  const char* name;
  std::function<void(std::vector<std::string>& csv, std::vector<std::string>& jsonl)> damage;
  std::vector<std::string> findings;  // after "<dir>/sweep.<ext>:"
  std::set<std::int64_t> done;
};

std::vector<std::string> lines_of(const fs::path& f) {
  std::vector<std::string> out;
  std::stringstream ss(slurp(f));
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

void write_lines(const fs::path& f, const std::vector<std::string>& lines) {
  std::ofstream o(f);
  for (const auto& l : lines) o << l << "\n";
}

TEST(SweepResults, ResumeDropsRowsItCouldNotHaveWrittenAndSaysWhy) {
  const std::string base = write("resume_base.yaml",
                                 "seed: 7\nworkload: {num_requests: 20, arrival: {kind: poisson, rate_per_s: 20}}\n");
  const SweepSpec spec = parse_sweep_spec("axes: {compression: [fp16, kivi-4, h2o]}", "grid.yaml");
  const std::vector<SweepPoint> grid = expand_sweep(spec, 7);
  const fs::path full = fs::path(::kvsim::testing::scratch()) / "resume_full";
  fs::remove_all(full);
  fs::create_directories(full);
  run_into(full, spec, base, false, 1000);
  // Rows: csv line 3/4/5 and jsonl line 1/2/3 are points 0/1/2.
  const ResumeDamage cases[] = {
      {"params", [](auto& c, auto& j) { c[3].replace(c[3].find("kivi-4"), 6, "h2o"); (void)j; },
       {"csv:4: point 1's rep, seed or parameters differ from the grid's; re-running it"}, {0, 2}},
      {"identical_duplicate", [](auto& c, auto& j) { c.push_back(c[2]); j.push_back(j[0]); },
       {"csv:6: point 0 repeated (identical); kept once", "jsonl:4: point 0 repeated (identical); kept once"},
       {0, 1, 2}},
      {"conflicting_duplicate",
       [](auto& c, auto& j) {
         std::string other = c[4];
         other.back() = other.back() == '1' ? '2' : '1';
         c.push_back(other);
         (void)j;
       },
       {"csv:6: point 2 repeated with different contents; re-running it"}, {0, 1}},
      {"cut_mid_file", [](auto& c, auto& j) { c[3].resize(c[3].rfind(',')); (void)j; },
       {"csv:4: point 1's row is cut short or too long; re-running it"}, {0, 2}},
      {"outside_grid",
       [](auto& c, auto& j) {
         c.push_back("99" + c[2].substr(1));
         j.push_back("{\"point\": 99, \"rep\": 0}");
       },
       {"csv:6: point 99 is not in this grid; dropped", "jsonl:4: point 99 is not in this grid; dropped"}, {0, 1, 2}},
      {"jsonl_other_point", [](auto& c, auto& j) { j[1].replace(j[1].find("kivi-4"), 6, "h2o"); (void)c; },
       {"jsonl:2: point 1's row does not match the grid's point or lacks metrics; re-running it"}, {0, 2}},
  };
  for (const auto& c : cases) {
    const fs::path d = fs::path(::kvsim::testing::scratch()) / (std::string("resume_") + c.name);
    fs::remove_all(d);
    fs::copy(full, d, fs::copy_options::recursive);
    auto csv = lines_of(d / "sweep.csv");
    auto jsonl = lines_of(d / "sweep.jsonl");
    c.damage(csv, jsonl);
    write_lines(d / "sweep.csv", csv);
    write_lines(d / "sweep.jsonl", jsonl);
    std::vector<std::string> want;
    for (const auto& f : c.findings) want.push_back((d / "sweep.").string() + f);
    {
      SweepResults res(d.string(), sweep_signature(spec, slurp(base)), sweep_keys(spec), true, "sweep", &grid);
      EXPECT_EQ(res.findings(), want) << c.name;
      EXPECT_EQ(res.done(), c.done) << c.name;
      for (const auto& p : grid) {
        if (!res.done().count(p.index)) res.append(run_sweep_point(spec, p, base, testing::catalog(), {}));
      }
    }
    // Re-run points replace what was dropped: the same rows as the uninterrupted sweep.
    EXPECT_EQ(rows_of(d / "sweep.csv", 2), rows_of(full / "sweep.csv", 2)) << c.name;
    EXPECT_EQ(rows_of(d / "sweep.jsonl", 0), rows_of(full / "sweep.jsonl", 0)) << c.name;
  }
}

// One request at a time (max_num_seqs 1), constant arrivals, fixed lengths: the queue is
// stable exactly below 1 / S, where S is the service time the cost model gives.
struct Fixed {
  std::string base;
  double service_s = 0;
};

Fixed fixed_service() {
  Fixed f;
  f.base = write("plan_base.yaml",
                 "seed: 1\nengine: {preset: vllm-v1, max_num_seqs: 1}\n"
                 "workload: {num_requests: 400, arrival: {kind: constant, rate_per_s: 1},"
                 " prompt_tokens: {kind: fixed, value: 200}, output_tokens: {kind: fixed, value: 50}}\n");
  const Scenario s = load_scenario(f.base, {}, std::nullopt, testing::catalog());
  const auto cost = make_cost_model(s);
  BatchShape prefill;
  prefill.prefills.push_back({200, 0, true, 0});
  Duration total = cost->step_cost(prefill).total_ns;
  for (int k = 1; k < 50; ++k) {
    BatchShape d;
    d.decode = {BatchShape::uniform_decode(1, 200 + k)};
    total += cost->step_cost(d).total_ns;
  }
  f.service_s = to_seconds(total);
  return f;
}

TEST(Planner, BisectionFindsTheKnownCapacity) {
  const Fixed f = fixed_service();
  const std::string plan = write("plan.yaml",
                                 "slo: {e2e_p99_s: 100}\ncandidates: {axes: {compression: [fp16]}}\n"
                                 "search: {requests: 400, rel_tolerance: 0.01}\nrepetitions: 1\ntarget_rate_per_s: 100\n");
  const PlanResult r = run_plan(load_plan_spec(plan), f.base, testing::catalog(), {}, 2);
  const double found = r.json["candidates"][0]["rate_per_s"].get<double>();
  const double capacity = 1.0 / f.service_s;
  EXPECT_LE(found, capacity * 1.001);
  EXPECT_GE(found, capacity * 0.95);
  EXPECT_EQ(r.json["candidates"][0]["replicas_for_target"].get<int>(), static_cast<int>(std::ceil(100 / found)));
}

TEST(Planner, OutIsReplacedAsASetAndForeignFilesAreRefused) {
  // Issue #16 item 4 for `kvsim plan --out`: plan.json and plan.txt are staged and swapped in.
  const Fixed f = fixed_service();
  const std::string plan = write("plan_out.yaml",
                                 "slo: {e2e_p99_s: 100}\ncandidates: {axes: {compression: [fp16]}}\n"
                                 "search: {requests: 100, rel_tolerance: 0.05}\nrepetitions: 1\n");
  const fs::path out = fs::path(::kvsim::testing::scratch()) / "plan_out";
  fs::remove_all(out);
  const std::string cmd = std::string(KVSIM_BINARY) + " plan -c " + f.base + " --plan " + plan + " --out " + out.string() +
                          " -j 1 > /dev/null 2> " + (out.string() + ".err");
  ASSERT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 0);
  ASSERT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 0);  // a second plan replaces the pair
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(out)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"plan.json", "plan.txt"}));
  std::ofstream(out / "notes.txt") << "mine\n";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  EXPECT_EQ(slurp(out.string() + ".err"), "kvsim plan: error: --out " + out.string() +
                                              ": holds 'notes.txt', which kvsim did not write; give an empty directory "
                                              "or one a previous run wrote (it is replaced as a whole)\n");
  EXPECT_EQ(slurp(out / "notes.txt"), "mine\n");
}

TEST(Planner, SaturationVerdictsOnCraftedLoads) {
  const Fixed f = fixed_service();
  const double cap = 1.0 / f.service_s;
  auto verdict_at = [&](double rate) {
    const auto o = testing::run(load_scenario(f.base, {"workload.arrival.rate_per_s=" + std::to_string(rate)},
                                              std::nullopt, testing::catalog()));
    return classify_run(o.report, rate);
  };
  EXPECT_EQ(verdict_at(0.5 * cap), Verdict::kStable);
  EXPECT_EQ(verdict_at(2.0 * cap), Verdict::kOverloaded);
  // Slightly over capacity with Poisson bursts: the queue grows (backlogged or worse), never stable.
  EXPECT_NE(verdict_at(1.05 * cap), Verdict::kStable);
}

TEST(Planner, AnSloNoLoadCanMeetIsAClearAnswer) {
  const Fixed f = fixed_service();
  const std::string plan = write("plan_impossible.yaml",
                                 "slo: {ttft_p50_s: 0.000001}\ncandidates: {axes: {compression: [fp16]}}\n"
                                 "search: {requests: 200}\nrepetitions: 1\n");
  const PlanResult r = run_plan(load_plan_spec(plan), f.base, testing::catalog(), {}, 1);
  EXPECT_EQ(r.json["candidates"][0]["rate_per_s"].get<double>(), 0.0);
  EXPECT_NE(r.json["candidates"][0]["answer"].get<std::string>().find("no load meets the SLO"), std::string::npos);
  EXPECT_NE(r.table.find("no load meets the SLO"), std::string::npos);
}

TEST(Planner, BadPlanSpecs) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"candidates: {axes: {compression: [fp16]}}", "slo: required"},
      {"slo: {ttft_p99: 1}\ncandidates: {axes: {compression: [fp16]}}", "unknown SLO (did you mean 'ttft_p99_s'?)"},
      {"slo: {ttft_p99_s: -1}\ncandidates: {axes: {compression: [fp16]}}", "plan.yaml:1: slo.ttft_p99_s: must be in (0, 1e9] s (got -1)"},
      {"slo: {ttft_p99_s: 1}", "candidates: required"},
      {"slo: {ttft_p99_s: 1}\ncandidates: {axes: {compression: [fp16]}}\nsearch: {min_rate_per_s: 5, max_rate_per_s: 1}",
       "need 0 < min_rate_per_s < max_rate_per_s"},
  };
  for (const auto& c : cases) {
    try {
      parse_plan_spec(c.text, "plan.yaml");
      ADD_FAILURE() << c.text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.text << " -> " << e.what();
    }
  }
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

TEST(Planner, GoodputFractionIsAnSlo) {
  // Goodput alone: 90 % of requests within a generous TTFT limit; the answer is close to the
  // known capacity, as with a percentile limit.
  const Fixed f = fixed_service();
  const std::string plan = write("plan_goodput.yaml",
                                 "goodput: {fraction: 0.9, ttft_s: 100}\ncandidates: {axes: {compression: [fp16]}}\n"
                                 "search: {requests: 400, rel_tolerance: 0.01}\nrepetitions: 1\n");
  const PlanResult r = run_plan(load_plan_spec(plan), f.base, testing::catalog(), {}, 2);
  const double found = r.json["candidates"][0]["rate_per_s"].get<double>();
  EXPECT_LE(found, 1.001 / f.service_s);
  EXPECT_GE(found, 0.95 / f.service_s);
  // And a run reports the share of good requests for its limits.
  const Scenario gs = load_scenario(f.base, {"run.goodput_ttft_s=1e-9"}, std::nullopt, testing::catalog());
  const RunOutcome o = run_scenario(gs);
  EXPECT_EQ(o.summary.goodput.fraction, 0.0);
  EXPECT_EQ(o.summary.goodput.ttft_limit_s, 1e-9);
  EXPECT_EQ(o.report["summary"]["goodput"]["fraction"].get<double>(), 0.0);
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

// Issue #17's two named bugs. (1) A sweep or plan over cost_model.gemm_variant checks its axes
// with the calibration search directories the points run with (it was refused as "needs a
// calibration bundle" while `kvsim run --set` of the same key worked). (2) `kvsim plan` keeps a
// broken law of the simulation an InvariantViolation (exit 3) instead of recasting it as bad input.
TEST(SweepAndPlan, AxesSeeTheCalibrationDirsAndInvariantViolationsStayExit3) {
  const std::string base = write("gemm_base.yaml", "workload: {num_requests: 20, arrival: {kind: poisson, rate_per_s: 5}}\n");
  const SweepSpec spec = parse_sweep_spec("axes: {cost_model.gemm_variant: [torch_linear]}\n", "gemm.yaml");
  // A search directory whose H200 Llama-3-8B bundle carries PyTorch's GEMMs as 'torch_linear'.
  const std::string dirs = std::string(::kvsim::testing::scratch()) + "gemm_dirs";
  std::filesystem::remove_all(dirs);
  std::filesystem::create_directories(dirs + "/h200");
  const std::string overlay = std::string(KVSIM_BINARY) + " calibrate overlay " + KVSIM_SOURCE_DIR +
                              "/calibration/data/h200/llama-3-8b --out " + dirs + "/h200/llama-3-8b --gemm " +
                              KVSIM_SOURCE_DIR + "/calibration/e2e/results/h200/torch_gemm/gemm_torch_llama-3-8b.csv > /dev/null";
  ASSERT_EQ(WEXITSTATUS(std::system(overlay.c_str())), 0) << overlay;
  const CalibrationSource shipped(std::vector<std::string>{dirs});
  EXPECT_NO_THROW(validate_sweep_axes(spec, base, testing::catalog(), shipped));
  EXPECT_THROW(validate_sweep_axes(spec, base, testing::catalog(), CalibrationSource{}), InputError);
  // The CLI, with the shipped bundles as its search path.
  const std::string sweep = write("gemm_sweep.yaml", "axes: {cost_model.gemm_variant: [torch_linear]}\n");
  const std::string out = std::string(::kvsim::testing::scratch()) + "gemm_sweep_out";
  const std::string cmd = "KVSIM_CALIBRATION_DIR=" + dirs + " " +
                          std::string(KVSIM_BINARY) + " sweep -c " + base + " --sweep " + sweep + " --out " + out +
                          " --no-progress > /dev/null 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 0) << cmd;
  // A plan whose every run breaks the livelock law: exit 3 with the violation, not exit 2.
  const std::string live = write("livelock_base.yaml",
                                 "engine: {max_num_batched_tokens: 1024}\nrun: {livelock_steps: 1}\n"
                                 "workload: {num_requests: 100, arrival: {kind: poisson, rate_per_s: 1},"
                                 " prompt_tokens: {kind: fixed, value: 6000}}\n");
  const std::string plan = write("livelock_plan.yaml", "slo: {e2e_p99_s: 100}\ncandidates: {axes: {compression: [fp16]}}\n");
  EXPECT_THROW(run_plan(load_plan_spec(plan), live, testing::catalog(), {}, 1), InvariantViolation);
  const std::string pcmd = std::string(KVSIM_BINARY) + " plan -c " + live + " --plan " + plan + " > /dev/null 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(pcmd.c_str())), 3) << pcmd;
}

}  // namespace
}  // namespace kvsim
