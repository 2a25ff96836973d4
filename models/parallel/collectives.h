#pragma once
// Costs of the collectives a parallel replica runs: all-reduce and all-gather among the T
// GPUs of a tensor-parallel group, and point-to-point sends between pipeline stages (and
// between disaggregated replicas). Two sources behind one interface: a ring model over
// the link bandwidth (closed form) and a measured NCCL all-reduce table.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/cost/calibrated_costs.h"
#include "models/parallel/parallelism.h"
#include "sim/core/time.h"

namespace kvsim {

class CollectiveModel {
 public:
  virtual ~CollectiveModel() = default;
  // All-reduce of `bytes` (each GPU's buffer) among `gpus` GPUs; 0 for one GPU.
  virtual Duration all_reduce_ns(double bytes, int gpus) const = 0;
  // All-gather producing `bytes` in total on every GPU.
  virtual Duration all_gather_ns(double bytes, int gpus) const = 0;
  // One point-to-point transfer of `bytes` over one link.
  virtual Duration send_ns(double bytes) const = 0;
  virtual std::string describe() const = 0;
};

// Ring algorithms with bandwidth B (bytes/ns) and hop latency a:
//   all-reduce  2 (T-1) a + 2 (T-1)/T * bytes / B
//   all-gather    (T-1) a +   (T-1)/T * bytes / B
//   send                a +             bytes / B
class RingCollectives final : public CollectiveModel {
 public:
  RingCollectives(double bytes_per_ns, double hop_latency_ns);
  Duration all_reduce_ns(double bytes, int gpus) const override;
  Duration all_gather_ns(double bytes, int gpus) const override;
  Duration send_ns(double bytes) const override;
  std::string describe() const override;

 private:
  double bw_;
  double hop_ns_;
};

// A measured all-reduce table for exactly `gpus` GPUs (interpolated in log-log space, flat
// below the smallest message, proportional above the largest). All-gather is taken as half
// an all-reduce of the same bytes (a ring all-reduce is a reduce-scatter plus an
// all-gather); sends and other GPU counts use the ring model.
class TableCollectives final : public CollectiveModel {
 public:
  TableCollectives(PiecewiseLogLog all_reduce_us, int gpus, std::string source, RingCollectives fallback);
  Duration all_reduce_ns(double bytes, int gpus) const override;
  Duration all_gather_ns(double bytes, int gpus) const override;
  Duration send_ns(double bytes) const override;
  std::string describe() const override;

 private:
  PiecewiseLogLog table_;
  int gpus_;
  std::string source_;
  RingCollectives ring_;
};

// Reads calibration/nccl's allreduce.csv (columns gpus, bytes, time_us_median): the rows
// for `gpus` GPUs. Throws InputError naming the file and line when malformed or when it
// has no row for that GPU count.
PiecewiseLogLog read_allreduce_csv(const std::string& path, int gpus);

// The installed all-reduce table for `tensor` x `gpu_name` under any of `roots`
// (<root>/<gpu>-x<T>/nccl/allreduce.csv), or "" when there is none.
std::string find_allreduce_csv(const std::vector<std::string>& roots, const std::string& gpu_name, int tensor);

// The ring model of `p` on `gpu`.
RingCollectives ring_collectives(const ParallelismSpec& p, const GpuSpec& gpu);

}  // namespace kvsim
