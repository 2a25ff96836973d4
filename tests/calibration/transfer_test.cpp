// Cross-GPU transfer: the public-profile importer, the efficiency fit, GPU matching, and the
// leave-one-GPU-out numbers of the shipped data (docs/calibration.md, "Cross-GPU transfer").
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "calibration/transfer/efficiency_fit.h"
#include "calibration/transfer/gpu_match.h"
#include "calibration/transfer/placeholder_check.h"
#include "calibration/transfer/profile_import.h"
#include "calibration/transfer/transfer_bundle.h"
#include "calibration/transfer/transfer_model.h"
#include "models/spec/catalog.h"
#include "sim/core/error.h"

namespace kvsim {
namespace {

const std::string kFixtures = std::string(KVSIM_SOURCE_DIR) + "/tests/calibration/fixtures/profiles/";

ProfileImport fixture_import(const std::string& file) {
  ProfileImport in;
  in.project = "Vidur";
  in.repository = "microsoft/vidur";
  in.commit = "7d47513363ec447a741ac5e47241580b47724fbf";
  in.repo_path = "data/profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv";
  in.file = kFixtures + file;
  in.model = "llama-2-7b";
  in.layers = 32;
  return in;
}

const BundleTable& table(const ImportedBundle& b, const std::string& family) { return b.bundle.tables.at(family); }

// The row of `op` at `m` tokens in an imported gemm table.
std::size_t gemm_row(const BundleTable& t, const std::string& op, double m) {
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    if (t.str(r, "op") == op && t.num(r, "m") == m) return r;
  }
  ADD_FAILURE() << "no " << op << " row at m=" << m;
  return 0;
}

TEST(ProfileImport, MlpShardsUnitsMergesAndDrops) {
  const Catalog cat = Catalog::builtin();
  const auto bundles = import_mlp_profile(fixture_import("mlp_small.csv"), cat.gpu("a100-80gb"));
  ASSERT_EQ(bundles.size(), 2u);
  const ImportedBundle& tp1 = bundles[0];
  const ImportedBundle& tp2 = bundles[1];
  EXPECT_EQ(tp1.name, "llama-2-7b");
  EXPECT_EQ(tp2.name, "llama-2-7b-tp2");
  // Per-shard GEMM shapes: qkv (q + 2 kv heads) x head_dim outputs, gate_up 2 x ffn / tp.
  const BundleTable& g1 = table(tp1, "gemm");
  const BundleTable& g2 = table(tp2, "gemm");
  const std::size_t q1 = gemm_row(g1, "qkv", 1), q2 = gemm_row(g2, "qkv", 512);
  EXPECT_EQ(g1.num(q1, "n"), 12288);
  EXPECT_EQ(g1.num(q1, "k"), 4096);
  EXPECT_EQ(g2.num(q2, "n"), 6144);
  EXPECT_EQ(g2.num(gemm_row(g2, "gate_up", 512), "n"), 11008);
  EXPECT_EQ(g2.num(gemm_row(g2, "down", 512), "k"), 5504);
  // ms -> us; three rows of one workload merge into their median (0.39, 0.40, 0.45 ms).
  EXPECT_DOUBLE_EQ(g1.num(q1, "time_us_median"), 65.0);
  const std::size_t up = gemm_row(g1, "gate_up", 512);
  EXPECT_DOUBLE_EQ(g1.num(up, "time_us_median"), 400.0);
  EXPECT_EQ(g1.num(up, "rows_merged"), 3);
  // The 2048-token qkv row claims 206 GFLOP in 1 us: dropped, and said so in meta.json.
  for (std::size_t r = 0; r < g1.rows.size(); ++r) EXPECT_FALSE(g1.str(r, "op") == "qkv" && g1.num(r, "m") == 2048);
  ASSERT_EQ(tp1.notes.size(), 1u);
  EXPECT_EQ(tp1.notes[0].substr(0, 61), "gemm: 1 of 20 rows claim more than a100-80gb's datasheet peak");
  EXPECT_NE(tp1.notes[0].find(": rows dropped"), std::string::npos);
  // Token-wise widths per shard, and provenance.
  const BundleTable& e2 = table(tp2, "elementwise");
  for (std::size_t r = 0; r < e2.rows.size(); ++r) {
    if (e2.str(r, "op") == "rotary") {
      EXPECT_EQ(e2.num(r, "width"), 4096);  // (16 + 16) heads x 128
    }
    if (e2.str(r, "op") == "silu_mul") {
      EXPECT_EQ(e2.num(r, "width"), 5504);
    }
  }
  const auto& meta = tp2.bundle.meta;
  EXPECT_EQ(meta["catalog_gpu"], "a100-80gb");
  EXPECT_EQ(meta["model_shape"]["tp"], 2);
  EXPECT_EQ(meta["model_shape"]["num_q_heads"], 16);
  EXPECT_EQ(meta["sources"][0]["repository"], "microsoft/vidur");
  EXPECT_EQ(meta["sources"][0]["commit"], "7d47513363ec447a741ac5e47241580b47724fbf");
  EXPECT_EQ(meta["implementation"]["gemm"], "vidur-pytorch");
}

TEST(ProfileImport, AttentionPhasesAndWholeRunRejection) {
  const Catalog cat = Catalog::builtin();
  ProfileImport in = fixture_import("attention_good.csv");
  in.ffn = 11008;
  in.vocab = 32000;
  const auto good = import_attention_profile(in, cat.gpu("a800-80gb"));
  ASSERT_EQ(good.size(), 1u);
  const BundleTable& dec = table(good[0], "decode_attention");
  EXPECT_EQ(dec.rows.size(), 4u);
  EXPECT_EQ(good[0].bundle.meta["implementation"]["decode_attention"], "flashinfer");
  const BundleTable& pre = table(good[0], "prefill_attention");
  ASSERT_EQ(pre.rows.size(), 1u);  // the batch-2 prefill row is skipped
  EXPECT_DOUBLE_EQ(pre.num(0, "time_us_median"), 100.0);
  EXPECT_EQ(good[0].notes.at(0), "prefill_attention: 1 rows with batch_size > 1 skipped (kvsim's table is per sequence)");

  in.file = kFixtures + "attention_bad_decode.csv";
  const auto bad = import_attention_profile(in, cat.gpu("a100-80gb"));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_TRUE(bad[0].bundle.tables.empty());
  ASSERT_EQ(bad[0].notes.size(), 3u);
  EXPECT_EQ(bad[0].notes[1].substr(0, 81),
            "decode_attention: 9 of 10 rows claim more than a100-80gb's datasheet peak (up to ");
  EXPECT_NE(bad[0].notes[1].find(": table rejected"), std::string::npos);
  EXPECT_EQ(bad[0].notes[2],
            "prefill_attention: rejected with the other phase (one profiler run; its times cannot be trusted)");
}

TEST(ProfileImport, MalformedFilesNameFileLineAndColumn) {
  const Catalog cat = Catalog::builtin();
  const GpuSpec& gpu = cat.gpu("a100-80gb");
  const struct {
    std::string file;
    std::string message;
  } cases[] = {
      {"mlp_missing_column.csv", kFixtures + "mlp_missing_column.csv:1: missing required column 'num_tokens'"},
      {"mlp_bad_tokens.csv",
       kFixtures + "mlp_bad_tokens.csv:3: column 'num_tokens' must be a number (got 'x')"},
      {"no_such_file.csv", ""},
  };
  for (const auto& c : cases) {
    try {
      import_mlp_profile(fixture_import(c.file), gpu);
      ADD_FAILURE() << c.file << " was accepted";
    } catch (const InputError& e) {
      if (!c.message.empty()) {
        EXPECT_EQ(std::string(e.what()), c.message);
      } else {
        EXPECT_NE(std::string(e.what()).find("no_such_file.csv"), std::string::npos) << e.what();
      }
    }
  }
  ProfileImport no_layers = fixture_import("mlp_small.csv");
  no_layers.layers = 0;
  EXPECT_THROW(import_mlp_profile(no_layers, gpu), InputError);
  ProfileImport attn = fixture_import("attention_good.csv");
  try {
    import_attention_profile(attn, gpu);
    ADD_FAILURE() << "attention profile without ffn/vocab accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), kFixtures + "attention_good.csv: an attention profile names no layer count, FFN "
                                                 "width or vocabulary; give all three");
  }
}

