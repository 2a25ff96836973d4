#include "sim/config/calibration_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "calibration/fit/fitter.h"
#include "calibration/fit/vidur_import.h"
#include "calibration/transfer/plausibility.h"
#include "calibration/transfer/transfer_bundle.h"
#include "models/compression/compression_registry.h"
#include "models/compression/length_effect.h"
#include "models/cost/table_cost_model.h"
#include "models/parallel/collectives.h"
#include "models/spec/hf_config.h"
#include "sim/serving/router.h"
#include "sim/core/config_reader.h"
#include "sim/core/csv.h"
#include "sim/core/error.h"
#include "sim/core/limits.h"
#include "sim/core/text_file.h"
#include "traces/workload.h"

namespace kvsim {

std::optional<CalibratedCosts> find_installed_calibration(const CalibrationSource& calibration, const Catalog& catalog,
                                                         const GpuSpec& gpu, const ModelSpec& model, const std::string& shard) {
  namespace fs = std::filesystem;
  for (const auto& root : calibration.dirs()) {
    const fs::path dir = fs::path(root) / gpu.name / shard;
    if (fs::exists(dir / "meta.json")) return calibration.load(dir.string(), shard, catalog);
  }
  // A bundle measured for another catalog model with the same layer shapes is this model's
  // (bundles are filed by model name; Llama-3.1-8B would otherwise miss Llama-3-8B's).
  const std::string suffix = shard.substr(std::min(model.name.size(), shard.size()));  // "-tp2"
  std::vector<std::string> twins;
  for (const auto& [name, other] : catalog.models()) {
    if (name != model.name && other.same_kernel_shapes(model)) twins.push_back(name + suffix);
  }
  auto marked = [&](CalibratedCosts c, const std::string& twin) {
    c.provenance += "; measured for " + twin + ", whose layer shapes are " + shard + "'s";
    return c;
  };
  for (const auto& root : calibration.dirs()) {
    for (const auto& twin : twins) {
      const fs::path dir = fs::path(root) / gpu.name / twin;
      if (fs::exists(dir / "meta.json")) return marked(calibration.load(dir.string(), twin, catalog), twin);
    }
  }
  // No bundle of kvsim's own for this GPU: the transfer model's tables from the nearest measured
  // GPUs (imported public profiles included), for this shape under either name.
  if (auto c = calibration.transferred(catalog, gpu, shard)) return c;
  for (const auto& twin : twins) {
    if (auto c = calibration.transferred(catalog, gpu, twin)) return marked(std::move(*c), twin);
  }
  return std::nullopt;
}

CalibratedCosts load_calibration(const std::string& dir, const std::string& model_name, const Catalog& catalog) {
  const Bundle b = load_bundle(dir);
  CalibratedCosts c = fit_bundle(b);
  if (c.model_shape != model_name) {
    throw InputError(dir + "/meta.json: bundle measured for model shape '" + c.model_shape + "', scenario model is '" +
                     model_name + "'");
  }
  const GpuSpec& gpu = bundle_gpu(c, dir, catalog);
  // Physical plausibility needs the shard's dimensions (kvsim-calibrate and the importers write
  // them); a hand-made bundle naming only the shape is fitted as before, and `kvsim calibrate
  // check` refuses it by the missing key.
  if (has_shard_dimensions(b)) require_plausible(b, gpu);
  return c;
}

const GpuSpec& bundle_gpu(const CalibratedCosts& c, const std::string& dir, const Catalog& catalog) {
  if (c.catalog_gpu.empty()) throw InputError(dir + "/meta.json: gpu_name '" + c.gpu_name + "' matches no catalog GPU");
  if (!catalog.has_gpu(c.catalog_gpu)) {
    throw InputError(dir + "/meta.json: the bundle's GPU '" + c.catalog_gpu +
                     "' is not in the catalog; give its datasheet figures with --catalog DIR (gpus/" + c.catalog_gpu + ".yaml)");
  }
  return catalog.gpu(c.catalog_gpu);
}

CalibratedCosts CalibrationSource::load(const std::string& dir, const std::string& model_name, const Catalog& catalog) const {
  const std::string key = dir + "\n" + model_name;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  CalibratedCosts c = load_calibration(dir, model_name, catalog);
  const std::lock_guard<std::mutex> lock(mutex_);
  cache_.emplace(key, c);
  return c;
}

namespace {
// The transfer model and the catalog it refers to, owned together.
struct TransferState {
  Catalog catalog;
  TransferModel model;
  TransferState(Catalog c, const std::vector<std::string>& dirs)
      : catalog(std::move(c)), model(catalog, load_measured_sets(dirs, catalog)) {}
};
}  // namespace

std::optional<CalibratedCosts> CalibrationSource::transferred(const Catalog& catalog, const GpuSpec& gpu,
                                                              const std::string& shard) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const std::string key = gpu.name + "\n" + shard;
  if (const auto it = transferred_.find(key); it != transferred_.end()) return it->second;
  if (!transfer_model_) transfer_model_ = std::make_shared<TransferState>(catalog, dirs_);
  const auto& state = *static_cast<const TransferState*>(transfer_model_.get());
  std::optional<CalibratedCosts> out;
  if (const auto t = transfer_bundle(state.model, gpu, shard)) {
    CalibratedCosts c = fit_bundle(t->bundle, gpu.name);
    c.transfer_sources = t->sources;
    c.transfer_all_measured = t->all_measured;
    c.provenance = (t->all_measured ? "measured profiles for " : "transfer for ") + shard + " on " + gpu.name +
                   ": " + t->summary + "; per operator: report.json cost_model_sources";
    out = std::move(c);
  }
  transferred_.emplace(key, out);
  return out;
}

}  // namespace kvsim
