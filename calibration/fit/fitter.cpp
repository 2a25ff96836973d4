#include "calibration/fit/fitter.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "sim/core/error.h"

namespace kvsim {

std::vector<double> fit_relative_ls(const std::vector<std::vector<double>>& X, const std::vector<double>& y) {
  const Eigen::Index n = static_cast<Eigen::Index>(y.size());
  const Eigen::Index k = X.empty() ? 0 : static_cast<Eigen::Index>(X[0].size());
  if (n == 0 || k == 0) return {};
  Eigen::MatrixXd A(n, k);
  Eigen::VectorXd b(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double w = 1.0 / y[static_cast<std::size_t>(i)];
    for (Eigen::Index j = 0; j < k; ++j) A(i, j) = X[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] * w;
    b(i) = 1.0;
  }
  // Scale columns so features of very different magnitude (1 vs 1e9 bytes) condition well.
  Eigen::VectorXd scale(k);
  for (Eigen::Index j = 0; j < k; ++j) {
    scale(j) = A.col(j).cwiseAbs().maxCoeff();
    if (scale(j) == 0) scale(j) = 1;
    A.col(j) /= scale(j);
  }
  const Eigen::VectorXd sol = A.colPivHouseholderQr().solve(b);
  std::vector<double> out(static_cast<std::size_t>(k));
  for (Eigen::Index j = 0; j < k; ++j) out[static_cast<std::size_t>(j)] = sol(j) / scale(j);
  return out;
}

namespace {

struct Sample {
  std::vector<double> features;
  double t;
};

FitQuality quality(const std::string& op, std::vector<double> errors, int points) {
  FitQuality q;
  q.op = op;
  q.points = points;
  q.held_out = static_cast<int>(errors.size());
  if (errors.empty()) return q;
  std::sort(errors.begin(), errors.end());
  q.median_err = errors[errors.size() / 2];
  q.p90_err = errors[std::min(errors.size() - 1, static_cast<std::size_t>(0.9 * static_cast<double>(errors.size())))];
  q.max_err = errors.back();
  return q;
}

LinearFit fit_linear(const std::string& op, const std::vector<Sample>& s, std::vector<FitQuality>& report) {
  LinearFit f;
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (const auto& p : s) {
    X.push_back(p.features);
    y.push_back(p.t);
  }
  f.coef = fit_relative_ls(X, y);
  // 5-fold cross-validation when there are enough points to spare a fold.
  std::vector<double> errors;
  const std::size_t k = X.empty() ? 0 : X[0].size();
  if (s.size() >= 2 * k + 5) {
    for (std::size_t fold = 0; fold < 5; ++fold) {
      std::vector<std::vector<double>> Xt;
      std::vector<double> yt;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (i % 5 != fold) {
          Xt.push_back(X[i]);
          yt.push_back(y[i]);
        }
      }
      LinearFit part;
      part.coef = fit_relative_ls(Xt, yt);
      for (std::size_t i = fold; i < s.size(); i += 5) errors.push_back(std::abs(part.eval(X[i]) - y[i]) / y[i]);
    }
  }
  report.push_back(quality(op, errors, static_cast<int>(s.size())));
  return f;
}

PiecewiseLogLog fit_curve(const std::string& op, std::map<double, std::vector<double>> points,
                          std::vector<FitQuality>& report) {
  PiecewiseLogLog c;
  for (auto& [x, ts] : points) {
    std::sort(ts.begin(), ts.end());
    c.x.push_back(x);
    c.t_us.push_back(ts[ts.size() / 2]);
  }
  // Leave-one-out on interior points: interpolate each from its neighbours.
  std::vector<double> errors;
  for (std::size_t i = 1; i + 1 < c.x.size(); ++i) {
    PiecewiseLogLog without = c;
    without.x.erase(without.x.begin() + static_cast<std::ptrdiff_t>(i));
    without.t_us.erase(without.t_us.begin() + static_cast<std::ptrdiff_t>(i));
    errors.push_back(std::abs(without.eval(c.x[i]) - c.t_us[i]) / c.t_us[i]);
  }
  report.push_back(quality(op, errors, static_cast<int>(c.x.size())));
  return c;
}

bool truthy(const std::string& s) { return s == "1" || s == "true" || s == "fused" || s == "yes"; }

}  // namespace

