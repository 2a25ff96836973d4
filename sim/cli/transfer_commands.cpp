// kvsim calibrate import-profiles / transfer-check: the public-profile importer and the
// leave-one-GPU-out table of the cross-GPU transfer model (docs/calibration.md).
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "calibration/transfer/gpu_match.h"
#include "calibration/transfer/placeholder_check.h"
#include "calibration/transfer/profile_import.h"
#include "calibration/transfer/transfer_model.h"
#include "sim/cli/commands.h"
#include "sim/core/atomic_file.h"
#include "sim/core/error.h"

namespace po = boost::program_options;

namespace kvsim::cli {

namespace {

const char* kImportHelp = R"(kvsim calibrate import-profiles --gpu NAME --model NAME --layers N --out DIR
    [--mlp FILE --mlp-path REPO_PATH] [--attention FILE --attention-path REPO_PATH [--ffn N --vocab N]]
    --project NAME --repository OWNER/NAME --commit SHA [--force]
kvsim calibrate import-profiles --gpu NAME --network FILE --network-path REPO_PATH --out ROOT
    --project NAME --repository OWNER/NAME --commit SHA [--force]

Converts operator profiles in Vidur's schema (Vidur, Frontier) measured on catalog GPU NAME
into kvsim bundles DIR/<model>[-tp<N>]/, one per tensor degree, with the source repository,
commit and path in each meta.json. Rows whose time claims more than the GPU's datasheet peak
are dropped (a table with over 10 % such rows is rejected); repeated rows are merged into
their median. --network converts a Vidur network profile (all_reduce.csv or send_recv.csv) into
NCCL tables ROOT/<gpu>-x<N>/nccl/ for the rows within one node.
calibration/import_public_profiles.sh runs every shipped import.
)";

const char* kCheckHelp = R"(kvsim calibrate transfer-check [--data DIR]... [--json FILE]

Leave-one-GPU-out validation of the cross-GPU transfer model: every measured GPU's
operators, and whole decode and prefill steps composed from them, predicted from the other
GPUs' measurements, with the source GPU chosen as for an unmeasured GPU. --data replaces the
installed bundle directories (default: calibration/data, or KVSIM_CALIBRATION_DIR).
Also lists, for every catalog GPU, which measured GPU its GEMMs would be transferred from.
)";

}  // namespace

