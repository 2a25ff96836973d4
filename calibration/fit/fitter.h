#pragma once
// Fits a bundle's measurements into CalibratedCosts (Eigen least squares, relative error)
// and reports each operator's error on held-out points: leave-one-out for interpolated
// GEMM curves, 5-fold cross-validation for the linear models.
#include <nlohmann/json.hpp>

#include "calibration/fit/bundle.h"
#include "models/cost/calibrated_costs.h"

namespace kvsim {

// `catalog_gpu` is the kvsim GPU name the bundle was measured on ("" to infer from meta).
CalibratedCosts fit_bundle(const Bundle& bundle, const std::string& catalog_gpu = "");

// Relative-error least squares: minimizes sum(((X b - y) / y)^2). Exposed for tests.
std::vector<double> fit_relative_ls(const std::vector<std::vector<double>>& X, const std::vector<double>& y);

nlohmann::json fit_report_json(const CalibratedCosts& c);

// Infers the kvsim catalog name from a CUDA device name ("NVIDIA H200" -> "h200").
std::string catalog_gpu_from_device_name(const std::string& device_name);

// The catalog GPU a bundle was measured on: meta.json "catalog_gpu" where an importer named it
// (imported profiles carry no device name), else inferred from "gpu_name"; "" if neither.
std::string catalog_gpu_of(const Bundle& b);

}  // namespace kvsim