TEST(ProfileImport, NetworkRowsWithinOneNodeBecomeNcclTables) {
  const Catalog cat = Catalog::builtin();
  ProfileImport in = fixture_import("network_small.csv");
  in.repo_path = "data/profiling/network/a100_dgx/all_reduce.csv";
  const auto tables = import_network_profile(in, cat.gpu("a100-80gb"));
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0].machine, "a100-80gb-x2");
  EXPECT_EQ(tables[0].file, "allreduce.csv");
  // Three intra-node rows of one size merge into their median (0.05 ms); the row across two
  // nodes (devices_per_node 1) is skipped and said so.
  EXPECT_EQ(tables[0].csv, "gpus,bytes,time_us_median,rows_merged\n2,1.04858e+06,50,3\n");
  EXPECT_EQ(tables[0].meta["import_notes"][0], "1 rows across nodes skipped (kvsim's tables are one node)");
  EXPECT_EQ(tables[0].meta["implementation"], "vidur-torch-distributed");
  EXPECT_EQ(tables[1].machine, "a100-80gb-x4");
}

TEST(EfficiencyFit, RecoversKnownCoefficients) {
  // Synthetic GEMM-like samples from t = 3 + max(F / (peak * 0.6), B / (bw * 0.8)).
  const GpuPeaks g{989.4e6, 4800e3};
  const EfficiencyParams truth{3.0, 0.6, 0.8};
  std::vector<OpSample> samples;
  for (double m = 1; m <= 16384; m *= 2) {
    for (const double nk : {4096.0, 11008.0, 28672.0}) {
      OpSample s;
      s.flops = 2 * m * nk * 4096;
      s.bytes = 2 * (m * 4096 + nk * 4096 + m * nk);
      s.time_us = efficiency_time_us(truth, g, s.flops, s.bytes);
      samples.push_back(s);
    }
  }
  std::vector<const OpSample*> ptrs;
  for (const auto& s : samples) ptrs.push_back(&s);
  const EfficiencyParams fit = fit_efficiency(ptrs, g);
  EXPECT_NEAR(fit.floor_us, 3.0, 0.06);
  EXPECT_NEAR(fit.compute_eff, 0.6, 0.006);
  EXPECT_NEAR(fit.memory_eff, 0.8, 0.008);
  EXPECT_LT(fit.rms_log_error, 0.005);
  EXPECT_TRUE(fit.uses_compute && fit.uses_memory);
}