std::string catalog_gpu_from_device_name(const std::string& device_name) {
  std::string s;
  for (char ch : device_name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (s.find("h200") != std::string::npos) return "h200";
  if (s.find("h100") != std::string::npos) return s.find("pcie") != std::string::npos ? "h100-pcie" : "h100-sxm";
  if (s.find("b200") != std::string::npos) return "b200";
  if (s.find("l40s") != std::string::npos) return "l40s";
  if (s.find("a6000") != std::string::npos) return "rtx-a6000";
  if (s.find("a100") != std::string::npos) return s.find("40gb") != std::string::npos ? "a100-40gb" : "a100-80gb";
  return "";
}

CalibratedCosts fit_bundle(const Bundle& b, const std::string& catalog_gpu) {
  CalibratedCosts c;
  c.gpu_name = b.meta["gpu_name"].get<std::string>();
  c.catalog_gpu = catalog_gpu.empty() ? catalog_gpu_from_device_name(c.gpu_name) : catalog_gpu;
  c.model_shape = b.meta["model_shape"]["name"].get<std::string>();
  c.provenance = b.dir + " (" + c.gpu_name + ", measured " + b.meta["date_utc"].get<std::string>() +
                 (b.meta.contains("driver_version") ? ", driver " + b.meta["driver_version"].dump() : "") + ")";

  if (b.has("gemm")) {
    const BundleTable& t = b.tables.at("gemm");
    std::map<std::string, std::map<double, std::vector<double>>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      by[t.str(i, "op") + "/" + t.str(i, "dtype")][t.num(i, "m")].push_back(t.num(i, "time_us_median"));
    }
    for (auto& [key, pts] : by) c.gemm[key] = fit_curve("gemm " + key, std::move(pts), c.quality);
  }
  if (b.has("decode_attention")) {
    const BundleTable& t = b.tables.at("decode_attention");
    std::map<std::string, std::vector<Sample>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const double B = t.num(i, "batch"), mean = t.num(i, "context_mean"), mx = t.num(i, "context_max");
      const std::string key = t.str(i, "kv_format") + "/" + (truthy(t.str(i, "fused")) ? "fused" : "unfused");
      by[key].push_back({{1.0, B, B * mean, mx}, t.num(i, "time_us_median")});
    }
    for (auto& [key, s] : by) c.decode[key] = fit_linear("decode_attention " + key, s, c.quality);
  }
  if (b.has("prefill_attention")) {
    const BundleTable& t = b.tables.at("prefill_attention");
    std::map<std::string, std::vector<Sample>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const double n = t.num(i, "new_tokens"), p = t.num(i, "cached_tokens");
      const double pairs = n * p + n * (n + 1) / 2.0;
      by[t.str(i, "variant")].push_back({{1.0, n, pairs, n + p}, t.num(i, "time_us_median")});
    }
    for (auto& [key, s] : by) c.prefill[key] = fit_linear("prefill_attention " + key, s, c.quality);
  }
  if (b.has("elementwise")) {
    const BundleTable& t = b.tables.at("elementwise");
    std::map<std::string, std::vector<Sample>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      by[t.str(i, "op")].push_back({{1.0, t.num(i, "rows")}, t.num(i, "time_us_median")});
    }
    for (auto& [key, s] : by) c.elementwise[key] = fit_linear("elementwise " + key, s, c.quality);
  }
  if (b.has("compression")) {
    const BundleTable& t = b.tables.at("compression");
    std::map<std::string, std::vector<Sample>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      by[t.str(i, "op") + "/" + t.str(i, "format")].push_back(
          {{1.0, t.num(i, "tokens"), t.num(i, "context")}, t.num(i, "time_us_median")});
    }
    for (auto& [key, s] : by) c.compression[key] = fit_linear("compression " + key, s, c.quality);
  }
  if (b.has("copy")) {
    const BundleTable& t = b.tables.at("copy");
    std::map<std::string, std::vector<Sample>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      by[t.str(i, "direction")].push_back({{1.0, t.num(i, "bytes")}, t.num(i, "time_us_median")});
    }
    for (auto& [key, s] : by) c.copy[key] = fit_linear("copy " + key, s, c.quality);
  }
  if (b.has("launch")) {
    const BundleTable& t = b.tables.at("launch");
    double best_graph = 0, best_eager = 0, kg = 0, ke = 0;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const double k = t.num(i, "kernels"), tm = t.num(i, "time_us_median");
      const std::string mode = t.str(i, "mode");
      // The largest launch count amortizes the fixed cost of the measurement itself.
      if (mode == "graph" && k > kg) kg = k, best_graph = tm / k;
      if (mode == "eager" && k > ke) ke = k, best_eager = tm / k;
    }
    c.graph_us_per_kernel = best_graph;
    c.eager_us_per_kernel = best_eager;
  }
  return c;
}

nlohmann::json fit_report_json(const CalibratedCosts& c) {
  nlohmann::json j;
  j["schema_version"] = 1;
  j["gpu_name"] = c.gpu_name;
  j["catalog_gpu"] = c.catalog_gpu;
  j["model_shape"] = c.model_shape;
  j["provenance"] = c.provenance;
  j["graph_us_per_kernel"] = c.graph_us_per_kernel;
  j["eager_us_per_kernel"] = c.eager_us_per_kernel;
  std::vector<double> medians;
  for (const auto& q : c.quality) {
    j["operators"].push_back({{"op", q.op},
                              {"points", q.points},
                              {"held_out", q.held_out},
                              {"median_rel_error", q.median_err},
                              {"p90_rel_error", q.p90_err},
                              {"max_rel_error", q.max_err}});
    if (q.held_out > 0) medians.push_back(q.median_err);
  }
  std::sort(medians.begin(), medians.end());
  j["median_of_operator_medians"] = medians.empty() ? 0.0 : medians[medians.size() / 2];
  return j;
}

}  // namespace kvsim