int import_profiles_command(const std::vector<std::string>& args) {
  po::options_description opts("options");
  ProfileImport base;
  std::string gpu_name, out, mlp, mlp_path, attn, attn_path, net, net_path;
  opts.add_options()("help,h", "show this help")("gpu", po::value(&gpu_name))("model", po::value(&base.model))(
      "layers", po::value(&base.layers))("ffn", po::value(&base.ffn))("vocab", po::value(&base.vocab))(
      "out", po::value(&out))("mlp", po::value(&mlp))("mlp-path", po::value(&mlp_path))("attention", po::value(&attn))(
      "attention-path", po::value(&attn_path))("network", po::value(&net))("network-path", po::value(&net_path))("project", po::value(&base.project))(
      "repository", po::value(&base.repository))("commit", po::value(&base.commit))("force", "replace existing bundles");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) {
    std::cout << kImportHelp;
    return 0;
  }
  for (const auto& [flag, value] : std::vector<std::pair<const char*, const std::string*>>{
           {"--gpu", &gpu_name}, {"--out", &out}, {"--project", &base.project},
           {"--repository", &base.repository}, {"--commit", &base.commit}}) {
    if (value->empty()) throw InputError(std::string("import-profiles needs ") + flag);
  }
  namespace fs = std::filesystem;
  if (!net.empty()) {
    if (net_path.empty()) throw InputError("--network needs --network-path (its path in the source repository)");
    if (!base.model.empty() || !mlp.empty() || !attn.empty()) {
      throw InputError("--network imports NCCL tables alone (no --model, --mlp or --attention)");
    }
    ProfileImport in = base;
    in.file = net;
    in.repo_path = net_path;
    const Catalog catalog = Catalog::builtin();
    for (const NcclTable& t : import_network_profile(in, catalog.gpu(gpu_name))) {
      const fs::path dir = fs::path(out) / t.machine / "nccl";
      if (fs::exists(dir / t.file) && !vm.count("force")) throw InputError((dir / t.file).string() + " exists (--force replaces it)");
      fs::create_directories(dir);
      write_file_atomically((dir / t.file).string(), t.csv);
      const std::string stem = t.file.substr(0, t.file.size() - 4);
      write_file_atomically((dir / (stem + "_meta.json")).string(), t.meta.dump(2) + "\n");
      std::printf("%s\n", (dir / t.file).string().c_str());
    }
    return 0;
  }
  if (base.model.empty()) throw InputError("import-profiles needs --model");
  if (mlp.empty() && attn.empty()) throw InputError("import-profiles needs --mlp FILE, --attention FILE or both");
  if ((!mlp.empty() && mlp_path.empty()) || (!attn.empty() && attn_path.empty())) {
    throw InputError("each profile file needs its path in the source repository (--mlp-path, --attention-path)");
  }
  const Catalog catalog = Catalog::builtin();
  const GpuSpec& gpu = catalog.gpu(gpu_name);
  std::vector<ImportedBundle> bundles;
  if (!mlp.empty()) {
    ProfileImport in = base;
    in.file = mlp;
    in.repo_path = mlp_path;
    merge_imported(bundles, import_mlp_profile(in, gpu));
  }
  if (!attn.empty()) {
    ProfileImport in = base;
    in.file = attn;
    in.repo_path = attn_path;
    merge_imported(bundles, import_attention_profile(in, gpu));
  }
  for (const ImportedBundle& b : bundles) {
    const fs::path dir = fs::path(out) / b.name;
    if (fs::exists(dir / "meta.json") && !vm.count("force")) {
      throw InputError(dir.string() + " exists (--force replaces it)");
    }
  }
  for (const ImportedBundle& b : bundles) {
    const fs::path dir = fs::path(out) / b.name;
    if (b.bundle.tables.empty()) {
      std::printf("%s: not written (no table survived)\n", dir.string().c_str());
      for (const auto& n : b.notes) std::printf("  note: %s\n", n.c_str());
      continue;
    }
    write_bundle(b.bundle, dir.string());
    std::printf("%s:", dir.string().c_str());
    for (const auto& [family, t] : b.bundle.tables) std::printf(" %s %zu", family.c_str(), t.rows.size());
    std::printf("\n");
    for (const auto& n : b.notes) std::printf("  note: %s\n", n.c_str());
  }
  return 0;
}

