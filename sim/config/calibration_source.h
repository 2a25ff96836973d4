#pragma once
// Where a scenario's cost tables come from: installed calibration bundles, fitted once and
// cached, and the cross-GPU transfer model built from them.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "models/cost/calibrated_costs.h"
#include "models/spec/catalog.h"

namespace kvsim {

// Where calibration bundles come from: search directories for installed bundles
// (<dir>/<gpu>/<model>/meta.json, used when cost_model.kind is auto) and a cache of fitted
// bundles, so a sweep or a plan fits each bundle once, not once per run. Thread-safe; owned
// by the caller (no process-wide state).
class CalibrationSource {
 public:
  CalibrationSource() = default;
  CalibrationSource(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}  // NOLINT: implicit on purpose
  const std::vector<std::string>& dirs() const { return dirs_; }
  // Loads and fits `dir` (or returns the cached fit). Throws InputError like load_calibration.
  CalibratedCosts load(const std::string& dir, const std::string& model_name, const Catalog& catalog) const;
  // Cost tables for `gpu` and `shard` assembled by the cross-GPU transfer model from every
  // bundle under dirs() (calibration/transfer/transfer_bundle.h); nullopt when no measured
  // GPU has tables for this shard. The model is built on first use and kept.
  std::optional<CalibratedCosts> transferred(const Catalog& catalog, const GpuSpec& gpu,
                                             const std::string& shard) const;

 private:
  std::vector<std::string> dirs_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, CalibratedCosts> cache_;
  mutable std::map<std::string, std::optional<CalibratedCosts>> transferred_;
  mutable std::shared_ptr<const void> transfer_model_;  // TransferModel + its Catalog copy
};

// The installed calibration for `shard` of `model` on `gpu` (cost_model.kind auto): a bundle in a
// search directory for this GPU and shard; else one measured for a catalog model with the same
// layer shapes (ModelSpec::same_kernel_shapes); else the transfer model's tables for either name;
// nullopt: the roofline.
std::optional<CalibratedCosts> find_installed_calibration(const CalibrationSource& calibration, const Catalog& catalog,
                                                         const GpuSpec& gpu, const ModelSpec& model, const std::string& shard);

// Loads and fits a bundle for `model_name` from `dir` (a bundle directory). Throws InputError if it
// is malformed, measured for another model shape, or physically implausible on its GPU.
// `catalog` holds the GPU the bundle names (built in, or added with --catalog): its datasheet
// figures bound the bundle's times (require_plausible).
CalibratedCosts load_calibration(const std::string& dir, const std::string& model_name, const Catalog& catalog);

// The catalog GPU a bundle in `dir` was measured on; InputError when meta.json names no known
// GPU or the catalog lacks it (naming --catalog as the fix). Used by loading and by `calibrate check`.
const GpuSpec& bundle_gpu(const CalibratedCosts& c, const std::string& dir, const Catalog& catalog);

}  // namespace kvsim
