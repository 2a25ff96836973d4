// The CLI as a user sees it: golden output of the default run, output files, and the
// catalogue of bad inputs (each with its message and exit code).
#include "../support/scratch.h"
#include <gtest/gtest.h>
#include "sim/core/csv.h"
#include <algorithm>
#include <chrono>
#include <thread>
#include <unistd.h>
#include <sys/wait.h>

#include <array>
#include <map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result kvsim(const std::string& args) {
  // One file per call and process: ctest runs the Cli tests as parallel processes, and a
  // shared name let one test read another's stderr (a flaky Cli.BadInputs... under -j2).
  static int calls = 0;
  const std::string err_path =
      ::kvsim::testing::scratch() + "kvsim_stderr_" + std::to_string(getpid()) + "_" + std::to_string(++calls) + ".txt";
  const std::string cmd = std::string(KVSIM_BINARY) + " " + args + " 2>" + err_path;
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_path);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  std::remove(err_path.c_str());
  return r;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string src(const std::string& rel) { return std::string(KVSIM_SOURCE_DIR) + "/" + rel; }

// Copies `from` to `to` (creating its folder) with each (old, new) text replaced once.
void write_edited(const std::string& from, const std::string& to,
                  const std::vector<std::pair<std::string, std::string>>& edits) {
  std::ifstream in(from);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  for (const auto& [old_text, new_text] : edits) {
    const auto at = yaml.find(old_text);
    ASSERT_NE(at, std::string::npos) << from << " lacks '" << old_text << "'";
    yaml.replace(at, old_text.size(), new_text);
  }
  std::filesystem::create_directories(std::filesystem::path(to).parent_path());
  std::ofstream(to) << yaml;
}

TEST(Golden, DefaultRunSummary) {
  const Result r = kvsim("run");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string golden = src("tests/golden/expected/default_run.txt");
  if (std::getenv("KVSIM_UPDATE_GOLDEN")) std::ofstream(golden) << r.out;
  EXPECT_EQ(r.out, read(golden)) << "regenerate with KVSIM_UPDATE_GOLDEN=1 if the change is intended";
}

TEST(Golden, ExampleFileIsTheBuiltinDefault) {
  const Result a = kvsim("run");
  const Result b = kvsim("run -c " + src("experiments/examples/default.yaml"));
  ASSERT_EQ(b.code, 0) << b.err;
  // Only the first line (the scenario's name) may differ.
  EXPECT_EQ(a.out.substr(a.out.find('\n')), b.out.substr(b.out.find('\n')));
}

TEST(Cli, OutDirHasEveryFileAndJsonMatchesText) {
  const std::string dir = ::kvsim::testing::scratch() + "kvsim_out";
  std::filesystem::remove_all(dir);
  const Result r = kvsim("run --set workload.num_requests=200 --format json --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["summary"]["requests"]["finished"], 200);
  for (const char* f : {"report.json", "requests.csv", "timeseries.csv", "trace.json", "resolved.yaml"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  }
  const auto report = nlohmann::json::parse(read(dir + "/report.json"));
  EXPECT_EQ(report["summary"], j["summary"]);
  EXPECT_TRUE(report["context"].contains("wall_seconds"));
  EXPECT_FALSE(j["context"].contains("wall_seconds"));  // volatile fields never reach stdout
  const std::string csv = read(dir + "/requests.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 201);
  EXPECT_NO_THROW(nlohmann::json::parse(read(dir + "/trace.json")));
  EXPECT_NE(read(dir + "/resolved.yaml").find("num_requests: 200"), std::string::npos);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "temporary left behind: " << e.path();
  }
}

TEST(Cli, FailedRunLeavesEarlierOutputsIntact) {
  const std::string dir = ::kvsim::testing::scratch() + "kvsim_keep";
  std::filesystem::remove_all(dir);
  ASSERT_EQ(kvsim("run --set workload.num_requests=50 --out " + dir).code, 0);
  const std::string before = read(dir + "/report.json");
  const Result bad = kvsim("run --set workload.num_requests=50 --set run.livelock_steps=1 "
                           "--set engine.max_num_batched_tokens=1024 --set engine.max_num_seqs=16 "
                           "--set 'workload.prompt_tokens={kind: fixed, value: 3000}' --out " + dir);
  EXPECT_EQ(bad.code, 3) << bad.err;
  EXPECT_EQ(read(dir + "/report.json"), before);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
}

// Issue #16 item 4: --out is replaced as a set; a killed run leaves the previous set whole, and
// the next run removes the killed run's staging directory.
TEST(Cli, OutIsReplacedAsASetAndAKilledRunLeavesThePreviousOne) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(::kvsim::testing::scratch()) / "out_set";
  fs::remove_all(root);
  fs::create_directories(root);
  const std::string dir = (root / "r").string();
  ASSERT_EQ(kvsim("run --set workload.num_requests=50 --out " + dir).code, 0);
  const std::string report = read(dir + "/report.json"), requests = read(dir + "/requests.csv");
  // kill -9 in the middle of a long run.
  const std::string pidfile = (root / "pid").string();
  ASSERT_EQ(std::system((std::string(KVSIM_BINARY) + " run --set workload.num_requests=20000000 --set workload.arrival.rate_per_s=50 "
                         "--out " + dir + " > /dev/null 2>&1 & echo $! > " + pidfile).c_str()),
            0);
  std::string staging;
  for (int i = 0; i < 100 && staging.empty(); ++i) {  // wait until the run has staged something
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.path().filename().string().rfind(".r.kvsim-staging-", 0) == 0) staging = e.path().string();
    }
  }
  ASSERT_FALSE(staging.empty()) << "the long run never staged its output";
  const std::string pid = read(pidfile);
  ASSERT_EQ(std::system(("kill -9 " + pid).c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(read(dir + "/report.json"), report);
  EXPECT_EQ(read(dir + "/requests.csv"), requests);
  EXPECT_TRUE(fs::exists(staging));
  // The next run cleans the dead run's staging and replaces the set.
  ASSERT_EQ(kvsim("run --set workload.num_requests=60 --out " + dir).code, 0);
  EXPECT_FALSE(fs::exists(staging));
  EXPECT_NE(read(dir + "/report.json"), report);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(root)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"pid", "r"}));
  // A directory holding a file kvsim did not write is refused, and the file stays.
  std::ofstream(dir + "/notes.txt") << "mine\n";
  const Result foreign = kvsim("run --set workload.num_requests=50 --out " + dir);
  EXPECT_EQ(foreign.code, 2);
  EXPECT_EQ(foreign.err, "kvsim run: error: --out " + dir +
                             ": holds 'notes.txt', which kvsim did not write; give an empty directory or one a previous "
                             "run wrote (it is replaced as a whole)\n");
  EXPECT_EQ(read(dir + "/notes.txt"), "mine\n");
}

