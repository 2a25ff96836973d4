// Calibration without a GPU: bundle parsing (malformed bundles name file and field),
// fitting synthetic data with known coefficients, cost-model selection and transfer.
#include "../support/scratch.h"
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/run_helpers.h"
#include "calibration/fit/bundle_overlay.h"
#include "calibration/fit/fitter.h"
#include "models/cost/table_cost_model.h"

namespace kvsim {
namespace {

namespace fs = std::filesystem;

// Known ground truth the synthetic bundle is generated from.
double gemm_truth(double m) { return 8.0 + 0.004 * m; }
double decode_truth(double b, double sum, double mx) { return 4.0 + 0.3 * b + 0.0009 * sum + 0.0002 * mx; }
double prefill_truth(double n, double p) { return 10.0 + 0.01 * n + 2e-6 * (n * p + n * (n + 1) / 2) + 0.001 * (n + p); }

std::string make_bundle(const std::string& name, const std::string& gpu = "NVIDIA H200",
                        const std::string& model = "llama-3-8b") {
  const fs::path dir = fs::path(::kvsim::testing::scratch()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "meta.json") << R"({"schema_version": 1, "gpu_name": ")" << gpu
                                   << R"(", "sm_count": 132, "memory_bytes": 150754820096, "date_utc": "2026-11-28T00:00:00Z",
      "driver_version": "test", "model_shape": {"name": ")" << model << R"("}})";
  std::ofstream g(dir / "gemm.csv");
  g.precision(15);
  g << "op,dtype,m,n,k,time_us_median,time_us_p10,time_us_p90,reps\n";
  for (const char* op : {"qkv", "o", "gate_up", "down", "lm_head"}) {
    for (int m : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}) {
      g << op << ",fp16," << m << ",4096,4096," << gemm_truth(m) << ",1,1,20\n";
    }
  }
  std::ofstream d(dir / "decode_attention.csv");
  d.precision(15);
  d << "kv_format,fused,batch,context_mean,context_max,time_us_median,reps\n";
  for (const char* f : {"fp16,1", "int4,1", "int4,0"}) {
    for (int b : {1, 2, 4, 8, 16, 32, 64, 128}) {
      for (int c : {128, 512, 2048, 8192}) {
        const double scale = std::string(f) == "int4,0" ? 1.5 : 1.0;
        d << f << "," << b << "," << c << "," << c << "," << scale * decode_truth(b, double(b) * c, c) << ",20\n";
      }
    }
  }
  std::ofstream p(dir / "prefill_attention.csv");
  p.precision(15);
  p << "variant,new_tokens,cached_tokens,time_us_median,reps\n";
  for (int n : {128, 512, 1024, 2048, 4096, 8192}) {
    for (int c : {0, 2048, 8192}) p << "flash," << n << "," << c << "," << prefill_truth(n, c) << ",20\n";
  }
  std::ofstream e(dir / "elementwise.csv");
  e.precision(15);
  e << "op,rows,width,time_us_median,reps\n";
  for (const char* op : {"rmsnorm", "rotary", "silu_mul", "residual_add", "softmax_sample"}) {
    for (int r : {1, 4, 16, 64, 256, 1024, 4096, 16384}) e << op << "," << r << ",4096," << 2.0 + 0.001 * r << ",20\n";
  }
  std::ofstream q(dir / "compression.csv");
  q << "op,format,tokens,context,time_us_median,reps\n";
  for (int t : {1, 4, 16, 64, 256, 1024, 4096}) q << "quant_write,int4," << t << ",0," << 1.0 + 0.01 * t << ",20\n";
  std::ofstream l(dir / "launch.csv");
  l << "mode,kernels,time_us_median,reps\ngraph_device_events,1000,2100,20\neager_device_events,1000,5000,20\n";
  return dir.string();
}

