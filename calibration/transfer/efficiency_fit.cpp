#include "calibration/transfer/efficiency_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace kvsim {

GpuPeaks peaks_of(const GpuSpec& gpu) { return {gpu.fp16_tflops * 1e6, gpu.hbm_bandwidth_gbps * 1e3}; }

GpuPeaks peaks_of(const GpuSpec& gpu, OpClass cls) {
  if (cls != OpClass::kCollective) return peaks_of(gpu);
  const double link = gpu.nvlink_gbps > 0 ? gpu.nvlink_gbps / 2.0 : gpu.host_link_gbps;
  return {gpu.fp16_tflops * 1e6, link * 1e3};
}

double efficiency_time_us(const EfficiencyParams& p, const GpuPeaks& g, double flops, double bytes) {
  const double compute = flops > 0 ? flops / (g.flops_per_us * p.compute_eff) : 0.0;
  const double memory = bytes > 0 ? bytes / (g.bytes_per_us * p.memory_eff) : 0.0;
  return p.floor_us + std::max(compute, memory);
}

namespace {

// Bounds of the fitted parameters (log space): efficiencies from 1 % to 100 % of datasheet.
constexpr double kEffLo = 0.01, kEffHi = 1.0;

struct Objective {
  const std::vector<const OpSample*>& s;
  GpuPeaks g;
  double operator()(const EfficiencyParams& p) const {
    double sum = 0;
    for (const OpSample* x : s) {
      const double e = std::log(efficiency_time_us(p, g, x->flops, x->bytes) / x->time_us);
      sum += e * e;
    }
    return sum / static_cast<double>(s.size());
  }
};

// Minimizes f over [lo, hi] (a log-space coordinate) by golden-section search.
template <class F>
double golden(F f, double lo, double hi) {
  const double r = (std::sqrt(5.0) - 1.0) / 2.0;
  double a = lo, b = hi, c = b - r * (b - a), d = a + r * (b - a);
  double fc = f(c), fd = f(d);
  for (int i = 0; i < 40; ++i) {
    if (fc < fd) {
      b = d, d = c, fd = fc, c = b - r * (b - a), fc = f(c);
    } else {
      a = c, c = d, fc = fd, d = a + r * (b - a), fd = f(d);
    }
  }
  return fc < fd ? c : d;
}

}  // namespace

EfficiencyParams fit_efficiency(const std::vector<const OpSample*>& all, const GpuPeaks& gpu) {
  if (all.empty()) throw std::invalid_argument("fit_efficiency: no samples");
  // A fixed stride keeps the fit fast on large tables (Vidur's have ~20k linear-layer rows per
  // GPU) and deterministic; the fitted curve has three parameters, 2000 points pin it.
  constexpr std::size_t kMaxPoints = 2000;
  std::vector<const OpSample*> samples;
  const std::size_t stride = (all.size() + kMaxPoints - 1) / kMaxPoints;
  for (std::size_t i = 0; i < all.size(); i += stride) samples.push_back(all[i]);
  bool any_flops = false, any_bytes = false;
  double min_t = std::numeric_limits<double>::infinity();
  for (const OpSample* s : samples) {
    any_flops |= s->flops > 0;
    any_bytes |= s->bytes > 0;
    min_t = std::min(min_t, s->time_us);
  }
  const Objective obj{samples, gpu};
  // The floor lies in [1e-3 us, min measured time]; searched as log(floor).
  const double f_lo = std::log(1e-3), f_hi = std::log(std::max(min_t, 2e-3));
  EfficiencyParams best;
  double best_err = std::numeric_limits<double>::infinity();
  for (const double start_eff : {0.3, 0.7}) {
    for (const double start_floor : {0.1, 0.8}) {
      EfficiencyParams p;
      p.compute_eff = start_eff;
      p.memory_eff = start_eff;
      p.floor_us = start_floor * min_t;
      for (int sweep = 0; sweep < 8; ++sweep) {
        p.floor_us = std::exp(golden(
            [&](double v) {
              EfficiencyParams q = p;
              q.floor_us = std::exp(v);
              return obj(q);
            },
            f_lo, f_hi));
        if (any_bytes) p.memory_eff = std::exp(golden(
            [&](double v) {
              EfficiencyParams q = p;
              q.memory_eff = std::exp(v);
              return obj(q);
            },
            std::log(kEffLo), std::log(kEffHi)));
        if (any_flops) {
          p.compute_eff = std::exp(golden(
              [&](double v) {
                EfficiencyParams q = p;
                q.compute_eff = std::exp(v);
                return obj(q);
              },
              std::log(kEffLo), std::log(kEffHi)));
        }
      }
      const double err = obj(p);
      if (err < best_err) best_err = err, best = p;
    }
  }
  best.points = static_cast<int>(all.size());
  best.uses_compute = any_flops;
  best.uses_memory = any_bytes;
  best.rms_log_error = std::sqrt(best_err);
  return best;
}

}  // namespace kvsim
