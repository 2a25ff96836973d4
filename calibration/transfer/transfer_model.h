#pragma once
// Cross-GPU transfer (docs/calibration.md, "Cross-GPU transfer"): predicts an operator's time
// on a GPU from measurements on the nearest measured GPU that ran the same implementation.
//
//   t_target = t_source(workload) * model(p_target, target) / model(p_source, source)
//
// where model() is the class's fitted efficiency curve (efficiency_fit.h) evaluated with each
// GPU's datasheet peak and bandwidth, p_source is fitted on the source's samples and p_target
// on the target's own samples where it has any (else p_source: the same achieved fractions of
// a different datasheet). The source is the nearest GPU that ran this exact workload; where no
// GPU ran it, the nearest GPU's curve alone: model(p_target, target). Sources are ranked by gpu_match.h; a source must have run the same implementation
// (kernels differ more between libraries than between GPUs of one generation).
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "calibration/fit/bundle.h"
#include "calibration/transfer/efficiency_fit.h"
#include "calibration/transfer/op_sample.h"
#include "models/spec/catalog.h"

namespace kvsim {

// One measured bundle: the catalog GPU it ran on and its samples (impl set per family from
// meta.json "implementation": a string for every family or an object by family; default
// "kvsim-calibrate").
struct MeasuredSet {
  std::string gpu;
  std::string dir;
  ShardShape shape;
  Bundle bundle;
  std::vector<OpSample> samples;
};

MeasuredSet measured_set(Bundle b, const std::string& catalog_gpu);

// Every complete bundle (meta.json status "complete", not quick or dry-run) at most three
// levels under each root, whose GPU is in the catalog. Sorted by GPU, then directory.
std::vector<MeasuredSet> load_measured_sets(const std::vector<std::string>& roots, const Catalog& catalog);

class TransferModel {
 public:
  TransferModel(const Catalog& catalog, std::vector<MeasuredSet> sets);

  struct Prediction {
    double time_us = 0;
    std::string source;  // catalog GPU the time came from
    bool paired = false; // the source measured this exact workload
  };
  // `exclude` names a GPU whose measurements may not be used (leave-one-out: the target).
  std::optional<Prediction> predict(const GpuSpec& target, const OpSample& s, const std::string& exclude = "") const;
  // model(p_target, target) / model(p_source, source) for this workload: the factor that moves
  // a time `source` measured onto `target` (p_target: the target's own curve where it has one).
  double ratio(const GpuSpec& target, const std::string& source, const OpSample& s) const;
  // The source predict() would use for this implementation and class, or "" if none.
  std::string source_for(const GpuSpec& target, const std::string& impl, OpClass cls,
                         const std::string& exclude = "") const;
  // Measured GPUs with this implementation and class, nearest first (gpu_match.h).
  std::vector<std::string> ranked_sources(const GpuSpec& target, const std::string& impl, OpClass cls,
                                          const std::string& exclude = "") const;
  const EfficiencyParams* params(const std::string& gpu, const std::string& impl, OpClass cls) const;

  const std::vector<MeasuredSet>& sets() const { return sets_; }
  const std::map<std::tuple<std::string, std::string, int>, EfficiencyParams>& all_params() const { return params_; }
  const Catalog& catalog() const { return catalog_; }
  const std::vector<std::string>& measured_gpus() const { return measured_gpus_; }  // sorted

 private:
  using ClassKey = std::tuple<std::string, std::string, int>;  // gpu, impl, class
  const Catalog& catalog_;
  std::vector<MeasuredSet> sets_;
  std::vector<std::string> measured_gpus_;
  std::map<ClassKey, EfficiencyParams> params_;
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> times_;  // (gpu, impl) -> key -> us
};

// Leave-one-GPU-out: each measured GPU's samples predicted from the others.
struct LooRow {
  std::string gpu, impl, cls, source;
  int points = 0;
  double mape = 0, p90 = 0, max = 0;  // relative errors
};
std::vector<LooRow> leave_one_out_ops(const TransferModel& m);

// Whole steps composed from one bundle's per-layer operators (4 linear layers, 2 norms,
// rotary, activation, 2 residual adds, and attention where the bundle measured it), measured
// against predicted: decode steps of n sequences at one context, prefill steps of one prompt.
struct StepLooRow {
  std::string gpu, shape, phase, impl, source, contents;
  int steps = 0;
  double mape = 0, max = 0;
};
std::vector<StepLooRow> leave_one_out_steps(const TransferModel& m);

}  // namespace kvsim