TEST(Cli, CalibrateOverlayWritesABundleThatStepUses) {
  const std::string out = ::kvsim::testing::scratch() + "cli_overlay";
  std::filesystem::remove_all(out);
  const std::string gemm = src("calibration/e2e/results/h200/torch_gemm/gemm_torch_llama-3-8b.csv");
  const std::string sdpa = src("calibration/e2e/results/h200/torch_sdpa/prefill_attention_torch_sdpa_llama-3-8b.csv");
  const Result r = kvsim("calibrate overlay " + src("calibration/data/h200/llama-3-8b") + " --out " + out + " --gemm " + gemm +
                         " --prefill-attention " + sdpa);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "overlay " + src("calibration/data/h200/llama-3-8b") + " -> " + out + "\n  gemm: 142 rows from " + gemm +
                       " (variants: torch_linear, torch_matmul)\n  prefill_attention: 35 rows from " + sdpa +
                       " (variants: torch_sdpa)\n");
  const Result s = kvsim("step --model llama-3-8b --gpu h200 --batch 1 --context 512 --phase prefill --calibration " + out +
                         " --gemm-variant torch_linear --prefill-kernel torch_sdpa");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("gemm torch_linear; prefill torch_sdpa"), std::string::npos) << s.out;
  // Again without --force: refused, and the first overlay is intact.
  const Result again = kvsim("calibrate overlay " + src("calibration/data/h200/llama-3-8b") + " --out " + out + " --gemm " + gemm);
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(kvsim("calibrate check " + out).code, 0);
}