TEST(GpuMatch, SameChipThenArchitectureThenMemoryFamily) {
  const Catalog cat = Catalog::builtin();
  std::vector<GpuSpec> measured;
  for (const char* g : {"a100-80gb", "a40", "a800-80gb", "h100-sxm", "h200"}) measured.push_back(cat.gpu(g));
  const struct {
    const char* target;
    const char* first;
    const char* reason;
  } cases[] = {
      {"rtx-a6000", "a40", "same chip GA102"},       {"a100-40gb", "a100-80gb", "same chip GA100"},
      {"h100-pcie", "h100-sxm", "same chip GH100"},  {"h800", "h100-sxm", "same chip GH100"},
      {"h200", "h100-sxm", "same chip GH100"},       {"a40", "a100-80gb", "same architecture ampere"},
      {"l40s", "a40", "same memory family GDDR"},    {"b200", "h200", "same memory family HBM"},
  };
  for (const auto& c : cases) {
    const auto ranked = rank_sources(cat.gpu(c.target), measured);
    ASSERT_FALSE(ranked.empty());
    EXPECT_EQ(ranked.front().name, c.first) << c.target;
    EXPECT_EQ(match_reason(cat.gpu(c.target), ranked.front()), c.reason) << c.target;
    for (const auto& r : ranked) EXPECT_NE(r.name, c.target);
  }
}

TEST(CatalogDatasheets, DenseFp16WithFp32AccumulateAndTransferKeys) {
  const Catalog cat = Catalog::builtin();
  const std::map<std::string, double> dense = {{"a100-80gb", 312.0}, {"a800-80gb", 312.0}, {"a40", 149.7},
                                               {"rtx-a6000", 154.8}, {"h100-sxm", 989.4},  {"h200", 989.4},
                                               {"h800", 989.4}};
  for (const auto& [name, tflops] : dense) EXPECT_DOUBLE_EQ(cat.gpu(name).fp16_tflops, tflops) << name;
  for (const auto& [name, g] : cat.gpus()) {
    EXPECT_FALSE(g.architecture.empty()) << name;
    EXPECT_FALSE(g.chip.empty()) << name;
    EXPECT_FALSE(g.memory_type.empty()) << name;
    EXPECT_GT(g.boost_clock_mhz, 0) << name;
  }
}

// Every pinned error is computed and within 0.15 points of its pin (docs/calibration.md's tables).
void expect_pinned(const std::map<std::string, double>& got, const std::map<std::string, double>& pinned) {
  for (const auto& [key, want] : pinned) {
    ASSERT_TRUE(got.count(key)) << key;
    EXPECT_NEAR(got.at(key), want, 0.0015) << key;
  }
}