int transfer_check_command(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::vector<std::string> data;
  std::string json_out;
  opts.add_options()("help,h", "show this help")("data", po::value(&data), "bundle root (repeatable)")(
      "json", po::value(&json_out), "also write the tables as JSON");
  po::variables_map vm;
  if (!parse_options(args, opts, vm)) {
    std::cout << kCheckHelp;
    return 0;
  }
  if (data.empty()) data = calibration_search_dirs();
  const Catalog catalog = Catalog::builtin();
  const TransferModel model(catalog, load_measured_sets(data, catalog));
  if (model.sets().empty()) throw InputError("no measured bundles under " + join(data, ", "));
  const auto ops = leave_one_out_ops(model);
  const auto steps = leave_one_out_steps(model);
  std::printf("leave-one-GPU-out, per operator class (relative error of each measured point)\n");
  std::printf("  %-10s %-30s %-31s %-10s %6s %7s %7s %7s\n", "gpu", "implementation", "class", "from", "points",
              "MAPE", "p90", "max");
  for (const LooRow& r : ops) {
    std::printf("  %-10s %-30s %-31s %-10s %6d %6.1f%% %6.1f%% %6.1f%%\n", r.gpu.c_str(), r.impl.c_str(), r.cls.c_str(),
                r.source.c_str(), r.points, r.mape * 100, r.p90 * 100, r.max * 100);
  }
  std::printf("\nleave-one-GPU-out, whole steps (decode: n sequences at context 1024, n = 1..256; prefill: one "
              "prompt of 256..4096 tokens)\n");
  std::printf("  %-10s %-16s %-8s %-10s %5s %7s %7s  %s\n", "gpu", "shape", "phase", "from", "steps", "MAPE", "max",
              "contents");
  for (const StepLooRow& r : steps) {
    std::printf("  %-10s %-16s %-8s %-10s %5d %6.1f%% %6.1f%%  %s\n", r.gpu.c_str(), r.shape.c_str(), r.phase.c_str(),
                r.source.c_str(), r.steps, r.mape * 100, r.max * 100, r.contents.c_str());
  }
  std::printf("\nfitted efficiency curves: t = floor + max(F / (peak * compute), B / (bandwidth * memory))\n");
  std::printf("  %-10s %-30s %-18s %6s %9s %8s %8s %8s\n", "gpu", "implementation", "class", "points", "floor us",
              "compute", "memory", "fit rms");
  for (const auto& [key, p] : model.all_params()) {
    const auto& [gpu, impl, cls] = key;
    auto pct = [](bool used, double v) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.1f%%", v * 100);
      return used ? std::string(buf) : std::string("-");
    };
    std::printf("  %-10s %-30s %-18s %6d %9.2f %8s %8s %7.1f%%\n", gpu.c_str(), impl.c_str(),
                op_class_name(static_cast<OpClass>(cls)), p.points, p.floor_us, pct(p.uses_compute, p.compute_eff).c_str(),
                pct(p.uses_memory, p.memory_eff).c_str(), p.rms_log_error * 100);
  }
  std::printf("\nroofline placeholders against measurements (what prices an operator no GPU measured for the "
              "shard)\n");
  std::printf("  %-10s %-24s %-18s %-26s %6s %7s %13s\n", "gpu", "implementation", "class", "placeholder", "points",
              "MAPE", "roofline/meas");
  for (const PlaceholderRow& r : roofline_placeholder_errors(model, RooflineParams{})) {
    std::printf("  %-10s %-24s %-18s %-26s %6d %6.1f%% %13.2f\n", r.gpu.c_str(), r.impl.c_str(), r.cls.c_str(),
                r.placeholder.c_str(), r.points, r.mape * 100, r.median_ratio);
  }
  std::printf("\ncompressed-KV decode kernels: achieved bandwidth relative to the fp16 kernel (median over the grid)\n");
  for (const RelativeDecodeRow& r : relative_decode_efficiency(model)) {
    std::printf("  %-10s %-18s %-18s %-16s %5d points  %.2f\n", r.gpu.c_str(), r.impl.c_str(), r.shape.c_str(),
                r.format.c_str(), r.points, r.relative_efficiency);
  }
  std::printf("\ncatalog GPUs: where their GEMMs come from\n");
  const std::vector<std::string> measured_names = model.measured_gpus();
  std::vector<GpuSpec> measured;
  for (const auto& g : measured_names) measured.push_back(catalog.gpu(g));
  for (const auto& [name, gpu] : catalog.gpus()) {
    const auto ranked = rank_sources(gpu, measured);
    const bool own = std::find(measured_names.begin(), measured_names.end(), name) != measured_names.end();
    const std::string from =
        own ? "measured" : ranked.empty() ? "-" : ranked.front().name + " (" + match_reason(gpu, ranked.front()) + ")";
    std::printf("  %-10s %s\n", name.c_str(), from.c_str());
  }
  if (!json_out.empty()) {
    nlohmann::json j = {{"ops", nlohmann::json::array()}, {"steps", nlohmann::json::array()}};
    for (const LooRow& r : ops) {
      j["ops"].push_back({{"gpu", r.gpu}, {"implementation", r.impl}, {"class", r.cls}, {"source", r.source},
                          {"points", r.points}, {"mape", r.mape}, {"p90", r.p90}, {"max", r.max}});
    }
    for (const StepLooRow& r : steps) {
      j["steps"].push_back({{"gpu", r.gpu}, {"shape", r.shape}, {"phase", r.phase}, {"source", r.source},
                            {"implementation", r.impl}, {"steps", r.steps}, {"mape", r.mape}, {"max", r.max},
                            {"contents", r.contents}});
    }
    write_file_atomically(json_out, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace kvsim::cli