TEST(Cli, StepPrintsABreakdown) {
  const Result r = kvsim("step --model llama-3-8b --gpu h200 --batch 32 --context 2048 --phase decode --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["total_ms"].get<double>(), 0);
  EXPECT_TRUE(j["ops"].contains("attn_decode"));
  EXPECT_TRUE(j["ops"].contains("cpu_overhead"));
  const Result t = kvsim("step --model llama-3-8b --gpu h200 --batch 1 --context 512 --phase prefill");
  EXPECT_EQ(t.code, 0);
  EXPECT_NE(t.out.find("attn_prefill"), std::string::npos);
}

// A mixed iteration (decodes plus one prefill chunk) is priced as one step, and --shapes prices a
// file of steps with one cost model: each row as the single-step command prices it.
TEST(Cli, StepPricesMixedIterationsAndFilesOfSteps) {
  const auto total = [&](const std::string& flags) {
    const Result r = kvsim("step --model llama-3-8b --gpu h200 --engine hf-cb --format json " + flags);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out)["total_ms"].get<double>() : -1.0;
  };
  const double mixed = total("--batch 10 --context 700 --phase mixed --prefill-tokens 600 --prefill-cached 256");
  const double decode = total("--batch 10 --context 700 --phase decode");
  const double lone = total("--batch 0 --context 1 --phase mixed --prefill-tokens 600");
  EXPECT_GT(mixed, decode);
  const std::string path = ::kvsim::testing::scratch() + "shapes.csv";
  std::ofstream(path) << "phase,batch,context,prefill_tokens,prefill_cached,label\n"
                         "mixed,10,700,600,256,a\ndecode,10,700,,,b\nmixed,0,1,600,,c\n";
  const Result r = kvsim("step --model llama-3-8b --gpu h200 --engine hf-cb --shapes " + path);
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, row;
  std::getline(lines, header);
  EXPECT_EQ(header, "phase,batch,context,prefill_tokens,prefill_cached,label,total_ms,gpu_ms,cpu_ms");
  for (const double want : {mixed, decode, lone}) {
    ASSERT_TRUE(std::getline(lines, row));
    const auto fields = ::kvsim::split_csv_line(row);
    ASSERT_EQ(fields.size(), 9u) << row;
    EXPECT_NEAR(std::stod(fields[6]), want, 1e-3 * want) << row;
  }
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* c : {"run --help", "step --help", "list --help", "--help"}) {
    const Result r = kvsim(c);
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("kvsim"), std::string::npos) << c;
  }
  for (const char* topic : {"models", "gpus", "engines", "overheads", "arrivals", "lengths", "compression", "metrics", "schedulers", "routers"}) {
    EXPECT_EQ(kvsim(std::string("list ") + topic).code, 0) << topic;
  }
}

struct BadInput {
  const char* name;
  std::string args;
  int code;
  std::string message;
};