// The shipped data (calibration/data): the leave-one-GPU-out numbers docs/calibration.md quotes.
class ShippedTransfer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    catalog_ = new Catalog(Catalog::builtin());
    model_ = new TransferModel(*catalog_,
                               load_measured_sets({std::string(KVSIM_SOURCE_DIR) + "/calibration/data"}, *catalog_));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete catalog_;
  }
  static Catalog* catalog_;
  static TransferModel* model_;
};
Catalog* ShippedTransfer::catalog_ = nullptr;
TransferModel* ShippedTransfer::model_ = nullptr;

TEST_F(ShippedTransfer, LeaveOneGpuOutOperatorErrorsArePinned) {
  std::map<std::string, double> mape;
  std::map<std::string, std::string> source;
  for (const LooRow& r : leave_one_out_ops(*model_)) {
    mape[r.gpu + " " + r.impl + " " + r.cls] = r.mape;
    source[r.gpu + " " + r.impl + " " + r.cls] = r.source;
  }
  // Recomputed from the shipped bundles; docs/calibration.md's table is this output.
  const std::map<std::string, double> pinned = {
      {"a100-80gb vidur-pytorch gemm", 0.097},
      {"a40 vidur-pytorch gemm", 0.103},
      {"a800-80gb vidur-pytorch gemm", 0.103},
      {"h100-sxm vidur-pytorch gemm", 0.133},
      {"a800-80gb flashinfer/fp16 decode_attention", 0.863},
      {"h100-sxm flashinfer/fp16 decode_attention", 0.365},
      {"a100-80gb vidur-torch-distributed/allreduce collective", 0.273},
      {"h100-sxm vidur-torch-distributed/allreduce collective", 0.385},
      // kvsim's own kernels on two GPUs (H200: four shapes; H100 SXM: Llama-2-7B, 2026-12-07).
      {"h100-sxm kvsim-calibrate gemm", 0.043},
      {"h100-sxm kvsim-calibrate/fp16 decode_attention", 0.040},
      {"h100-sxm kvsim-calibrate/flash prefill_attention", 0.016},
      {"h100-sxm kvsim-calibrate/int4 decode_attention (compressed KV)", 0.388},
      {"h100-sxm kvsim-calibrate/int4/unfused decode_attention (compressed KV)", 0.073},
      {"h100-sxm kvsim-calibrate/rmsnorm elementwise", 0.118},
      {"h100-sxm kvsim-calibrate/h2o_topk compression", 0.308},
      {"h200 kvsim-calibrate gemm", 0.051},
      {"h200 kvsim-calibrate/fp16 decode_attention", 0.273},
  };
  ASSERT_NO_FATAL_FAILURE(expect_pinned(mape, pinned));
  EXPECT_EQ(source["a40 vidur-pytorch gemm"], "a100-80gb");
  EXPECT_EQ(source["a800-80gb vidur-pytorch gemm"], "a100-80gb");
}

TEST_F(ShippedTransfer, RooflinePlaceholderErrorsArePinned) {
  // The ranges the run report quotes when the roofline prices a shard (run_report.cpp).
  std::map<std::string, double> mape;
  for (const PlaceholderRow& r : roofline_placeholder_errors(*model_, RooflineParams{})) {
    mape[r.gpu + " " + r.impl + " " + r.cls] = r.mape;
  }
  const std::map<std::string, double> pinned = {
      {"a100-80gb vidur-pytorch gemm", 0.110},         {"h100-sxm vidur-pytorch gemm", 0.181},
      {"a800-80gb flashinfer decode_attention", 0.092}, {"h100-sxm flashinfer decode_attention", 0.572},
      {"a800-80gb flashinfer prefill_attention", 0.604}, {"h100-sxm flashinfer prefill_attention", 0.972},
      {"a40 vidur-pytorch elementwise", 0.184},         {"h200 kvsim-calibrate elementwise", 0.625},
      {"h100-sxm kvsim-calibrate gemm", 0.109},          {"h100-sxm kvsim-calibrate decode_attention", 0.149},
      {"h100-sxm kvsim-calibrate elementwise", 0.556},   {"h100-sxm kvsim-calibrate prefill_attention", 0.697},
  };
  ASSERT_NO_FATAL_FAILURE(expect_pinned(mape, pinned));
  double int2_lo = 1, int2_hi = 0, int4_lo = 1, int4_hi = 0, int8_lo = 1, int8_hi = 0;
  for (const RelativeDecodeRow& r : relative_decode_efficiency(*model_)) {
    auto widen = [&](double& lo, double& hi) { lo = std::min(lo, r.relative_efficiency), hi = std::max(hi, r.relative_efficiency); };
    if (r.format == "int2") widen(int2_lo, int2_hi);
    if (r.format == "int4") widen(int4_lo, int4_hi);
    if (r.format == "int8") widen(int8_lo, int8_hi);
  }
  // H200 (four shapes) and H100 (Llama-2-7B): the fused kernels reach a larger share of the
  // fp16 kernel's bandwidth on the H100 (int2 0.35, int4 0.57, int8 0.89 there).
  EXPECT_NEAR(int2_lo, 0.19, 0.005);
  EXPECT_NEAR(int2_hi, 0.35, 0.005);
  EXPECT_NEAR(int4_lo, 0.31, 0.005);
  EXPECT_NEAR(int4_hi, 0.57, 0.005);
  EXPECT_NEAR(int8_lo, 0.53, 0.005);
  EXPECT_NEAR(int8_hi, 0.89, 0.005);
}

