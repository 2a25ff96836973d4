// Issue #16 items 1 and 2: every numeric scenario key has a documented range, and the range and
// the behaviour agree: values at (or next to) both ends load (and the cheap ones run), values just
// outside are refused with "KEY: must be RANGE (got V)", and docs/reliability.md lists each key
// with the same range text (the table is checked against this one, so the two cannot drift).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "../support/run_helpers.h"

namespace kvsim {
namespace {

struct RangeCase {
  std::string key;    // --set path
  std::string range;  // as the message and docs/reliability.md print it
  std::vector<std::string> ok;   // in range: must load
  std::vector<std::string> bad;  // just outside: refused with the range
  bool run = true;    // run the ok values on a 2-request workload
  std::vector<std::string> extra = {};  // overrides the key needs to be meaningful
};

const std::vector<RangeCase>& cases() {
  static const std::vector<RangeCase> c = {
      {"cost_model.compute_efficiency", "in (0, 1]", {"1e-3", "1"}, {"0", "1.001"}},
      {"cost_model.memory_efficiency", "in (0, 1]", {"1e-3", "1"}, {"0", "1.001"}},
      {"cost_model.attention_compute_efficiency", "in (0, 1]", {"1e-3", "1"}, {"0", "1.001"}},
      {"cost_model.kernel_gap_us", "in [0, 1000] us", {"0", "1000"}, {"-1e-3", "1000.1"}},
      {"cost_model.kernels_per_layer", "in [0, 1000]", {"0", "1000"}, {"-1", "1001"}},
      {"cost_model.extra_kernel_us", "in [0, 1000] us", {"0", "1000"}, {"-1e-3", "1000.1"}},
      {"cost_model.masked_fixed_us", "in [0, 10000] us", {"0", "10000"}, {"-1", "10001"}, true, {"cost_model.attention=batch_masked"}},
      {"cost_model.masked_ns_per_kv", "in [0, 10000] ns", {"0", "10000"}, {"-1", "10001"}, true, {"cost_model.attention=batch_masked"}},
      {"cost_model.masked_ps_per_pair", "in [0, 100000] ps", {"0", "100000"}, {"-1", "100001"}, true, {"cost_model.attention=batch_masked"}},
      {"cost_model.window_path_fixed_us", "in [0, 10000] us", {"0", "10000"}, {"-1", "10001"}, true, {"cost_model.attention=batch_masked"}},
      {"cost_model.window_path_ns_per_kv", "in [0, 10000] ns", {"0", "10000"}, {"-1", "10001"}, true, {"cost_model.attention=batch_masked"}},
      {"cost_model.decode_max_splits", "in [1, 1024]", {"1", "1024"}, {"0", "1025"}},
      {"run.horizon_s", "in (0, 1e9] s (the simulated-time limit)", {"1e-6", "1e9"}, {"0", "1.1e9"}},
      {"run.sample_interval_s", "in [0, 1e9] s", {"0", "0.001", "1e9"}, {"-1", "2e9"}},
      {"run.livelock_steps", "in [1, 1e9] steps", {"1000", "1000000000"}, {"0", "1000000001"}},
      {"run.deep_check_every", "in [0, 1e12] events (0 disables deep checks)", {"0", "1"}, {"-1", "1000000000001"}},
      {"run.max_trace_events", "in [0, 1e9] events", {"0", "1000000000"}, {"-1", "1000000001"}},
      {"run.max_events", "in [1, 1e12] events", {"1000000", "1000000000000"}, {"0", "1000000000001"}},
      {"run.goodput_ttft_s", "in [0, 1e9] s (0: no limit)", {"0", "1e9"}, {"-1", "1.1e9"}},
      {"engine.block_size", "in [1, 65536] tokens", {"1", "65536"}, {"0", "65537"}, false},
      // Batch caps near their upper ends load only where the activations they imply fit in the
      // GPU's memory; beyond that the memory check refuses them with its own message.
      {"engine.max_num_seqs", "in [1, 1e6] sequences", {"1", "8192"}, {"0", "1000001"}, true,
       {"engine.max_num_batched_tokens=8192"}},
      {"engine.max_num_batched_tokens", "in [1, 1e8] tokens", {"1", "65536"}, {"0", "100000001"}, true, {"engine.max_num_seqs=1"}},
      {"engine.max_model_len", "in [0, 1e8] tokens (0: the model's context)", {"0", "4096"}, {"-1", "100000001"}},
      {"engine.gpu_memory_utilization", "in (0, 1]", {"0.5", "1"}, {"0", "1.001"}},
      {"engine.watermark", "in [0, 1)", {"0", "0.5"}, {"-0.1", "1"}},
      {"engine.swap_space_gib", "in [0, 100000] GiB", {"0", "100000"}, {"-1", "100001"}, true, {"engine.preset=vllm-v0"}},
      {"engine.num_gpu_blocks", "in [1, 1e9] blocks", {"64", "1000000000"}, {"0", "1000000001"}, false},
      {"engine.overhead.per_step_ms", "in [0, 1e6] ms (1000 s)", {"0", "1000000"}, {"-1", "1000001"}, false},
      {"engine.overhead.per_request_us", "in [0, 1e9] us (1000 s)", {"0", "1000000000"}, {"-1", "1000000001"}, false},
      {"workload.num_requests", "in [1, 1e10] requests", {"1"}, {"0", "10000000001"}},
      {"workload.max_tokens", "in [0, 1e8] tokens (0 = no cap)", {"0", "100000000"}, {"-1", "100000001"}},
      {"workload.arrival.rate_per_s", "in (0, 1e9] requests/s", {"1e-3", "1e9"}, {"0", "1.1e9"}},
      {"workload.prompt_tokens.value", "in [1, 1e8] tokens", {"1", "4096"}, {"0", "100000001"}, true,
       {"workload.prompt_tokens.kind=fixed"}},
      {"compression.method.key_bits", "in (0, 16] bits", {"0.5", "16"}, {"0", "16.5"}, true, {"compression.method.method=int4"}},
      {"compression.method.budget_tokens", "in [0, 1e8] tokens", {"1", "100000000"}, {"-1", "100000001"}, true,
       {"compression.method.method=h2o"}},
      {"compression.method.attention_efficiency", "in (0, 1]", {"0.01", "1"}, {"0", "1.5"}, true, {"compression.method.method=h2o"}},
      {"parallelism.tensor", "in [1, 64] GPUs", {"1", "8"}, {"0", "65"}},
      {"parallelism.comm_overlap", "in [0, 1]", {"0", "1"}, {"-0.1", "1.1"}, true, {"parallelism.tensor=2"}},
      {"cluster.kv_transfer.link_gbps", "in [1e-6, 100000] GB/s", {"1e-6", "100000"}, {"1e-7", "100001"}, true,
       {"cluster.replicas=[{count: 1, role: prefill}, {count: 1, role: decode}]"}},
  };
  return c;
}

const std::string kTiny = "workload: {num_requests: 2, arrival: {kind: poisson, rate_per_s: 5}, prompt_tokens: {kind: fixed, value: 16}, output_tokens: {kind: fixed, value: 2}}\n";

std::vector<std::string> overrides(const RangeCase& c, const std::string& v) {
  std::vector<std::string> o = c.extra;
  o.push_back(c.key + "=" + v);
  return o;
}

TEST(DocumentedRanges, BothEndsLoadAndJustOutsideIsRefusedWithTheRange) {
  for (const RangeCase& c : cases()) {
    for (const std::string& v : c.ok) {
      SCOPED_TRACE(c.key + "=" + v);
      try {
        const Scenario s = testing::scenario(kTiny, overrides(c, v));
        if (c.run) {
          const auto o = testing::run(s);
          const auto& r = o.report["summary"]["requests"];
          EXPECT_EQ(r["arrived"].get<int>(), r["finished"].get<int>() + r["rejected"].get<int>() + r["unfinished"].get<int>());
        }
      } catch (const InputError& e) {
        ADD_FAILURE() << "in its documented range, refused: " << e.what();
      }
    }
    for (const std::string& v : c.bad) {
      SCOPED_TRACE(c.key + "=" + v);
      try {
        testing::scenario(kTiny, overrides(c, v));
        ADD_FAILURE() << "outside its documented range, accepted";
      } catch (const InputError& e) {
        const std::string want = c.key + ": must be " + c.range + " (got ";
        EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what() << "\nwanted: " << want;
      }
    }
  }
}

TEST(DocumentedRanges, ReliabilityDocListsEveryKeyWithItsRange) {
  std::ifstream in(std::string(KVSIM_SOURCE_DIR) + "/docs/reliability.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  for (const RangeCase& c : cases()) {
    const std::string row = "| `" + c.key + "` | " + c.range.substr(3) + " |";  // drop "in "
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/reliability.md lacks the row " << row;
  }
}

}  // namespace
}  // namespace kvsim
