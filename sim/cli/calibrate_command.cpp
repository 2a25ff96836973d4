#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "calibration/fit/bundle_overlay.h"
#include "calibration/fit/fitter.h"
#include "calibration/transfer/plausibility.h"
#include "models/spec/catalog.h"
#include "sim/cli/commands.h"
#include "sim/config/scenario.h"
#include "sim/core/atomic_file.h"
#include "sim/core/error.h"

namespace po = boost::program_options;

namespace kvsim::cli {

namespace {

const char* kHelp = R"(kvsim calibrate <fit|show|check> BUNDLE_DIR [--out FILE] [--max-median-error X] [--catalog DIR]
kvsim calibrate overlay BUNDLE_DIR --out DIR [--gemm CSV]... [--prefill-attention CSV]... [--force]
kvsim calibrate import-profiles ...   (public operator profiles -> bundles; --help for its options)
kvsim calibrate transfer-check [--data DIR]... [--json FILE]   (leave-one-GPU-out table)

  fit      fit cost tables from the bundle's measurements and report each operator's error
           on held-out points; writes fit_report.json (into the bundle, or --out FILE)
  show     summarise the bundle: provenance, tables, points per family
  check    validate the bundle (every file, column and value), its physical plausibility
           (no row faster than the GPU's datasheet allows, none 1000x slower, times growing
           with the work) and its fit; exit 2 with the
           file, line and field on the first problem, or if the median held-out error of an
           operator exceeds --max-median-error (default 0.05). A bundle for a GPU outside the
           built-in catalog is checked against --catalog DIR's gpus/<name>.yaml
  overlay  copy the bundle to --out DIR with another implementation's kernels added as new
           variants: --gemm CSV rows (gemm.csv columns; their dtype names the variant, e.g.
           torch_linear) and --prefill-attention CSV rows (their variant, e.g. torch_sdpa).
           Price with them through cost_model.gemm_variant / prefill_kernel (kvsim step:
           --gemm-variant, --prefill-kernel). A CSV's <name>.meta.json, if present, is kept
           in meta.json's "overlays" as provenance. DIR must not exist unless --force; the
           base bundle is never changed

Measuring a bundle needs a GPU: build calibration/ with nvcc and run kvsim-calibrate
(docs/calibration.md). Installed bundles live in calibration/data/<gpu>/<model>/ and are
picked up by 'kvsim run' automatically (cost_model.kind: auto).
)";

void print_quality(const CalibratedCosts& c) {
  std::printf("  %-42s %6s %8s %10s %10s %10s\n", "operator", "points", "held-out", "median err", "p90 err", "max err");
  for (const auto& q : c.quality) {
    if (q.held_out == 0) {
      std::printf("  %-42s %6d %8s %10s %10s %10s\n", q.op.c_str(), q.points, "-", "-", "-", "-");
    } else {
      std::printf("  %-42s %6d %8d %9.2f%% %9.2f%% %9.2f%%\n", q.op.c_str(), q.points, q.held_out, q.median_err * 100,
                  q.p90_err * 100, q.max_err * 100);
    }
  }
  if (c.graph_us_per_kernel > 0) {
    std::printf("  launch gap: %.2f us per kernel in a CUDA graph, %.2f us eager\n", c.graph_us_per_kernel,
                c.eager_us_per_kernel);
  }
}

int overlay(const Bundle& base, const std::string& dir, const std::string& out, const std::vector<std::string>& gemm,
            const std::vector<std::string>& prefill, bool force) {
  if (out.empty()) throw InputError("overlay needs --out DIR (the base bundle is never changed)");
  std::vector<OverlaySource> sources;
  for (const auto& c : gemm) sources.push_back({"gemm", c});
  for (const auto& c : prefill) sources.push_back({"prefill_attention", c});
  const Bundle b = with_overlay(base, sources);
  write_overlay_bundle(b, dir, out, force);
  std::printf("overlay %s -> %s\n", dir.c_str(), out.c_str());
  const auto& entries = b.meta["overlays"];
  const std::size_t first = entries.size() - sources.size();  // this call's sources
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto& e = entries[first + i];
    const std::string variants = join(e["variants"].get<std::vector<std::string>>(), ", ");
    // The path as given; meta.json keeps the absolute one.
    std::printf("  %s: %zu rows from %s (variants: %s)\n", sources[i].family.c_str(), e["rows"].get<std::size_t>(),
                sources[i].csv.c_str(), variants.c_str());
  }
  return 0;
}

}  // namespace