TEST_F(ShippedTransfer, WholeStepErrorsArePinned) {
  std::map<std::string, double> mape;
  std::map<std::string, double> own_kernels;  // kvsim-calibrate steps, keyed without the impl
  for (const StepLooRow& r : leave_one_out_steps(*model_)) {
    (r.impl.find("kvsim-calibrate") != std::string::npos ? own_kernels : mape)[r.gpu + " " + r.shape + " " + r.phase] = r.mape;
  }
  // kvsim's own kernels, H100 SXM <-> H200 (the same Llama-2-7B grids measured on both).
  const std::map<std::string, double> own_pinned = {
      {"h100-sxm llama-2-7b decode", 0.031}, {"h100-sxm llama-2-7b prefill", 0.013},
      {"h200 llama-2-7b decode", 0.032},     {"h200 llama-2-7b prefill", 0.011},
      {"h200 llama-3-8b decode", 0.057},     {"h200 llama-3-70b-tp4 decode", 0.104},
  };
  ASSERT_NO_FATAL_FAILURE(expect_pinned(own_kernels, own_pinned));
  const std::map<std::string, double> pinned = {
      {"a40 llama-2-7b decode", 0.080},        {"a40 llama-2-7b prefill", 0.081},
      {"a100-80gb llama-3-8b decode", 0.059},  {"a100-80gb llama-3-8b prefill", 0.052},
      {"h100-sxm llama-2-7b decode", 0.127},   {"h100-sxm llama-2-7b prefill", 0.094},
      {"a800-80gb llama-2-7b prefill", 0.777},
  };
  ASSERT_NO_FATAL_FAILURE(expect_pinned(mape, pinned));
}

TEST_F(ShippedTransfer, BundleForAnUnmeasuredGpuNamesItsSources) {
  const auto t = transfer_bundle(*model_, catalog_->gpu("rtx-a6000"), "llama-2-7b");
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->all_measured);
  bool gemm_from_a40 = false;
  for (const auto& line : t->sources) {
    if (line.rfind("gemm qkv/fp16: from a40 (same chip GA102; vidur-pytorch; leave-one-out error of a40: ", 0) == 0) {
      gemm_from_a40 = true;
    }
  }
  EXPECT_TRUE(gemm_from_a40);
  // A transferred GEMM keeps the workload and scales the time: the A6000 has 768 / 696 of the
  // A40's bandwidth and 154.8 / 149.7 of its peak, so every row is faster, by at most those ratios.
  const auto& mine = t->bundle.tables.at("gemm");
  const MeasuredSet* a40 = nullptr;
  for (const auto& s : model_->sets()) {
    if (s.gpu == "a40" && s.shape.name == "llama-2-7b") a40 = &s;
  }
  ASSERT_NE(a40, nullptr);
  const auto& theirs = a40->bundle.tables.at("gemm");
  int compared = 0;
  for (std::size_t r = 0; r < mine.rows.size(); ++r) {
    for (std::size_t q = 0; q < theirs.rows.size(); ++q) {
      if (theirs.str(q, "op") != mine.str(r, "op") || theirs.str(q, "dtype") != mine.str(r, "dtype") ||
          theirs.num(q, "m") != mine.num(r, "m")) {
        continue;
      }
      const double ratio = mine.num(r, "time_us_median") / theirs.num(q, "time_us_median");
      EXPECT_LE(ratio, 1.0 + 1e-9);
      EXPECT_GE(ratio, 696.0 / 768.0 - 1e-9);
      ++compared;
    }
  }
  EXPECT_GT(compared, 500);
  EXPECT_FALSE(transfer_bundle(*model_, catalog_->gpu("h200"), "no-such-model").has_value());
}

}  // namespace
}  // namespace kvsim
