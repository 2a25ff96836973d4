#include "models/cost/engine_kernels.h"

#include <algorithm>
#include <cstring>

namespace kvsim {

namespace {

bool is(const char* a, const std::string& b) { return std::strcmp(a, b.c_str()) == 0; }

Grid2D grid(const std::vector<const EngineKernelPoint*>& pts, double EngineKernelPoint::*value) {
  Grid2D g;
  for (const auto* p : pts) {
    g.xs.push_back(p->batch);
    g.ys.push_back(p->length);
  }
  for (auto* axis : {&g.xs, &g.ys}) {
    std::sort(axis->begin(), axis->end());
    axis->erase(std::unique(axis->begin(), axis->end()), axis->end());
  }
  g.t_us.assign(g.xs.size(), std::vector<double>(g.ys.size(), 0.0));
  for (const auto* p : pts) {
    const auto i = static_cast<std::size_t>(std::find(g.xs.begin(), g.xs.end(), p->batch) - g.xs.begin());
    const auto j = static_cast<std::size_t>(std::find(g.ys.begin(), g.ys.end(), p->length) - g.ys.begin());
    g.t_us[i][j] = p->*value;
  }
  return g;
}

}  // namespace

std::optional<EngineKernels> study_lmdeploy_kernels(const std::string& model) {
  EngineKernels k;
  k.source = "the study's LMDeploy-0.6 fork Triton kernels on an H200 (calibration/e2e/results/h200/study_lmdeploy_kernels)";
  auto rows = [&](const std::string& kernel) {
    std::vector<const EngineKernelPoint*> out;
    for (const auto& p : study_lmdeploy_kernel_points()) {
      if (is(p.kernel, kernel) && is(p.model, model)) out.push_back(&p);
    }
    return out;
  };
  for (const std::string fmt : {"fp16", "gear_int4", "kivi_int4"}) {
    const auto dec = rows(fmt + "_decode");
    if (!dec.empty()) {
      Grid2D g = grid(dec, &EngineKernelPoint::device_us);
      for (const auto& f : study_lmdeploy_kernel_fallbacks()) {
        if (is(f.kernel, fmt + "_decode") && is(f.model, model)) g.fallback.coef.assign(f.coef, f.coef + 4);
      }
      k.decode[fmt] = std::move(g);
    }
    PiecewiseLogLog pf;
    for (const auto* p : rows(fmt + "_prefill")) {
      if (p->batch != 1) continue;
      pf.x.push_back(p->length);
      pf.t_us.push_back(p->device_us);
    }
    if (!pf.empty()) k.prefill[fmt] = std::move(pf);
  }
  const auto h2o = rows("h2o_score_pass");
  if (!h2o.empty()) {
    k.h2o_score = grid(h2o, &EngineKernelPoint::device_us);
    for (const auto* p : h2o) {
      if (p->batch != 1 || p->as_called_us <= 0) continue;
      k.h2o_host.x.push_back(p->length);
      k.h2o_host.t_us.push_back(std::max(0.0, p->as_called_us - p->device_us));
    }
  }
  if (k.decode.empty()) return std::nullopt;
  return k;
}

}  // namespace kvsim
