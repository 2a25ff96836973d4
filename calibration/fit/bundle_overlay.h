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
// Every row is checked (numbers, sizes >= 1, cached_tokens >= 0, a non-empty variant that
// neither the base nor an earlier source has), and every new GEMM variant must cover qkv, o,
// gate_up, down and lm_head. meta.json gains "overlay_base" (the base's absolute path) and
// "overlays": one entry per source with its absolute path, family, row count, variants,
// dropped columns and, when `<name>.meta.json` sits beside `<name>.csv`, that file's content.
// Throws InputError naming the source file, line and field.
Bundle with_overlay(const Bundle& base, const std::vector<OverlaySource>& sources);

// Writes `overlay` (built from the bundle in `base_dir`) as a bundle directory `out_dir`: the
// base directory's files (samples/, run.log, checks.csv, the other tables) are copied, the
// extended tables, meta.json and a fresh fit_report.json written. `out_dir` may not be the
// base, inside it or around it, and its parent must exist (InputError). The directory is built
// beside `out_dir` and renamed into place; an existing `out_dir` is an error unless `replace`,
// is replaced only if it is a bundle (holds meta.json), and is moved back if the swap fails.
// Write failures throw std::runtime_error (exit 1, like any output that cannot be written).
void write_overlay_bundle(const Bundle& overlay, const std::string& base_dir, const std::string& out_dir, bool replace);

}  // namespace kvsim
