#pragma once
// A bundle overlay: a measured bundle plus rows that describe another implementation's kernels
// (a framework's GEMMs, its prefill attention), so `kvsim step/run` can price a framework with
// its own kernels and everything else from the bundle (docs/calibration.md, "Overlays").
//
// Overlay rows add new variants only: every gemm row's `dtype` and every prefill_attention
// row's `variant` must be absent from the base table, so measured rows are never mixed with
// or shadowed by foreign ones. The cost model then picks them by name
// (cost_model.gemm_variant, cost_model.prefill_kernel). Other families have no such choice
// in the cost model and cannot be overlaid.
#include <string>
#include <vector>

#include "calibration/fit/bundle.h"

namespace kvsim {

struct OverlaySource {
  std::string family;  // gemm or prefill_attention
  std::string csv;     // a CSV with the family's required columns (bundle_required_columns())
};

// The families an overlay may extend, with the column that names a variant.
const std::vector<std::pair<std::string, std::string>>& overlay_variant_columns();

// `base` with each source's rows appended to its family's table (columns matched by name;
// base columns the source lacks are left empty, source columns the base lacks are dropped).
// meta.json gains "overlays": one entry per source with its path, family, row count, variants,
// dropped columns and, when `<csv without .csv>.meta.json` exists, that file's content.
// Throws InputError naming the source file, line and field on any bad row.
Bundle with_overlay(const Bundle& base, const std::vector<OverlaySource>& sources);

// Writes `overlay` (built from the bundle in `base_dir`) as a bundle directory `out_dir`: the
// base directory's other files (samples/, run.log, checks.csv, ...) are copied, the extended
// tables, meta.json and a fresh fit_report.json written. The directory is built beside
// `out_dir` and renamed into place; an existing `out_dir` is an error unless `replace`, and is
// only removed once the new one is complete.
void write_overlay_bundle(const Bundle& overlay, const std::string& base_dir, const std::string& out_dir, bool replace);

}  // namespace kvsim