TEST(Cli, BadInputsGetAClearMessageAndExitCode) {
  const std::string bad_trace = ::kvsim::testing::scratch() + "bad_trace.csv";
  std::ofstream(bad_trace) << "arrival_s,prompt_tokens,output_tokens\n0,10,10\n0.5,ten,10\n";
  const std::string long_trace = ::kvsim::testing::scratch() + "long_trace.csv";
  std::ofstream(long_trace) << "arrival_s,prompt_tokens,output_tokens\n0,10,10\n0.5,9000,10\n";
  auto trace_scenario = [](const std::string& name, const std::string& trace) {
    const std::string path = ::kvsim::testing::scratch() + name;
    std::ofstream(path) << "workload: {trace: " << trace << "}\n";
    return path;
  };
  const std::string bad_yaml = ::kvsim::testing::scratch() + "bad.yaml";
  std::ofstream(bad_yaml) << "engine: {preset: vllm-v1\n";
  // Issue #16, item 2: the loader drops nothing silently.
  const std::string dup_yaml = ::kvsim::testing::scratch() + "dup.yaml";
  std::ofstream(dup_yaml) << "engine:\n  preset: sglang\n  max_num_seqs: 4\n  max_num_seqs: 5\n";
  const std::string two_docs = ::kvsim::testing::scratch() + "two.yaml";
  std::ofstream(two_docs) << "model: llama-3-8b\n---\nmodel: llama-2-7b\n";
  // A user catalog whose model claims 1 parameter (issue #16 item 1: it reported 0 GiB of weights).
  const std::string typo_catalog = ::kvsim::testing::scratch() + "typo_catalog";
  write_edited(src("models/catalog/models/llama-2-7b.yaml"), typo_catalog + "/models/typo.yaml",
               {{"num_parameters: 6738415616", "num_parameters: 1"}, {"name: llama-2-7b", "name: typo-7b"}});
  // A GPU whose bandwidth was written in TB/s instead of GB/s.
  const std::string unit_catalog = ::kvsim::testing::scratch() + "unit_catalog";
  write_edited(src("models/catalog/gpus/h200.yaml"), unit_catalog + "/gpus/h2tb.yaml",
               {{"hbm_bandwidth_gbps: 4800", "hbm_bandwidth_gbps: 4.8 "}, {"name: h200", "name: h2tb"}});
  const BadInput cases[] = {
      {"unknown key", "run --set engine.max_num_seq=4", 2,
       "kvsim run: error: <builtin default>:1: engine.max_num_seq: unknown key (did you mean 'max_num_seqs'?); valid keys here: activation_reserve_gib, block_size, chunked_prefill, gpu_memory_utilization, graph_reserve_gib, max_model_len, max_num_batched_tokens, max_num_seqs, max_prefill_tokens, non_torch_reserve_gib, num_gpu_blocks, overhead, preemption_mode, prefill_interval, preset, schedule_conservativeness, swap_space_gib, watermark"},
      {"wrong type", "run --set engine.max_num_seqs=many", 2,
       "kvsim run: error: <builtin default>:1: engine.max_num_seqs: expected an integer but got 'many'"},
      {"zero rate", "run --set workload.arrival.rate_per_s=0", 2,
       "kvsim run: error: <builtin default>:1: workload.arrival.rate_per_s: must be in (0, 1e9] requests/s (got 0)"},
      {"negative length", "run --set 'workload.prompt_tokens={kind: fixed, value: -5}'", 2,
       "kvsim run: error: <builtin default>:1: workload.prompt_tokens.value: must be in [1, 1e8] tokens (got -5)"},
      {"prompt beyond context", "run --set 'workload.prompt_tokens={kind: fixed, value: 9000}'", 2,
       "kvsim run: error: <builtin default>: workload.prompt_tokens (max 9000): prompt can be 9000 tokens, but llama-3-8b serves at most 8192 tokens (prompt + at least one output token); lower the prompt length's max"},
      {"trace prompt beyond context", "run -c " + trace_scenario("long.yaml", long_trace), 2,
       "kvsim run: error: {TMP}long.yaml: {TMP}long_trace.csv:3 (prompt_tokens 9000): prompt can be 9000 tokens, but llama-3-8b serves at most 8192 tokens (prompt + at least one output token); lower the prompt length's max"},
      {"malformed trace row", "run -c " + trace_scenario("badtrace.yaml", bad_trace), 2,
       "kvsim run: error: {TMP}badtrace.yaml:1: workload.trace: {TMP}bad_trace.csv:3: prompt_tokens must be an integer >= 1"},
      {"unknown model", "run --set model=llama-3-9b", 2,
       "kvsim run: error: <builtin default>:1: model: unknown model 'llama-3-9b' (did you mean 'llama-3-8b'?); valid models: llama-2-13b, llama-2-70b, llama-2-7b, llama-3-70b, llama-3-8b, llama-3.1-8b, mistral-7b, qwen2.5-72b, qwen2.5-7b"},
      {"unknown gpu", "run --set gpu=h300", 2,
       "kvsim run: error: <builtin default>:1: gpu: unknown GPU 'h300' (did you mean 'h200'?); valid GPUs: a100-40gb, a100-80gb, a40, a800-80gb, b200, h100-pcie, h100-sxm, h200, h800, l40s, rtx-a6000"},
      {"unknown engine", "run --set engine.preset=vllm-v2", 2,
       "kvsim run: error: <builtin default>:1: engine.preset: unknown engine 'vllm-v2' (did you mean 'vllm-v0'?); valid engines: hf-cb, hf-eager, hf-sdpa, lmdeploy-0.6-study, lmdeploy-pytorch, sglang, static, vllm-v0, vllm-v1"},
      {"unknown arrival", "run --set workload.arrival.kind=poison", 2,
       "kvsim run: error: <builtin default>:1: workload.arrival.kind: unknown arrival process 'poison' (did you mean 'poisson'?); valid: poisson, gamma, constant, all-at-once\n<builtin default>:9: workload.arrival.rate_per_s: unknown key; valid keys here: kind"},
      {"missing file", "run -c /nonexistent.yaml", 2,
       "kvsim run: error: /nonexistent.yaml: cannot open scenario file"},
      {"invalid yaml", "run -c " + bad_yaml, 2,
       "kvsim run: error: {TMP}bad.yaml:2: invalid YAML: end of map flow not found"},
      {"arrivals past the time limit", "run --set workload.arrival.rate_per_s=1e-12", 2,
       "kvsim run: error: workload.arrival.rate_per_s: request 1 would arrive at 1.55e+12 s, past kvsim's simulated-time "
       "limit of 1e9 s (31.7 years); raise rate_per_s or lower num_requests"},
      // Issue #16 item 1: physical bounds at load.
      {"huge per-step cost", "run --set engine.overhead.per_step_ms=1e300", 2,
       "kvsim run: error: <builtin default>:1: engine.overhead.per_step_ms: must be in [0, 1e6] ms (1000 s) (got 1e300)"},
      {"tiny sample interval", "run --set run.sample_interval_s=1e-9", 2,
       "kvsim run: error: <builtin default>:1: run.sample_interval_s: must be 0 (no sampling) or in [0.001, 1e9] s"},
      {"horizon past the time limit", "run --set run.horizon_s=1e12", 2,
       "kvsim run: error: <builtin default>:1: run.horizon_s: must be in (0, 1e9] s (the simulated-time limit) (got 1e12)"},
      {"catalog model with 1 parameter", "run --catalog " + typo_catalog + " --set model=typo-7b", 2,
       "kvsim run: error: {TMP}typo_catalog/models/typo.yaml:15: num_parameters: 1 disagrees with the 6.738e+09 the "
       "shapes imply (allowed: within 5 %)"},
      // Every numeric key has a documented range (docs/reliability.md, "Documented ranges").
      {"GPU bandwidth in the wrong unit", "run --catalog " + unit_catalog + " --set gpu=h2tb", 2,
       "kvsim run: error: {TMP}unit_catalog/gpus/h2tb.yaml:4: hbm_bandwidth_gbps: must be in [10, 100000] GB/s (got 4.8)"},
      {"efficiency above 1", "run --set cost_model.memory_efficiency=1.5", 2,
       "kvsim run: error: <builtin default>:1: cost_model.memory_efficiency: must be in (0, 1] (got 1.5)"},
      {"huge kernel gap", "run --set cost_model.kernel_gap_us=1e9", 2,
       "kvsim run: error: <builtin default>:1: cost_model.kernel_gap_us: must be in [0, 1000] us (got 1e9)"},
      {"token cap past the token limit", "run --set workload.max_tokens=1000000000", 2,
       "kvsim run: error: <builtin default>:1: workload.max_tokens: must be in [0, 1e8] tokens (0 = no cap) (got 1e9)"},
      {"KV link slower than 1 kB/s", "run --set 'cluster={replicas: [{count: 1, role: prefill}, {count: 1, role: decode}], kv_transfer: {link_gbps: 1e-9}}'", 2,
       "kvsim run: error: <builtin default>:1: cluster.kv_transfer.link_gbps: must be in [1e-6, 100000] GB/s (got 1e-9)"},
      {"event count explodes", "run --set run.max_events=1000", 2,
       "kvsim run: error: run.max_events: the run reached 1000 events at simulated time 24.5904 s with 472 requests "
       "finished; the scenario's event count explodes (raise run.max_events if the run is meant to be this long)"},
      {"a step no GPU takes", "run --set engine.overhead.per_step_ms=999999 --set engine.overhead.per_request_us=999999999 "
       "--set 'workload.arrival={kind: all-at-once}' --set workload.num_requests=2000", 2,
       "kvsim run: error: replica 0: an engine step of 1019 requests and 8192 tokens would take 1.02e6 s at simulated "
       "time 1.4208e7 s, beyond kvsim's limit of 1e6 s per step; a cost input of the scenario (host overheads, "
       "per-kernel or per-pair costs, bandwidths, efficiencies) is outside its physical range"},
      {"duplicate key", "run -c " + dup_yaml, 2,
       "kvsim run: error: {TMP}dup.yaml:4: engine.max_num_seqs: duplicate key (first given on line 3)"},
      {"second document", "run -c " + two_docs, 2,
       "kvsim run: error: {TMP}two.yaml:2: a second YAML document (after '---'); a file holds one document"},
      {"directory as -c", "run -c " + ::kvsim::testing::scratch(), 2,
       "kvsim run: error: {TMP}: is a directory, expected a scenario file"},
      {"bad --set", "run --set novalue", 2,
       "kvsim run: error: --set novalue: expected key.path=value"},
      {"bad format", "run --format xml", 2,
       "kvsim run: error: --format must be 'text' or 'json' (got 'xml')"},
      {"unknown flag", "run --frobnicate", 2,
       "kvsim run: error: unrecognised option '--frobnicate' (see 'kvsim run --help')"},
      {"overlay without --out", "calibrate overlay " + src("calibration/data/h200/llama-3-8b"), 2,
       "kvsim calibrate: error: overlay needs --out DIR (the base bundle is never changed)"},
      {"overlay flag on fit", "calibrate fit " + src("calibration/data/h200/llama-3-8b") + " --gemm x.csv", 2,
       "kvsim calibrate: error: --gemm, --prefill-attention and --force belong to 'kvsim calibrate overlay'"},
      {"overlay of measured rows",
       "calibrate overlay " + src("calibration/data/h200/llama-3-8b") + " --out " + ::kvsim::testing::scratch() + "overlay_dup --gemm " +
           src("calibration/data/h200/llama-3-8b/gemm.csv"),
       2,
       "kvsim calibrate: error: " + src("calibration/data/h200/llama-3-8b/gemm.csv") +
           ":2: gemm dtype 'fp16' is already in " + src("calibration/data/h200/llama-3-8b/gemm.csv") +
           "; an overlay adds new variants (name them after the implementation, e.g. torch_linear)"},
      {"unknown command", "runn", 2,
       "kvsim: unknown command 'runn' (did you mean 'run'?)\nkvsim: discrete-event simulator of LLM serving under KV-cache compression\n\nusage: kvsim <command> [options]\n\ncommands:\n  run    simulate a scenario (default: the built-in Llama-3-8B / H200 / vLLM V1 scenario)\n  step   predict the time of one engine iteration, with a per-operator breakdown\n  list   show the catalog: models, gpus, engines, overheads, arrivals, lengths, compression, metrics, schedulers, routers\n  sweep  run a grid of scenarios in parallel (threads; MPI ranks under mpirun), resumable\n  plan   capacity planning: request rate at SLO, replicas, cost, ranked candidates\n  calibrate  fit, show, check or overlay a calibration bundle (kvsim calibrate --help)\n  validate   compare predictions with measured results (CSV or vllm bench JSON): MAPE, bias, r\n\nRun 'kvsim <command> --help' for a command's options.\nexit codes: 0 ok, 1 internal error, 2 bad input, 3 simulation invariant broken,\n            4 validation error above --max-mape"},
      {"step missing args", "step --model llama-3-8b", 2,
       "kvsim step: error: --gpu is required\n--batch is required\n--context is required\n--phase is required"},
      {"step bad phase", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase both", 2,
       "kvsim step: error: --phase must be 'prefill', 'decode' or 'mixed' (got 'both')"},
      {"step mixed without a chunk", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase mixed", 2,
       "kvsim step: error: --phase mixed needs --prefill-tokens"},
      {"step chunk without mixed", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase decode --prefill-tokens 5", 2,
       "kvsim step: error: --prefill-tokens and --prefill-cached need --phase mixed"},
      {"step chunk past the context", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase mixed --prefill-tokens 8000 --prefill-cached 500", 2,
       "kvsim step: error: --prefill-tokens + --prefill-cached (8500) exceeds llama-3-8b's context of 8192 tokens"},
      {"step shapes with a batch", "step --model llama-3-8b --gpu h200 --batch 1 --shapes x.csv", 2,
       "kvsim step: error: --batch conflicts with --shapes (each row gives it)"},
      {"step shapes missing", "step --model llama-3-8b --gpu h200 --shapes /nonexistent/shapes.csv", 2,
       "kvsim step: error: /nonexistent/shapes.csv: cannot open file"},
      {"step zero batch", "step --model llama-3-8b --gpu h200 --batch 0 --context 1 --phase decode", 2,
       "kvsim step: error: --batch must be >= 1 (got 0)"},
      {"run scenario without -c", "run my-scenario.yaml", 2,
       "kvsim run: error: unexpected argument 'my-scenario.yaml' (a scenario file is given with -c my-scenario.yaml)"},
      {"step stray word", "step --model llama-3-8b decode", 2, "kvsim step: error: unexpected argument 'decode'"},
      {"step negative extra kernel cost", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase decode --extra-kernel-us -1", 2,
       "kvsim step: error: --extra-kernel-us must be in [0, 1000]"},
      {"step extra kernel cost not a number", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase decode --extra-kernel-us nan", 2,
       "kvsim step: error: --extra-kernel-us must be in [0, 1000]"},
      {"step prefill kernel the bundle lacks", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase prefill --prefill-kernel cudnn", 2,
       "kvsim step: error: --prefill-kernel: the llama-3-8b bundle on NVIDIA H200 has no prefill_attention variant 'cudnn' (it has: flash, materialized)"},
      {"step gemm variant without a bundle", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase decode --cost-model roofline --gemm-variant torch_linear", 2,
       "kvsim step: error: --gemm-variant: needs a calibration bundle, and this cost model is the roofline"},
      {"list unknown", "list modles", 2,
       "kvsim list: error: unknown topic 'modles' (did you mean 'models'?); valid topics: models, gpus, engines, overheads, arrivals, lengths, compression, metrics, schedulers, routers"},
      {"v1 without chunking", "run --set engine.chunked_prefill=false", 2,
       "kvsim run: error: <builtin default>:1: engine.chunked_prefill: preset vllm-v1 always chunks prefills (vLLM V1's scheduling rules)"},
      {"utilization", "run --set engine.gpu_memory_utilization=1.5", 2,
       "kvsim run: error: <builtin default>:1: engine.gpu_memory_utilization: must be in (0, 1] (got 1.5)"},
      {"swap on v1", "run --set engine.preemption_mode=swap", 2,
       "kvsim run: error: <builtin default>:1: engine.preemption_mode: swap is only modelled for vllm-v0 (vLLM V1 and LMDeploy PyTorch recompute)"},
      {"unknown method", "run --set compression=kivi-3", 2,
       "kvsim run: error: <builtin default>: compression: unknown compression method 'kivi-3' (did you mean 'kivi-2'?); valid: fp16, fp8, int8, int4, kivi-2, kivi-4, gear-4, gear-8, streamingllm, h2o, snapkv, pyramidkv, ratio:<x>, ratio:<x>:eviction"},
      {"unknown method parameter", "run --set 'compression={method: {method: kivi-4, residual: 64}}'", 2,
       "kvsim run: error: <builtin default>:1: compression.method.residual: unknown key (did you mean 'residual_tokens'?); valid keys here: attention_efficiency, budget_tokens, dequant_bandwidth_gbps, evict_every_step, fused_dequant, group_size, heavy_tokens, key_bits, lowrank_fraction, method, outlier_fraction, recent_tokens, residual_tokens, scale_bytes, sink_tokens, value_bits"},
      {"zero bits", "run --set 'compression={method: {method: int4, key_bits: 0}}'", 2,
       "kvsim run: error: <builtin default>:1: compression.method.key_bits: must be in (0, 16] bits (got 0)"},
      {"negative budget", "run --set 'compression={method: {method: h2o, budget_tokens: -5}}'", 2,
       "kvsim run: error: <builtin default>:1: compression.method.budget_tokens: must be in [0, 1e8] tokens (got -5)"},
      {"group size", "run --set 'compression={method: {method: kivi-2, group_size: 48}}'", 2,
       "kvsim run: error: <builtin default>:1: compression: method 'kivi-2{group_size=48}': group_size 48 does not divide head_dim 128"},
      {"bad ratio", "run --set compression=ratio:abc", 2,
       "kvsim run: error: <builtin default>: compression: compression 'ratio:abc': ratio must be a number, e.g. ratio:4"},
      {"routing without method", "run --set 'compression={method: fp16, routing: [{min_prompt_tokens: 5}]}'", 2,
       "kvsim run: error: <builtin default>: compression.routing[0].method: required key is missing"},
      {"step unknown method", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase decode --compression x", 2,
       "kvsim step: error: unknown compression method 'x'; valid: fp16, fp8, int8, int4, kivi-2, kivi-4, gear-4, gear-8, streamingllm, h2o, snapkv, pyramidkv, ratio:<x>, ratio:<x>:eviction"},
      {"weights too big", "run --set model=llama-2-70b --set gpu=a100-40gb", 2,
       "kvsim run: error: <builtin default>: model llama-2-70b weights (128.48 GiB) do not fit in a100-40gb memory budget (36.00 GiB)"},
      {"unknown router", "run --set 'cluster={router: fastest, replicas: [{count: 2}]}'", 2,
       "kvsim run: error: <builtin default>:1: cluster.router: unknown router 'fastest'; valid: round_robin, least_outstanding, least_kv, compression_aware"},
      {"prefill without decode", "run --set 'cluster={replicas: [{role: prefill}]}'", 2,
       "kvsim run: error: <builtin default>:1: cluster.replicas: disaggregated serving needs at least one decode group (roles: prefill groups hand requests to decode groups)"},
      {"tensor does not divide", "run --set parallelism.tensor=3", 2,
       "kvsim run: error: <builtin default>: parallelism: tensor 3 does not divide llama-3-8b's 32 attention heads\n<builtin default>: parallelism: tensor 3 does not divide llama-3-8b's intermediate size 14336\n<builtin default>: parallelism: tensor 3 and llama-3-8b's 8 KV heads: one must divide the other"},
      {"step tensor does not divide", "step --model llama-3-8b --gpu h200 --batch 1 --context 1 --phase decode --tensor 3", 2,
       "kvsim step: error: --tensor/--pipeline: tensor 3 does not divide llama-3-8b's 32 attention heads; tensor 3 does not divide llama-3-8b's intermediate size 14336; tensor 3 and llama-3-8b's 8 KV heads: one must divide the other"},
      {"set index past the end", "run --set 'cluster={replicas: [{count: 1}]}' --set cluster.replicas.4.count=2", 2,
       "kvsim run: error: --set cluster.replicas.4.count=2: '4' is not an index of that list (it has 1 entry)"},
      {"validate without measurements", "validate", 2,
       "kvsim validate: error: --measured is required"},
      {"validate negative threshold", "validate --measured x.csv --max-mape -1", 2,
       "kvsim validate: error: --max-mape must be >= 0 (a fraction: 0.15 is 15 %)"},
      {"validate missing file", "validate --measured /nonexistent.csv", 2,
       "kvsim validate: error: /nonexistent.csv: cannot open file"},
      {"vidur without profiles", "run --set cost_model.kind=vidur", 2,
       "kvsim run: error: <builtin default>: cost_model.profiles: required when kind is 'vidur' (a directory with Vidur's mlp.csv and attention.csv)"},
      {"missing config.json", "run --set model=/nonexistent/config.json", 2,
       "kvsim run: error: <builtin default>:1: model: /nonexistent/config.json: cannot open model config"},
      {"unknown attention kind", "run --set cost_model.attention=dense", 2,
       "kvsim run: error: <builtin default>:1: cost_model.attention: must be 'varlen' (per-sequence kernels) or 'batch_masked' (got 'dense')"},
  };
  for (const auto& c : cases) {
    const Result r = kvsim(c.args);
    EXPECT_EQ(r.code, c.code) << c.name << "\n" << r.err;
    // The whole message, exactly ({TMP} stands for the test's temporary directory).
    std::string want = c.message;
    for (std::size_t at; (at = want.find("{TMP}")) != std::string::npos;) want.replace(at, 5, ::kvsim::testing::scratch());
    std::string got = r.err;
    while (!got.empty() && got.back() == '\n') got.pop_back();
    EXPECT_EQ(got, want) << c.name;
    EXPECT_TRUE(r.out.empty() || c.code == 0) << c.name << ": nothing on stdout for an error";
  }
}

