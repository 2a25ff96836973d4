#include "calibration/fit/fitter.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <array>
#include <map>
#include <set>

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

// Builds a log-log grid from (x, y, t) points; held-out error: each interior point predicted
// from its neighbours along x and along y (log-linear), as interpolation would without it.
Grid2D fit_grid(const std::string& op, const std::vector<std::array<double, 3>>& pts, bool log_x, bool log_y,
                std::vector<FitQuality>& report) {
  Grid2D g;
  g.log_x = log_x;
  g.log_y = log_y;
  std::set<double> xs, ys;
  for (const auto& p : pts) {
    xs.insert(p[0]);
    ys.insert(p[1]);
  }
  g.xs.assign(xs.begin(), xs.end());
  g.ys.assign(ys.begin(), ys.end());
  g.t_us.assign(g.xs.size(), std::vector<double>(g.ys.size(), 0.0));
  std::vector<std::vector<double>> X;
  std::vector<double> y;
  for (const auto& p : pts) {
    const auto i = static_cast<std::size_t>(std::lower_bound(g.xs.begin(), g.xs.end(), p[0]) - g.xs.begin());
    const auto j = static_cast<std::size_t>(std::lower_bound(g.ys.begin(), g.ys.end(), p[1]) - g.ys.begin());
    g.t_us[i][j] = p[2];
    X.push_back({1.0, p[0], p[0] * p[1], p[1]});
    y.push_back(p[2]);
  }
  g.fallback.coef = fit_relative_ls(X, y);
  auto interp_x = [&](double x0, double t0, double x1, double t1, double x) {
    return Grid2D::lerp(x0, t0, x1, t1, x, log_x);
  };
  auto interp_y = [&](double y0, double t0, double y1, double t1, double at) {
    return Grid2D::lerp(y0, t0, y1, t1, at, log_y);
  };
  std::vector<double> errors;
  for (std::size_t i = 0; i < g.xs.size(); ++i) {
    for (std::size_t j = 0; j < g.ys.size(); ++j) {
      const double t = g.t_us[i][j];
      if (t <= 0) continue;
      std::vector<double> preds;
      if (i > 0 && i + 1 < g.xs.size() && g.t_us[i - 1][j] > 0 && g.t_us[i + 1][j] > 0) {
        preds.push_back(interp_x(g.xs[i - 1], g.t_us[i - 1][j], g.xs[i + 1], g.t_us[i + 1][j], g.xs[i]));
      }
      if (j > 0 && j + 1 < g.ys.size() && g.t_us[i][j - 1] > 0 && g.t_us[i][j + 1] > 0) {
        preds.push_back(interp_y(g.ys[j - 1], g.t_us[i][j - 1], g.ys[j + 1], g.t_us[i][j + 1], g.ys[j]));
      }
      if (preds.empty()) continue;
      double lp = 0;
      for (double p : preds) lp += std::log(p);
      errors.push_back(std::abs(std::exp(lp / static_cast<double>(preds.size())) - t) / t);
    }
  }
  report.push_back(quality(op, errors, static_cast<int>(pts.size())));
  return g;
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
  if (s.find("h800") != std::string::npos) return "h800";
  if (s.find("a6000") != std::string::npos) return "rtx-a6000";
  if (s.find("a800") != std::string::npos) return "a800-80gb";
  if (s.find("a40") != std::string::npos) return "a40";
  if (s.find("a100") != std::string::npos) return s.find("40gb") != std::string::npos ? "a100-40gb" : "a100-80gb";
  return "";
}

std::string catalog_gpu_of(const Bundle& b) {
  if (b.meta.contains("catalog_gpu") && b.meta["catalog_gpu"].is_string()) return b.meta["catalog_gpu"].get<std::string>();
  return catalog_gpu_from_device_name(b.meta.value("gpu_name", std::string()));
}

