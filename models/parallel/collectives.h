#pragma once
// Costs of the collectives a parallel replica runs: all-reduce and all-gather among the T
// GPUs of a tensor-parallel group, and point-to-point sends between pipeline stages (and
// between disaggregated replicas). Two sources behind one interface: a ring model over
// the link bandwidth (closed form) and a measured NCCL all-reduce table.
#include <cstdint>
#include <memory>
#include <optional>
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

// Measured NCCL tables (interpolated in log-log space, flat below the smallest message,
// proportional above the largest): all-reduce and, when measured, all-gather for exactly `gpus`
// GPUs, and a point-to-point send between two GPUs. Without an all-gather table, all-gather is
// half an all-reduce of the same bytes (a ring all-reduce is a reduce-scatter plus an
// all-gather); without a send table, and for other GPU counts, the ring model applies.
struct CollectiveTables {
  std::optional<PiecewiseLogLog> all_reduce;  // at `gpus` GPUs
  std::optional<PiecewiseLogLog> all_gather;  // at `gpus` GPUs; bytes = the gathered output
  std::optional<PiecewiseLogLog> send;        // GPU 0 -> GPU 1
  std::string source;                         // for reports
  bool any() const { return all_reduce || all_gather || send; }
};

class TableCollectives final : public CollectiveModel {
 public:
  TableCollectives(PiecewiseLogLog all_reduce_us, int gpus, std::string source, RingCollectives fallback);
  TableCollectives(CollectiveTables tables, int gpus, RingCollectives fallback);
  Duration all_reduce_ns(double bytes, int gpus) const override;
  Duration all_gather_ns(double bytes, int gpus) const override;
  Duration send_ns(double bytes) const override;
  std::string describe() const override;

 private:
  CollectiveTables t_;
  int gpus_;
  RingCollectives ring_;
};

// Reads a kvsim-nccl-bench table (allreduce.csv, allgather.csv or sendrecv.csv: columns gpus,
// bytes, time_us_median): the rows for `gpus` GPUs. Throws InputError naming the file and
// line when malformed or when it has no row for that GPU count.
PiecewiseLogLog read_allreduce_csv(const std::string& path, int gpus);

// The installed tables for `gpu_name` with `tensor`-way TP under any of `roots`
// (<root>/<gpu>-x<T>/nccl/{allreduce,allgather}.csv, and a send table from the first
// <root>/<gpu>-x<N>/nccl/sendrecv.csv, N >= 2). Empty when none is installed.
CollectiveTables find_collective_tables(const std::vector<std::string>& roots, const std::string& gpu_name, int tensor);

// The ring model of `p` on `gpu`.
RingCollectives ring_collectives(const ParallelismSpec& p, const GpuSpec& gpu);

}  // namespace kvsim