// `kvsim list engines NAME` prints the profile with a source for every rule; the host model's
// terms with theirs.
TEST(Cli, ListEngineProfilesWithSources) {
  for (const char* e : {"vllm-v1", "sglang", "lmdeploy-0.6-study", "hf-cb"}) {
    const Result r = kvsim(std::string("list engines ") + e);
    EXPECT_EQ(r.code, 0) << e << r.err;
    EXPECT_EQ(r.out.rfind(std::string(e) + ": ", 0), 0u) << r.out;
    for (const char* part : {"  rules\n", "  host model ", "[cited: ", "priced as"}) {
      if (std::string(e) == "hf-cb" && std::string(part) == "[cited: ") continue;  // HF's rules are measured
      EXPECT_NE(r.out.find(part), std::string::npos) << e << " lacks '" << part << "'";
    }
  }
  EXPECT_NE(kvsim("list engines hf-cb").out.find("[measured: calibration/e2e/results/h200/hf_cb/meta.json"),
            std::string::npos);
  const Result o = kvsim("list overheads lmdeploy-0.6-eager");
  EXPECT_EQ(o.code, 0);
  EXPECT_NE(o.out.find("[assumed: "), std::string::npos);
  EXPECT_NE(o.out.find("[measured: "), std::string::npos);
  const Result bad = kvsim("list engines vllm-v9");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("unknown engine 'vllm-v9'"), std::string::npos) << bad.err;
  EXPECT_EQ(kvsim("list models extra").code, 2);
}