CalibratedCosts fit_bundle(const Bundle& b, const std::string& catalog_gpu) {
  CalibratedCosts c;
  c.gpu_name = b.meta["gpu_name"].get<std::string>();
  c.catalog_gpu = catalog_gpu.empty() ? catalog_gpu_of(b) : catalog_gpu;
  c.model_shape = b.meta["model_shape"]["name"].get<std::string>();
  // No directory in the provenance line: it is printed on stdout, which must not depend on
  // where kvsim is installed (golden outputs, CI clones). The directory is kept apart.
  c.bundle_dir = b.dir;
  c.provenance = "bundle " + c.model_shape + " on " + c.gpu_name + ", measured " + b.meta["date_utc"].get<std::string>();

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
    std::map<std::string, std::vector<std::array<double, 3>>> uniform;
    std::map<std::string, std::vector<std::array<double, 4>>> mixed;  // B, mean, max, t
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const double B = t.num(i, "batch"), mean = t.num(i, "context_mean"), mx = t.num(i, "context_max");
      const std::string key = t.str(i, "kv_format") + "/" + (truthy(t.str(i, "fused")) ? "fused" : "unfused");
      if (mx <= mean * 1.0001) uniform[key].push_back({B, mean, t.num(i, "time_us_median")});
      else mixed[key].push_back({B, mean, mx, t.num(i, "time_us_median")});
    }
    for (auto& [key, pts] : uniform) {
      c.decode[key] = fit_grid("decode_attention " + key, pts, false, false, c.quality);
      // Spread: what mixed batches cost beyond a uniform batch of the same mean context,
      // per token of (max - mean): the longest sequence's split-K tail.
      std::vector<double> per;
      std::vector<double> errors;
      for (const auto& m : mixed[key]) {
        const double base = c.decode[key].eval(m[0], m[1]);
        per.push_back(std::max(0.0, (m[3] - base) / (m[2] - m[1])));
      }
      std::sort(per.begin(), per.end());
      const double spread = per.empty() ? 0.0 : per[per.size() / 2];
      c.decode_spread_us_per_token[key] = spread;
      for (const auto& m : mixed[key]) {
        const double pred = c.decode[key].eval(m[0], m[1]) + spread * (m[2] - m[1]);
        errors.push_back(std::abs(pred - m[3]) / m[3]);
      }
      if (!mixed[key].empty()) {
        c.quality.push_back(quality("decode_attention " + key + " mixed batches (in-sample)", errors,
                                    static_cast<int>(mixed[key].size())));
        c.quality.back().held_out = 0;  // in-sample: not counted as held-out error
      }
    }
  }
  if (b.has("prefill_attention")) {
    const BundleTable& t = b.tables.at("prefill_attention");
    std::map<std::string, std::vector<std::array<double, 3>>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      // y = cached + 1 keeps the log axis defined for a prefill with nothing cached.
      by[t.str(i, "variant")].push_back({t.num(i, "new_tokens"), t.num(i, "cached_tokens") + 1, t.num(i, "time_us_median")});
    }
    for (auto& [key, pts] : by) c.prefill[key] = fit_grid("prefill_attention " + key, pts, true, false, c.quality);
  }
  if (b.has("elementwise")) {
    const BundleTable& t = b.tables.at("elementwise");
    std::map<std::string, std::map<double, std::vector<double>>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) by[t.str(i, "op")][t.num(i, "rows")].push_back(t.num(i, "time_us_median"));
    for (auto& [key, pts] : by) c.elementwise[key] = fit_curve("elementwise " + key, std::move(pts), c.quality);
  }
  if (b.has("compression")) {
    const BundleTable& t = b.tables.at("compression");
    std::map<std::string, std::vector<Sample>> by;
    std::map<std::string, std::vector<std::array<double, 3>>> grids;  // (batch, context, t)
    const bool has_batch = t.col("batch") >= 0;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const std::string key = t.str(i, "op") + "/" + t.str(i, "format");
      if (has_batch && t.str(i, "op") == "h2o_topk") {
        grids[key].push_back({t.num(i, "batch"), t.num(i, "context"), t.num(i, "time_us_median")});
        continue;
      }
      by[key].push_back({{1.0, t.num(i, "tokens"), t.num(i, "context")}, t.num(i, "time_us_median")});
    }
    for (auto& [key, s] : by) c.compression[key] = fit_linear("compression " + key, s, c.quality);
    for (auto& [key, pts] : grids) c.compression_grid[key] = fit_grid("compression " + key, pts, false, true, c.quality);
  }
  if (b.has("copy")) {
    const BundleTable& t = b.tables.at("copy");
    std::map<std::string, std::map<double, std::vector<double>>> by;
    for (std::size_t i = 0; i < t.rows.size(); ++i) by[t.str(i, "direction")][t.num(i, "bytes")].push_back(t.num(i, "time_us_median"));
    for (auto& [key, pts] : by) c.copy[key] = fit_curve("copy " + key, std::move(pts), c.quality);
  }
  if (b.has("launch")) {
    const BundleTable& t = b.tables.at("launch");
    double best_graph = 0, best_eager = 0, kg = 0, ke = 0;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const double k = t.num(i, "kernels"), tm = t.num(i, "time_us_median");
      const std::string mode = t.str(i, "mode");
      // The largest launch count amortizes the fixed cost of the measurement itself; device
      // events time the GPU side only (what a replayed graph costs).
      if (mode == "graph_device_events" && k > kg) kg = k, best_graph = tm / k;
      if (mode == "eager_device_events" && k > ke) ke = k, best_eager = tm / k;
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
