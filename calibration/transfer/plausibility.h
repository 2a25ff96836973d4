#pragma once
// Physical plausibility of a measured bundle (issue #16 item 6): no timed kernel is faster than
// the GPU's datasheet allows (its FLOPs over the dense tensor peak, its DRAM bytes beyond the L2's
// size over the HBM bandwidth), none is absurdly slower than that bound, and times grow with the
// work where the physics says they must (a GEMM with more rows, a decode over more sequences or a longer
// context, a longer prefill, more elementwise rows). `kvsim calibrate check` and the transfer
// loader run it; docs/calibration.md ("Plausibility") gives the limits and why.
#include <string>
#include <vector>

#include "calibration/fit/bundle.h"
#include "calibration/transfer/op_sample.h"
#include "models/spec/gpu_spec.h"

namespace kvsim {

struct PlausibilityLimits {
  // A measured time may undercut the datasheet bound by this fraction: the catalog's figures
  // are rounded and boost clocks vary by a few per cent; anything beyond is a wrong row.
  double faster_than_bound = 0.05;
  // A kernel slower than this multiple of its bound, and slower than `slow_floor_us`, is not a
  // kernel doing that work (launch-bound small kernels are far above their bound, so the floor).
  double slower_than_bound = 1000.0;
  double slow_floor_us = 1000.0;
  // A larger workload of the same kernel may be faster than a smaller one by this fraction:
  // cuBLAS picks its kernel per shape, and Vidur's A100/A800/H100 tables show a larger m running
  // up to 32 % faster (e.g. 54 us at m = 152 after 79 us at m = 136); beyond half, the table is
  // not monotone. Drops within `resolution_us` are ignored (Vidur rounds its times to 1 us).
  double monotone_drop = 0.5;
  double resolution_us = 2.0;
};

struct PlausibilityProblem {
  std::string where;    // path:line of the row
  std::string message;  // what is wrong, with the numbers
};

// Every problem of the bundle's GPU-side tables against `gpu`'s datasheet figures, in file order.
std::vector<PlausibilityProblem> plausibility_problems(const Bundle& b, const GpuSpec& gpu,
                                                       const PlausibilityLimits& limits = {});
// The same over samples already read from `b` (samples_from_bundle; the transfer loader has them).
std::vector<PlausibilityProblem> plausibility_problems(const Bundle& b, const std::vector<OpSample>& samples,
                                                       const GpuSpec& gpu, const PlausibilityLimits& limits = {});

// Whether meta.json's model_shape carries every dimension the FLOP and byte counts need
// (shard_shape_of reads it without an error).
bool has_shard_dimensions(const Bundle& b);

// Throws InputError naming the first problem's file:line (and how many more there are).
void require_plausible(const Bundle& b, const GpuSpec& gpu);
void require_plausible(const Bundle& b, const std::vector<OpSample>& samples, const GpuSpec& gpu);

// Smallest measured / bound ratio over the bundle (for the docs' table of margins).
double min_time_over_bound(const Bundle& b, const GpuSpec& gpu);

}  // namespace kvsim