TEST(CalibrationFit, RecoversKnownCoefficientsAndReportsHeldOutError) {
  const CalibratedCosts c = fit_bundle(load_bundle(make_bundle("synthetic")));
  EXPECT_EQ(c.catalog_gpu, "h200");
  EXPECT_EQ(c.model_shape, "llama-3-8b");
  // Interpolation between grid points and roofline-shaped extrapolation beyond them.
  EXPECT_NEAR(c.gemm.at("qkv/fp16").eval(100), gemm_truth(100), 0.02 * gemm_truth(100));
  EXPECT_NEAR(c.gemm.at("qkv/fp16").eval(8192), gemm_truth(4096) * 2, 1e-6);  // linear beyond the grid
  EXPECT_NEAR(c.gemm.at("qkv/fp16").eval(0.5), gemm_truth(1), 1e-9);          // flat below it
  // Grid points are reproduced exactly; between them log-log interpolation of these smooth
  // truths stays within a few percent; beyond them the fallback fit (exact for this linear
  // truth) takes over, anchored at the grid's edge.
  const Grid2D& g = c.decode.at("fp16/fused");
  EXPECT_NEAR(g.eval(8, 2048), decode_truth(8, 8 * 2048, 2048), 1e-9);
  EXPECT_NEAR(g.eval(12, 1000), decode_truth(12, 12 * 1000, 1000), 0.05 * decode_truth(12, 12000, 1000));
  EXPECT_NEAR(c.decode.at("int4/unfused").eval(8, 1000), 1.5 * decode_truth(8, 8000, 1000), 0.05 * 1.5 * decode_truth(8, 8000, 1000));
  EXPECT_NEAR(g.eval(512, 16384), decode_truth(512, 512 * 16384.0, 16384), 0.01 * decode_truth(512, 512 * 16384.0, 16384));
  const double pf = prefill_truth(3000, 1000);
  EXPECT_NEAR(c.prefill.at("flash").eval(3000, 1001), pf, 0.10 * pf);
  EXPECT_NEAR(c.prefill.at("flash").eval(2048, 2049), prefill_truth(2048, 2048), 1e-9);
  EXPECT_DOUBLE_EQ(c.graph_us_per_kernel, 2.1);
  for (const auto& q : c.quality) {
    EXPECT_GT(q.points, 0) << q.op;
    // Interpolated families: small held-out error on these smooth truths.
    EXPECT_LT(q.median_err, 0.15) << q.op;
  }
  const auto report = fit_report_json(c);
  EXPECT_LT(report["median_of_operator_medians"].get<double>(), 0.05);
}

TEST(CalibrationFit, RelativeLeastSquaresIsExactOnExactData) {
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (int i = 1; i <= 20; ++i) {
    X.push_back({1.0, double(i), 1e6 * i * i});
    y.push_back(3 + 2.0 * i + 1e-7 * 1e6 * i * i);
  }
  const auto b = fit_relative_ls(X, y);
  EXPECT_NEAR(b[0], 3, 1e-8);
  EXPECT_NEAR(b[1], 2, 1e-8);
  EXPECT_NEAR(b[2], 1e-7, 1e-14);
}

struct BadBundle {
  const char* name;
  std::function<void(const fs::path&)> damage;
  const char* message;
};

TEST(CalibrationBundle, MalformedBundlesNameFileLineAndField) {
  const BadBundle cases[] = {
      {"no_meta", [](const fs::path& d) { fs::remove(d / "meta.json"); }, "meta.json: missing"},
      {"meta_json", [](const fs::path& d) { std::ofstream(d / "meta.json") << "{not json"; }, "meta.json: invalid JSON"},
      {"meta_field",
       [](const fs::path& d) {
         std::ofstream(d / "meta.json") << R"({"schema_version": 1, "gpu_name": "x", "sm_count": 1, "memory_bytes": 1, "model_shape": {"name": "m"}})";
       },
       "meta.json: missing field 'date_utc'"},
      {"schema",
       [](const fs::path& d) {
         std::ofstream(d / "meta.json") << R"({"schema_version": 7, "gpu_name": "x", "sm_count": 1, "memory_bytes": 1, "date_utc": "", "model_shape": {"name": "m"}})";
       },
       "field 'schema_version' must be 1"},
      {"column", [](const fs::path& d) { std::ofstream(d / "gemm.csv") << "op,dtype,m,n,time_us_median\nqkv,fp16,1,2,3\n"; },
       "gemm.csv:1: missing required column 'k'"},
      {"number",
       [](const fs::path& d) { std::ofstream(d / "gemm.csv") << "op,dtype,m,n,k,time_us_median\nqkv,fp16,1,2,3,4\nqkv,fp16,x,2,3,4\n"; },
       "gemm.csv:3: field 'm' must be a number (got 'x')"},
      {"zero_time",
       [](const fs::path& d) { std::ofstream(d / "launch.csv") << "mode,kernels,time_us_median\ngraph,10,0\n"; },
       "launch.csv:2: field 'time_us_median' must be > 0"},
      {"short_row",
       [](const fs::path& d) { std::ofstream(d / "launch.csv") << "mode,kernels,time_us_median\ngraph,10\n"; },
       "launch.csv:2: expected 3 fields"},
      {"empty", [](const fs::path& d) { std::ofstream(d / "copy.csv") << "direction,bytes,time_us_median\n"; },
       "copy.csv: no measurements"},
  };
  for (const auto& c : cases) {
    const fs::path dir = make_bundle(std::string("bad_") + c.name);
    c.damage(dir);
    try {
      fit_bundle(load_bundle(dir.string()));
      ADD_FAILURE() << c.name << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.name << ": " << e.what();
    }
  }
  EXPECT_THROW(load_bundle("/nonexistent/bundle"), InputError);
}

