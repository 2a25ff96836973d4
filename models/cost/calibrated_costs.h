#pragma once
// Cost tables fitted from a calibration bundle (calibration/fit builds them). Plain data
// with evaluation functions: no Eigen here, so the simulator core never sees it.
#include <map>
#include <string>
#include <vector>

namespace kvsim {

// Interpolates measured (x, t) points in log-log space; extrapolates with roofline shape:
// flat below the smallest x (fixed cost dominates, e.g. weights read once), proportional
// to x above the largest (throughput-bound).
struct PiecewiseLogLog {
  std::vector<double> x;
  std::vector<double> t_us;
  double eval(double at) const;
  bool empty() const { return x.empty(); }
};

// t_us = sum_i coef[i] * feature_i, features chosen by the fitter for each operator family.
struct LinearFit {
  std::vector<double> coef;
  double eval(const std::vector<double>& features) const;
  bool empty() const { return coef.empty(); }
};

// A measured grid t(x, y), interpolated along x then along y, each axis either linearly or
// in log-log space (bilinear interpolation in linear space is exact for t = a + bx + cy +
// dxy, the shape of decode attention; prefill's quadratic growth in new tokens is closer to
// a power law). Outside the grid, or where a corner is missing, `fallback` (a linear fit)
// is used, rescaled to agree with the nearest grid point so the surface stays continuous.
struct Grid2D {
  std::vector<double> xs, ys;            // sorted axis values
  std::vector<std::vector<double>> t_us;  // [i][j], 0 where not measured
  bool log_x = false, log_y = false;
  LinearFit fallback;                    // features {1, x, x*y, y}
  // Interpolates t between (a, ta) and (b, tb) at `at`, in log-log space if `log`.
  static double lerp(double a, double ta, double b, double tb, double at, bool log);
  double eval(double x, double y) const;
  bool empty() const { return xs.empty(); }
};

struct FitQuality {
  std::string op;
  int points = 0;
  int held_out = 0;
  double median_err = 0;  // relative, on held-out points
  double p90_err = 0;
  double max_err = 0;
};

struct CalibratedCosts {
  std::string gpu_name;      // as the bundle's meta.json names it
  std::string catalog_gpu;   // kvsim catalog name it was measured on (e.g. "h200")
  std::string model_shape;   // e.g. "llama-3-8b"
  std::string provenance;    // one line: model shape, GPU, measurement date (no paths)
  std::string bundle_dir;    // where it was read from (report.json only)
  // gemm[op + "/" + dtype], op in qkv, o, gate_up, down, lm_head; x = rows (tokens)
  std::map<std::string, PiecewiseLogLog> gemm;
  // decode[kv_format + "/" + (fused ? "fused" : "unfused")]: t(batch, mean context) from the
  // uniform batches, plus decode_spread[...] x (max - mean context) fitted on mixed batches.
  std::map<std::string, Grid2D> decode;
  std::map<std::string, double> decode_spread_us_per_token;
  // prefill[variant]: t(new tokens, cached tokens + 1) for one sequence
  std::map<std::string, Grid2D> prefill;
  // elementwise[op]: t(rows)
  std::map<std::string, PiecewiseLogLog> elementwise;
  // compression[op + "/" + format]: features {1, tokens, context}
  std::map<std::string, LinearFit> compression;
  // Compression operators whose time is not affine in (tokens, context), interpolated on their
  // measured (batch, context) grid instead: h2o_topk (a top-k per sequence runs in parallel
  // across the batch until the GPU fills, so time is flat in batch, then grows).
  std::map<std::string, Grid2D> compression_grid;
  // copy[direction]: t(bytes)
  std::map<std::string, PiecewiseLogLog> copy;
  double graph_us_per_kernel = 0;   // launch gap inside a CUDA graph
  double eager_us_per_kernel = 0;
  std::vector<FitQuality> quality;
  // Assembled by the cross-GPU transfer model: where each operator group came from (one line
  // each, with the leave-one-out error of the source GPU), and whether all were measured on
  // this GPU itself. Empty for a bundle read from disk.
  std::vector<std::string> transfer_sources;
  bool transfer_all_measured = false;
};

}  // namespace kvsim