// fp16 vs KIVI-4 vs H2O on a memory-bound offline batch: compression raises the KV
// capacity in tokens (KIVI: more tokens per byte; H2O: fewer tokens per request), so more
// requests run at once and fewer are preempted. Summaries are golden files too.
TEST(Golden, CompressionOnAMemoryBoundWorkload) {
  std::map<std::string, nlohmann::json> r;
  for (const char* m : {"fp16", "kivi-4", "h2o"}) {
    const std::string base = "run -c " + src("experiments/examples/memory_bound.yaml") + " --set compression=" + m;
    const Result text = kvsim(base);
    ASSERT_EQ(text.code, 0) << text.err;
    // The first line names the scenario file by its path, which depends on the checkout.
    const std::string body = text.out.substr(text.out.find('\n') + 1);
    const std::string golden = src(std::string("tests/golden/expected/memory_bound_") + m + ".txt");
    if (std::getenv("KVSIM_UPDATE_GOLDEN")) std::ofstream(golden) << body;
    EXPECT_EQ(body, read(golden)) << m << ": regenerate with KVSIM_UPDATE_GOLDEN=1 if intended";
    r[m] = nlohmann::json::parse(kvsim(base + " --format json").out);
  }
  auto cap = [&](const char* m) { return r[m]["context"]["kv_capacity"]["kv_tokens"].get<double>(); };
  auto sum = [&](const char* m) { return r[m]["summary"]; };
  EXPECT_GT(cap("kivi-4"), 2.0 * cap("fp16"));
  EXPECT_GT(sum("h2o")["compression"]["achieved_ratio"].get<double>(), 2.0);  // tokens per page
  for (const char* m : {"kivi-4", "h2o"}) {
    EXPECT_GT(sum(m)["batch_size"]["mean"].get<double>(), 1.2 * sum("fp16")["batch_size"]["mean"].get<double>()) << m;
    EXPECT_GT(sum(m)["batch_size"]["max"].get<double>(), 1.5 * sum("fp16")["batch_size"]["max"].get<double>()) << m;
    EXPECT_LT(sum(m)["preemptions"]["recompute"].get<double>(), sum("fp16")["preemptions"]["recompute"].get<double>()) << m;
  }
  // ... and they make answers longer (the study's second finding).
  EXPECT_GT(sum("kivi-4")["compression"]["output_length_ratio"].get<double>(), 1.2);
}

TEST(Cli, AllErrorsOfAScenarioAreReportedAtOnce) {
  const Result r = kvsim("run --set engine.max_num_seq=4 --set workload.arrival.rate_per_s=-1 --set run.horizon=5");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("max_num_seq"), std::string::npos);
  EXPECT_NE(r.err.find("rate_per_s"), std::string::npos);
  EXPECT_NE(r.err.find("run.horizon: unknown key (did you mean 'horizon_s'?)"), std::string::npos) << r.err;
}

}  // namespace