TEST(CostModelSelection, ExplicitAutoTransferAndShapeMismatch) {
  const std::string dir = make_bundle("select");
  const std::string wl = "\nworkload: {num_requests: 20, arrival: {kind: all-at-once}}";
  // Explicit bundle, same GPU: calibrated.
  Scenario s = testing::scenario("cost_model: {calibration: " + dir + "}" + wl);
  ASSERT_TRUE(s.calibration.has_value());
  EXPECT_NE(make_cost_model(s)->describe().find("calibrated"), std::string::npos);
  // Installed bundle found by auto-selection (<root>/<gpu>/<model>).
  const fs::path root = fs::path(::kvsim::testing::scratch()) / "installed";
  fs::remove_all(root);
  fs::create_directories(root / "h200");
  fs::copy(dir, root / "h200" / "llama-3-8b", fs::copy_options::recursive);
  const Scenario autos = load_scenario_text(wl, "<t>", {}, std::nullopt, testing::catalog(), CalibrationSource(std::vector<std::string>{root.string()}));
  EXPECT_TRUE(autos.calibration.has_value());
  const Scenario pinned = load_scenario_text("cost_model: {kind: roofline}" + wl, "<t>", {}, std::nullopt,
                                             testing::catalog(), CalibrationSource(std::vector<std::string>{root.string()}));
  EXPECT_FALSE(pinned.calibration.has_value());
  // Same bundle for an H100: transfer mode, marked, and memory-bound decode attention
  // scaled by the bandwidth ratio (4.8 / 3.35 TB/s).
  const Scenario h100 = testing::scenario("gpu: h100-sxm\ncost_model: {calibration: " + dir + "}" + wl);
  const auto cm = make_cost_model(h100);
  EXPECT_NE(cm->describe().find("transfer: calibrated on h200, scaled to h100-sxm"), std::string::npos);
  BatchShape shape;
  shape.decode = {BatchShape::uniform_decode(32, 4096)};
  const double h100_ns = static_cast<double>(cm->step_cost(shape)[Op::kAttnDecode].ns);
  const double h200_ns = static_cast<double>(make_cost_model(s)->step_cost(shape)[Op::kAttnDecode].ns);
  EXPECT_NEAR(h100_ns / h200_ns, 4800.0 / 3350.0, 0.01);
  // A bundle for another model shape is refused with both names.
  try {
    testing::scenario("model: llama-2-7b\ncost_model: {calibration: " + dir + "}" + wl);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("measured for model shape 'llama-3-8b', scenario model is 'llama-2-7b'"),
              std::string::npos);
  }
}

TEST(TableCostModel, UsesMeasuredTimesAndFallsBackToRoofline) {
  const Scenario s = testing::scenario("cost_model: {calibration: " + make_bundle("table") +
                                       "}\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}");
  const auto cm = make_cost_model(s);
  BatchShape shape;
  shape.decode = {BatchShape::uniform_decode(16, 1000)};
  const StepCost c = cm->step_cost(shape);
  const int L = 32;
  EXPECT_NEAR(c[Op::kQkvProj].ns / 1e3, L * gemm_truth(16), 0.02 * L * gemm_truth(16));
  EXPECT_NEAR(c[Op::kAttnDecode].ns / 1e3, L * decode_truth(16, 16 * 1001, 1001), 0.03 * L * decode_truth(16, 16 * 1001, 1001));
  // 9 kernels per layer (the default, a fused engine) are all measured: only 3 step gaps remain.
  EXPECT_NEAR(c[Op::kKernelGaps].ns / 1e3, 3 * 2.1, 0.01);
  // Quantize-on-write comes from the bundle's quant_write/int4 fit (1 + 0.01 x tokens us per
  // layer); a method without a table (fp8 here) keeps the roofline.
  const Scenario q = testing::scenario("cost_model: {calibration: " + make_bundle("table_q") +
                                       "}\ncompression: int4\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}");
  const StepCost qc = make_cost_model(q)->step_cost(shape);
  EXPECT_NEAR(qc[Op::kKvQuantize].ns / 1e3, L * (1.0 + 0.01 * 16), 0.01);
  // No copy table in this bundle: swaps are costed by the roofline.
  BatchShape swap;
  swap.swap_bytes = 1 << 30;
  EXPECT_EQ(cm->step_cost(swap)[Op::kSwap].ns,
            RooflineCostModel(s.model, s.gpu, s.engine.host, s.roofline).step_cost(swap)[Op::kSwap].ns);
  // A whole run on the calibrated model works and is deterministic.
  EXPECT_EQ(testing::run(s).report.dump(), testing::run(s).report.dump());
}

