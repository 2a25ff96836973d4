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
  std::string provenance;    // one line: bundle dir, date, driver, tool version
  // gemm[op + "/" + dtype], op in qkv, o, gate_up, down, lm_head; x = rows (tokens)
  std::map<std::string, PiecewiseLogLog> gemm;
  // decode[kv_format + "/" + (fused ? "fused" : "unfused")]: features {1, B, sum ctx, max ctx}
  std::map<std::string, LinearFit> decode;
  // prefill[variant]: features {1, new tokens, attended pairs, new + cached}
  std::map<std::string, LinearFit> prefill;
  // elementwise[op]: features {1, rows}
  std::map<std::string, LinearFit> elementwise;
  // compression[op + "/" + format]: features {1, tokens, context}
  std::map<std::string, LinearFit> compression;
  // copy[direction]: features {1, bytes}
  std::map<std::string, LinearFit> copy;
  double graph_us_per_kernel = 0;   // launch gap inside a CUDA graph
  double eager_us_per_kernel = 0;
  std::vector<FitQuality> quality;
};

}  // namespace kvsim