int calibrate_command(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "import-profiles" || args[0] == "transfer-check")) {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    return args[0] == "import-profiles" ? import_profiles_command(rest) : transfer_check_command(rest);
  }
  po::options_description opts("options");
  std::string out, catalog_dir;
  double max_err = 0.05;
  std::vector<std::string> positional, gemm_csvs, prefill_csvs;
  opts.add_options()("help,h", "show this help")("out", po::value(&out), "fit report path (fit); bundle dir (overlay)")(
      "max-median-error", po::value(&max_err), "threshold for check (default 0.05)")(
      "catalog", po::value(&catalog_dir), "check: extra catalog directory (gpus/*.yaml) with the bundle's GPU")(
      "gemm", po::value(&gemm_csvs), "overlay: GEMM rows to add")(
      "prefill-attention", po::value(&prefill_csvs), "overlay: prefill attention rows to add")(
      "force", "overlay: replace an existing --out")("args", po::value(&positional), "verb and bundle");
  po::positional_options_description pos;
  pos.add("args", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help") || positional.empty()) {
    std::cout << kHelp;
    return vm.count("help") ? 0 : 2;
  }
  const std::vector<std::string> verbs = {"fit", "show", "check", "overlay", "import-profiles", "transfer-check"};
  const std::string& verb = positional[0];
  if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end()) {
    throw InputError("unknown verb '" + verb + "'" + did_you_mean(verb, verbs) +
                     "; valid: fit, show, check, overlay, import-profiles, transfer-check");
  }
  if (positional.size() != 2) throw InputError(verb + " takes one bundle directory");
  if (verb != "overlay" && (!gemm_csvs.empty() || !prefill_csvs.empty() || vm.count("force"))) {
    throw InputError("--gemm, --prefill-attention and --force belong to 'kvsim calibrate overlay'");
  }
  const std::string& dir = positional[1];
  const Bundle b = load_bundle(dir);
  if (verb == "overlay") return overlay(b, dir, out, gemm_csvs, prefill_csvs, vm.count("force") > 0);
  const CalibratedCosts c = fit_bundle(b);
  if (verb == "show") {
    std::printf("bundle %s\n  gpu %s (catalog: %s), model shape %s, measured %s\n", dir.c_str(), c.gpu_name.c_str(),
                c.catalog_gpu.empty() ? "unknown" : c.catalog_gpu.c_str(), c.model_shape.c_str(),
                b.meta["date_utc"].get<std::string>().c_str());
    for (const char* k : {"driver_version", "runtime_version", "cublas_version", "sm_count", "clock_khz", "quick"}) {
      if (b.meta.contains(k)) std::printf("  %s: %s\n", k, b.meta[k].dump().c_str());
    }
    for (const auto& [family, t] : b.tables) std::printf("  %-18s %5zu points\n", family.c_str(), t.rows.size());
    print_quality(c);
    return 0;
  }
  if (verb == "fit") {
    const std::string path = out.empty() ? (std::filesystem::path(dir) / "fit_report.json").string() : out;
    write_file_atomically(path, fit_report_json(c).dump(2) + "\n");
    std::printf("fit %s (%s, %s)\n", dir.c_str(), c.gpu_name.c_str(), c.model_shape.c_str());
    print_quality(c);
    std::printf("wrote %s\n", path.c_str());
    return 0;
  }
  Catalog catalog = Catalog::builtin();
  if (!catalog_dir.empty()) catalog.add_directory(catalog_dir);
  require_plausible(b, bundle_gpu(c, dir, catalog));
  for (const auto& q : c.quality) {
    if (q.held_out > 0 && q.median_err > max_err) {
      throw InputError(dir + ": operator '" + q.op + "' has median held-out error " + std::to_string(q.median_err * 100) +
                       " % (limit " + std::to_string(max_err * 100) + " %)");
    }
  }
  std::printf("bundle %s: ok (%zu tables, %zu fitted operators)\n", dir.c_str(), b.tables.size(), c.quality.size());
  return 0;
}

}  // namespace kvsim::cli