// Framework overlays: a bundle may carry a framework's own GEMM and prefill-attention rows
// beside kvsim-calibrate's (calibration/e2e/compare.py appends PyTorch's). gemm_variant and
// prefill_kernel pick them, extra_kernel_us prices a framework's small kernels, and a
// variant the bundle lacks is an error naming the key and what the bundle has.
std::string make_overlay_bundle(const std::string& name) {
  const std::string dir = make_bundle(name);
  std::ofstream g(fs::path(dir) / "gemm.csv", std::ios::app);
  g.precision(15);
  for (const char* op : {"qkv", "o", "gate_up", "down", "lm_head"}) {
    for (int m : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}) {
      g << op << ",torch_linear," << m << ",4096,4096," << 2 * gemm_truth(m) << ",1,1,20\n";
    }
  }
  g << "qkv,partial," << 1 << ",4096,4096,1,1,1,20\n" << "qkv,partial," << 2 << ",4096,4096,1,1,1,20\n";
  std::ofstream p(fs::path(dir) / "prefill_attention.csv", std::ios::app);
  p.precision(15);
  for (int n : {128, 512, 1024, 2048, 4096, 8192}) {
    for (int c : {0, 2048, 8192}) {
      p << "torch_sdpa," << n << "," << c << "," << 0.5 * prefill_truth(n, c) << ",20\n";
      p << "materialized," << n << "," << c << "," << 1.5 * prefill_truth(n, c) << ",20\n";
    }
  }
  return dir;
}

TEST(TableCostModel, FrameworkVariantsAndSmallKernelCost) {
  const std::string dir = make_overlay_bundle("overlay");
  const std::string tail = "\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}";
  const int L = 32;
  BatchShape decode;
  decode.decode = {BatchShape::uniform_decode(16, 1000)};
  BatchShape prefill;
  prefill.prefills = {PrefillChunk{1024, 0, true, 0}};
  const auto own = make_cost_model(testing::scenario("cost_model: {calibration: " + dir + "}" + tail));
  const auto fw = make_cost_model(testing::scenario(
      "cost_model: {calibration: " + dir +
      ", gemm_variant: torch_linear, prefill_kernel: torch_sdpa, kernels_per_layer: 43, extra_kernel_us: 5}" + tail));
  // GEMMs from the torch_linear rows (twice kvsim's), prefill attention from torch_sdpa (half).
  EXPECT_NEAR(own->step_cost(decode)[Op::kQkvProj].ns / 1e3, L * gemm_truth(16), 0.02 * L * gemm_truth(16));
  EXPECT_NEAR(fw->step_cost(decode)[Op::kQkvProj].ns / 1e3, 2 * L * gemm_truth(16), 0.04 * L * gemm_truth(16));
  const double own_pf = own->step_cost(prefill)[Op::kAttnPrefill].ns / 1e3;
  EXPECT_NEAR(own_pf, L * prefill_truth(1024, 0), 0.05 * L * prefill_truth(1024, 0));
  EXPECT_NEAR(fw->step_cost(prefill)[Op::kAttnPrefill].ns / 1e3, 0.5 * own_pf, 0.01 * own_pf);
  // H2O's prefill scores stay kvsim's materialized - flash (0.5 x flash here), whichever
  // kernel prices the attention.
  const auto h2o_own = make_cost_model(testing::scenario("cost_model: {calibration: " + dir + "}\ncompression: h2o" + tail));
  const auto h2o_fw = make_cost_model(
      testing::scenario("cost_model: {calibration: " + dir + ", prefill_kernel: torch_sdpa}\ncompression: h2o" + tail));
  const double scores = h2o_own->step_cost(prefill)[Op::kKvScores].ns / 1e3;
  EXPECT_NEAR(scores, 0.5 * own_pf, 0.02 * own_pf);
  EXPECT_EQ(h2o_fw->step_cost(prefill)[Op::kKvScores].ns, h2o_own->step_cost(prefill)[Op::kKvScores].ns);
  // 43 - 11 costed kernels per layer, each max(residual_add(16 rows) = 2.016, graph 2.1, 5) us,
  // plus 3 graph gaps per step.
  EXPECT_NEAR(fw->step_cost(decode)[Op::kKernelGaps].ns / 1e3, 32 * L * 5.0 + 3 * 2.1, 0.01);
  const auto slow_only = make_cost_model(testing::scenario(
      "cost_model: {calibration: " + dir + ", kernels_per_layer: 43, extra_kernel_us: 1}" + tail));
  EXPECT_NEAR(slow_only->step_cost(decode)[Op::kKernelGaps].ns / 1e3, 32 * L * 2.1 + 3 * 2.1, 0.01)
      << "a framework kernel cheaper than kvsim's floor does not lower it";

  // Variants the bundle lacks, and bad values.
  struct Case {
    std::string cost_model, message;
  };
  const std::vector<Case> cases = {
      {"prefill_kernel: cudnn", "<test>: cost_model.prefill_kernel: the llama-3-8b bundle on NVIDIA H200 has no "
                                "prefill_attention variant 'cudnn' (it has: flash, materialized, torch_sdpa)"},
      {"gemm_variant: bf16", "<test>: cost_model.gemm_variant: the llama-3-8b bundle on NVIDIA H200 has no gemm "
                             "'qkv/bf16' (a variant must cover qkv, o, gate_up, down and lm_head; it has: fp16, partial, "
                             "torch_linear)"},
      {"gemm_variant: partial", "has no gemm 'o/partial'"},
      {"extra_kernel_us: -1", "<test>:1: cost_model.extra_kernel_us: must be in [0, 1000] us (got -1)"},
      {"prefill_kernel: ''", "cost_model.prefill_kernel: must name a prefill_attention variant of the bundle"},
  };
  // Without a bundle the choices would be silently ignored: an error instead.
  for (const std::string key : {"gemm_variant: torch_linear", "prefill_kernel: torch_sdpa"}) {
    try {
      testing::scenario("cost_model: {kind: roofline, " + key + "}" + tail);
      ADD_FAILURE() << key << " with the roofline: no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "<test>: cost_model." + key.substr(0, key.find(':')) +
                                           ": needs a calibration bundle, and this cost model is the roofline");
    }
  }
  for (const auto& c : cases) {
    try {
      make_cost_model(testing::scenario("cost_model: {calibration: " + dir + ", " + c.cost_model + "}" + tail));
      ADD_FAILURE() << c.cost_model << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.cost_model << " -> " << e.what();
    }
  }
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A framework's tables written as separate CSVs (as torch_gemm_bench.py and torch_sdpa_bench.py
// write them), with an extra column the bundle lacks and a provenance file for the GEMMs.
struct FrameworkTables {
  std::string gemm, sdpa;
};
FrameworkTables write_framework_tables(const std::string& name) {
  const fs::path dir = fs::path(::kvsim::testing::scratch()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream g(dir / "gemm_fw.csv");
  g.precision(15);
  g << "op,dtype,m,n,k,time_us_median,layout\n";
  for (const char* op : {"qkv", "o", "gate_up", "down", "lm_head"}) {
    for (int m : {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}) {
      g << op << ",torch_linear," << m << ",4096,4096," << 2 * gemm_truth(m) << ",linear\n";
    }
  }
  std::ofstream(dir / "gemm_fw.meta.json") << R"({"tool": "torch_gemm_bench.py", "date_utc": "2026-11-29T03:34:26Z"})";
  std::ofstream p(dir / "sdpa_fw.csv");
  p.precision(15);
  p << "variant,new_tokens,cached_tokens,time_us_median,reps\n";
  for (int n : {128, 512, 1024, 2048, 4096, 8192}) {
    for (int c : {0, 2048, 8192}) p << "torch_sdpa," << n << "," << c << "," << 0.5 * prefill_truth(n, c) << ",20\n";
  }
  return {(dir / "gemm_fw.csv").string(), (dir / "sdpa_fw.csv").string()};
}

TEST(BundleOverlay, AddsFrameworkVariantsWithProvenanceAndLeavesTheBaseAlone) {
  const std::string base = make_bundle("overlay_base");
  fs::create_directories(fs::path(base) / "samples");
  std::ofstream(fs::path(base) / "samples" / "gemm.csv") << "op,dtype,m,n,k,rep,time_us\n";
  std::ofstream(fs::path(base) / "run.log") << "measured\n";
  const std::string base_gemm = slurp(fs::path(base) / "gemm.csv");
  const FrameworkTables fw = write_framework_tables("overlay_fw");
  const std::string out = (fs::path(::kvsim::testing::scratch()) / "overlay_out").string();
  fs::remove_all(out);

  const Bundle b = with_overlay(load_bundle(base), {{"gemm", fw.gemm}, {"prefill_attention", fw.sdpa}});
  write_overlay_bundle(b, base, out, false);

  EXPECT_EQ(slurp(fs::path(base) / "gemm.csv"), base_gemm) << "the base bundle is never changed";
  EXPECT_TRUE(fs::exists(fs::path(out) / "samples" / "gemm.csv"));
  EXPECT_EQ(slurp(fs::path(out) / "run.log"), "measured\n");
  EXPECT_TRUE(fs::exists(fs::path(out) / "fit_report.json"));
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path())) {
    EXPECT_EQ(e.path().string().find("overlay_out.tmp."), std::string::npos) << "left behind: " << e.path();
  }
  const Bundle o = load_bundle(out);
  EXPECT_EQ(o.tables.at("gemm").rows.size(), 65u + 65u);
  EXPECT_EQ(o.tables.at("prefill_attention").rows.size(), 18u + 18u);
  // Provenance: one entry per source, the framework's own meta.json kept.
  const auto& ov = o.meta["overlays"];
  ASSERT_EQ(ov.size(), 2u);
  EXPECT_EQ(ov[0]["family"], "gemm");
  EXPECT_EQ(ov[0]["rows"], 65);
  EXPECT_EQ(ov[0]["variants"], nlohmann::json::array({"torch_linear"}));
  EXPECT_EQ(ov[0]["dropped_columns"], nlohmann::json::array({"layout"}));
  EXPECT_EQ(ov[0]["source_meta"]["tool"], "torch_gemm_bench.py");
  EXPECT_EQ(ov[0]["source"], fs::absolute(fw.gemm).lexically_normal().string());
  EXPECT_EQ(o.meta["overlay_base"], fs::absolute(base).lexically_normal().string());
  EXPECT_EQ(ov[1]["variants"], nlohmann::json::array({"torch_sdpa"}));
  EXPECT_FALSE(ov[1].contains("source_meta"));
  EXPECT_EQ(slurp(fs::path(out) / "decode_attention.csv"), slurp(fs::path(base) / "decode_attention.csv"))
      << "tables the overlay does not extend are copied byte for byte";

  // The written overlay prices the same as the hand-built one of FrameworkVariantsAndSmallKernelCost.
  const std::string tail = "\nworkload: {num_requests: 1, arrival: {kind: all-at-once}}";
  const auto fwm = make_cost_model(
      testing::scenario("cost_model: {calibration: " + out + ", gemm_variant: torch_linear, prefill_kernel: torch_sdpa}" + tail));
  BatchShape decode;
  decode.decode = {BatchShape::uniform_decode(16, 1000)};
  EXPECT_NEAR(fwm->step_cost(decode)[Op::kQkvProj].ns / 1e3, 2 * 32 * gemm_truth(16), 0.04 * 32 * gemm_truth(16));

  // An existing output is kept unless replaced; replacing leaves only the new bundle.
  EXPECT_THROW(write_overlay_bundle(b, base, out, false), InputError);
  std::ofstream(fs::path(out) / "stale.txt") << "x";
  write_overlay_bundle(b, base, out + "/", true);  // a trailing separator names the same folder
  EXPECT_FALSE(fs::exists(fs::path(out) / "stale.txt"));
  EXPECT_EQ(load_bundle(out).tables.at("gemm").rows.size(), 130u);
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path())) {
    const std::string n = e.path().filename().string();
    EXPECT_TRUE(n.find("overlay_out.tmp.") == std::string::npos && n.find("overlay_out.old.") == std::string::npos)
        << "left behind: " << n;
  }
  // A new output named with a trailing separator, and a read-only base (an installed bundle).
  const std::string out2 = (fs::path(::kvsim::testing::scratch()) / "overlay_out2").string();
  fs::remove_all(out2);
  fs::permissions(base, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                  fs::perm_options::remove);
  write_overlay_bundle(b, base, out2 + "/", false);
  fs::permissions(base, fs::perms::owner_write, fs::perm_options::add);
  EXPECT_EQ(load_bundle(out2).tables.at("gemm").rows.size(), 130u);
  std::ofstream(fs::path(out2) / "written-after.txt") << "the copy is writable";
  EXPECT_TRUE(fs::exists(fs::path(out2) / "written-after.txt"));
  // Overlaying the overlay again would shadow its own variants.
  EXPECT_THROW(with_overlay(load_bundle(out), {{"gemm", fw.gemm}}), InputError);
}

TEST(BundleOverlay, BadSourcesNameTheFileLineAndField) {
  const std::string base = make_bundle("overlay_bad_base");
  const fs::path dir = fs::path(::kvsim::testing::scratch()) / "overlay_bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto file = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  auto full_gemm = [](const std::string& variant) {
    std::string t = "op,dtype,m,n,k,time_us_median\n";
    for (const char* op : {"qkv", "o", "gate_up", "down", "lm_head"}) t += std::string(op) + "," + variant + ",1,4096,4096,4\n";
    return t;
  };
  struct Case {
    std::string name;
    std::vector<OverlaySource> sources;
    std::string message;
  };
  const std::string d = dir.string();
  const std::vector<Case> cases = {
      {"measured variant", {{"gemm", file("dup.csv", "op,dtype,m,n,k,time_us_median\nqkv,torch,1,2,3,4\nqkv,fp16,1,2,3,4\n")}},
       d + "/dup.csv:3: gemm dtype 'fp16' is already in " + base +
           "/gemm.csv; an overlay adds new variants (name them after the implementation, e.g. torch_linear)"},
      {"measured prefill variant", {{"prefill_attention", file("pdup.csv", "variant,new_tokens,cached_tokens,time_us_median\nflash,1,0,2\n")}},
       d + "/pdup.csv:2: prefill_attention variant 'flash' is already in " + base + "/prefill_attention.csv"},
      {"variant of an earlier source",
       {{"gemm", file("full.csv", full_gemm("torch"))}, {"gemm", file("again.csv", full_gemm("torch"))}},
       d + "/again.csv:2: gemm dtype 'torch' is already in " + d + "/full.csv"},
      {"partial gemm variant", {{"gemm", file("part.csv", "op,dtype,m,n,k,time_us_median\nqkv,torch,1,2,3,4\no,torch,1,2,3,4\n")}},
       d + "/part.csv: gemm variant 'torch' has no rows for gate_up, down, lm_head (a variant must cover qkv, o, gate_up, "
           "down, lm_head)"},
      {"zero rows m", {{"gemm", file("m0.csv", "op,dtype,m,n,k,time_us_median\nqkv,torch,0,2,3,4\n")}},
       d + "/m0.csv:2: field 'm' must be >= 1 (got 0)"},
      {"zero new tokens", {{"prefill_attention", file("n0.csv", "variant,new_tokens,cached_tokens,time_us_median\nt,0,0,2\n")}},
       d + "/n0.csv:2: field 'new_tokens' must be >= 1 (got 0)"},
      {"negative cached", {{"prefill_attention", file("cneg.csv", "variant,new_tokens,cached_tokens,time_us_median\nt,8,-1,2\n")}},
       d + "/cneg.csv:2: field 'cached_tokens' must be >= 0 (got -1)"},
      {"family", {{"decode_attention", file("dec.csv", "kv_format,fused,batch,context_mean,context_max,time_us_median\nx,1,1,1,1,1\n")}},
       d + "/dec.csv: cannot overlay family 'decode_attention': only gemm and prefill_attention rows can be added"},
      {"column", {{"gemm", file("col.csv", "op,dtype,m,n,time_us_median\nqkv,t,1,2,3\n")}},
       d + "/col.csv:1: missing required column 'k' (family gemm)"},
      {"number", {{"gemm", file("num.csv", "op,dtype,m,n,k,time_us_median\nqkv,t,x,2,3,4\n")}},
       d + "/num.csv:2: field 'm' must be a number (got 'x')"},
      {"time", {{"gemm", file("time.csv", "op,dtype,m,n,k,time_us_median\nqkv,t,1,2,3,0\n")}},
       d + "/time.csv:2: field 'time_us_median' must be > 0 (got 0)"},
      {"empty variant", {{"gemm", file("empty.csv", "op,dtype,m,n,k,time_us_median\nqkv,,1,2,3,4\n")}},
       d + "/empty.csv:2: field 'dtype' is empty"},
      {"no rows", {{"gemm", file("norows.csv", "op,dtype,m,n,k,time_us_median\n")}}, d + "/norows.csv: no measurements"},
      {"missing file", {{"gemm", d + "/absent.csv"}}, d + "/absent.csv"},
      {"bad provenance", {{"gemm", file("prov.csv", full_gemm("t"))}},
       d + "/prov.meta.json: invalid JSON"},
      {"no sources", {}, "an overlay needs at least one source table"},
  };
  std::ofstream(dir / "prov.meta.json") << "{oops";
  const Bundle b = load_bundle(base);
  for (const auto& c : cases) {
    try {
      with_overlay(b, c.sources);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.name << ": " << e.what();
    }
  }
  // A base without the family's table, and an output that is the base itself.
  const std::string no_prefill = make_bundle("overlay_no_prefill");
  fs::remove(fs::path(no_prefill) / "prefill_attention.csv");
  try {
    with_overlay(load_bundle(no_prefill),
                 {{"prefill_attention", file("p.csv", "variant,new_tokens,cached_tokens,time_us_median\ntorch_sdpa,1,0,2\n")}});
    ADD_FAILURE() << "base without prefill_attention.csv: no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), d + "/p.csv: the base bundle " + no_prefill + " has no prefill_attention.csv to extend");
  }

  // Where the overlay may not go; nothing is written for any of them, and the base stays whole.
  const Bundle ok = with_overlay(b, {{"gemm", file("ok.csv", full_gemm("t"))}});
  const fs::path holder = fs::path(::kvsim::testing::scratch()) / "overlay_holder";
  fs::remove_all(holder);
  fs::create_directories(holder / "not_a_bundle");
  const std::string nested_base = (holder / "base").string();
  fs::copy(base, nested_base, fs::copy_options::recursive);
  struct Target {
    std::string base, out;
    bool force;
    std::string message;
  };
  const std::vector<Target> targets = {
      {base, base, true, "is the base bundle itself"},
      {base, base + "/", true, "is the base bundle itself"},
      {base, base + "/nested", false, "is inside the base bundle"},
      {nested_base, holder.string(), true, "holds the base bundle"},
      {base, (holder / "missing" / "x").string(), false, "its parent folder " + (holder / "missing").string() + " does not exist"},
      {base, (holder / "not_a_bundle").string(), false, "already exists (--force replaces it"},
      {base, (holder / "not_a_bundle").string(), true, "exists and is not a calibration bundle (no meta.json)"},
  };
  for (const auto& t : targets) {
    try {
      write_overlay_bundle(ok, t.base, t.out, t.force);
      ADD_FAILURE() << t.out << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(t.message), std::string::npos) << t.out << ": " << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(fs::path(base) / "nested"));
  EXPECT_TRUE(fs::exists(fs::path(nested_base) / "gemm.csv")) << "--force never removes a folder holding the base";
  EXPECT_TRUE(fs::is_directory(holder / "not_a_bundle"));
}

TEST(RooflineCostModel, ExtraKernelCostAppliesToKernelsBeyondTheFusedNine) {
  const Scenario s = testing::scenario("workload: {num_requests: 1, arrival: {kind: all-at-once}}");
  BatchShape decode;
  decode.decode = {BatchShape::uniform_decode(4, 512)};
  RooflineParams base = s.roofline;
  base.kernels_per_layer = 43;
  RooflineParams framework = base;
  framework.extra_kernel_us = 5;
  const auto gaps = [&](const RooflineParams& p) {
    return RooflineCostModel(s.model, s.gpu, s.engine.host, p).step_cost(decode)[Op::kKernelGaps].ns;
  };
  const Duration L = s.model.num_layers;
  EXPECT_EQ(gaps(base), (43 * L + 3) * base.kernel_gap_ns);
  EXPECT_EQ(gaps(framework), (9 * L + 3) * base.kernel_gap_ns + (43 - 9) * L * 5000);
  RooflineParams fused = framework;
  fused.kernels_per_layer = 9;
  EXPECT_EQ(gaps(fused), (9 * L + 3) * base.kernel_gap_ns) << "a fused engine has no extra kernels";
}

}  // namespace
}  // namespace kvsim

namespace kvsim {
namespace {

// Issue #17 item 5: bundles were matched by model name only, so Llama-3.1-8B (Llama-3-8B's layer
// shapes, a longer context through RoPE scaling) was priced by the roofline next to a measured
// bundle of the identical shape. A same-shape bundle is now used and named as such.
TEST(InstalledCalibration, SameLayerShapesShareABundle) {
  const Catalog& c = testing::catalog();
  EXPECT_TRUE(c.model("llama-3.1-8b").same_kernel_shapes(c.model("llama-3-8b")));
  EXPECT_FALSE(c.model("mistral-7b").same_kernel_shapes(c.model("llama-3-8b")));  // vocabulary 32000
  EXPECT_FALSE(c.model("llama-2-13b").same_kernel_shapes(c.model("llama-2-7b")));
  const CalibrationSource shipped(std::vector<std::string>{std::string(KVSIM_SOURCE_DIR) + "/calibration/data"});
  const auto twin = find_installed_calibration(shipped, c, c.gpu("h200"), c.model("llama-3.1-8b"), "llama-3.1-8b");
  ASSERT_TRUE(twin.has_value());
  EXPECT_EQ(twin->model_shape, "llama-3-8b");
  EXPECT_NE(twin->provenance.find("measured for llama-3-8b, whose layer shapes are llama-3.1-8b's"), std::string::npos)
      << twin->provenance;
  // The same step costs the same under either name.
  const std::string wl = "\nworkload: {num_requests: 2, arrival: {kind: poisson, rate_per_s: 1}}\n";
  const Scenario a = load_scenario_text("model: llama-3-8b" + wl, "<t>", {}, std::nullopt, c, shipped);
  const Scenario b = load_scenario_text("model: llama-3.1-8b" + wl, "<t>", {}, std::nullopt, c, shipped);
  ASSERT_TRUE(a.calibration.has_value() && b.calibration.has_value());
  BatchShape shape;
  shape.decode = {BatchShape::uniform_decode(16, 2000)};
  EXPECT_EQ(make_cost_model(a)->step_cost(shape).total_ns, make_cost_model(b)->step_cost(shape).total_ns);
  // Tensor-parallel shards look for the twin's shard name; none is installed, so neither name
  // finds a bundle of kvsim's own for tp2 (the transfer model may still serve it).
  const auto tp = find_installed_calibration(CalibrationSource{}, c, c.gpu("h200"), c.model("llama-3.1-8b"), "llama-3.1-8b-tp2");
  EXPECT_FALSE(tp.has_value());
}

}  // namespace
}  // namespace kvsim
