#include "models/parallel/collectives.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "sim/core/csv.h"
#include "sim/core/error.h"

namespace kvsim {

RingCollectives::RingCollectives(double bytes_per_ns, double hop_latency_ns) : bw_(bytes_per_ns), hop_ns_(hop_latency_ns) {
  if (!(bw_ > 0)) throw InputError("collectives: link bandwidth must be > 0");
}

Duration RingCollectives::all_reduce_ns(double bytes, int gpus) const {
  if (gpus <= 1 || bytes <= 0) return 0;
  const double t = gpus;
  return cost_ns(2.0 * (t - 1) * hop_ns_ + 2.0 * (t - 1) / t * bytes / bw_);
}

Duration RingCollectives::all_gather_ns(double bytes, int gpus) const {
  if (gpus <= 1 || bytes <= 0) return 0;
  const double t = gpus;
  return cost_ns((t - 1) * hop_ns_ + (t - 1) / t * bytes / bw_);
}

Duration RingCollectives::send_ns(double bytes) const {
  if (bytes <= 0) return 0;
  return cost_ns(hop_ns_ + bytes / bw_);
}

std::string RingCollectives::describe() const {
  std::ostringstream os;
  os << "ring model (" << bw_ << " GB/s per direction achieved, " << hop_ns_ / 1e3 << " us per hop)";
  return os.str();
}

TableCollectives::TableCollectives(PiecewiseLogLog all_reduce_us, int gpus, std::string source,
                                   RingCollectives fallback)
    : TableCollectives(CollectiveTables{std::move(all_reduce_us), std::nullopt, std::nullopt, std::move(source)}, gpus,
                       fallback) {}

TableCollectives::TableCollectives(CollectiveTables tables, int gpus, RingCollectives fallback)
    : t_(std::move(tables)), gpus_(gpus), ring_(fallback) {}

Duration TableCollectives::all_reduce_ns(double bytes, int gpus) const {
  if (gpus <= 1 || bytes <= 0) return 0;
  if (gpus != gpus_ || !t_.all_reduce) return ring_.all_reduce_ns(bytes, gpus);
  return cost_ns(t_.all_reduce->eval(bytes) * 1e3);
}

Duration TableCollectives::all_gather_ns(double bytes, int gpus) const {
  if (gpus <= 1 || bytes <= 0) return 0;
  if (gpus != gpus_) return ring_.all_gather_ns(bytes, gpus);
  if (t_.all_gather) return cost_ns(t_.all_gather->eval(bytes) * 1e3);
  if (t_.all_reduce) return cost_ns(t_.all_reduce->eval(bytes) * 1e3 / 2.0);
  return ring_.all_gather_ns(bytes, gpus);
}

Duration TableCollectives::send_ns(double bytes) const {
  if (bytes <= 0) return 0;
  if (t_.send) return cost_ns(t_.send->eval(bytes) * 1e3);
  return ring_.send_ns(bytes);
}

std::string TableCollectives::describe() const {
  std::string what;
  if (t_.all_reduce) what += "all-reduce";
  if (t_.all_gather) what += std::string(what.empty() ? "" : ", ") + "all-gather";
  if (t_.send) what += std::string(what.empty() ? "" : ", ") + "send";
  return "measured NCCL " + what + " (" + t_.source + "; " + std::to_string(gpus_) + " GPUs); otherwise " +
         ring_.describe();
}

PiecewiseLogLog read_allreduce_csv(const std::string& path, int gpus) {
  CsvFile csv(path);
  const int g = csv.column("gpus"), b = csv.column("bytes"), t = csv.column("time_us_median");
  if (g < 0 || b < 0 || t < 0) {
    throw InputError(path + ":" + std::to_string(csv.line()) + ": expected columns gpus,bytes,time_us_median (got " +
                     join(csv.header(), ",") + ")");
  }
  std::map<double, double> points;
  std::vector<std::string> row;
  while (csv.next(row)) {
    const auto gv = parse_int(row[static_cast<std::size_t>(g)]);
    const auto bv = parse_double(row[static_cast<std::size_t>(b)]);
    const auto tv = parse_double(row[static_cast<std::size_t>(t)]);
    if (!gv || !bv || !tv || *gv < 2 || !(*bv > 0) || !(*tv > 0) || !std::isfinite(*bv) || !std::isfinite(*tv)) {
      throw InputError(path + ":" + std::to_string(csv.line()) +
                       ": gpus must be an integer >= 2, bytes and time_us_median numbers > 0");
    }
    if (*gv != gpus) continue;
    if (points.count(*bv)) throw InputError(path + ":" + std::to_string(csv.line()) + ": duplicate message size");
    points[*bv] = *tv;
  }
  if (points.empty()) throw InputError(path + ": no rows for " + std::to_string(gpus) + " GPUs");
  PiecewiseLogLog out;
  for (const auto& [x, y] : points) {
    out.x.push_back(x);
    out.t_us.push_back(y);
  }
  return out;
}

CollectiveTables find_collective_tables(const std::vector<std::string>& roots, const std::string& gpu_name, int tensor) {
  namespace fs = std::filesystem;
  CollectiveTables t;
  std::vector<std::string> used;
  for (const auto& root : roots) {
    // The first root holding <gpu>-x<gpus>/nccl/<file> fills `table` with its rows for `rows_gpus`.
    auto take = [&](std::optional<PiecewiseLogLog>& table, int gpus, const char* file, int rows_gpus) {
      // kvsim's own NCCL runs first, then imported public profiles (calibration/data/public).
      std::string rel = gpu_name + "-x" + std::to_string(gpus) + "/nccl/" + file;
      if (!fs::exists(fs::path(root) / rel)) rel = "public/" + rel;
      if (table || !fs::exists(fs::path(root) / rel)) return;
      table = read_allreduce_csv((fs::path(root) / rel).string(), rows_gpus);
      used.push_back(rel);
    };
    if (tensor > 1) {
      take(t.all_reduce, tensor, "allreduce.csv", tensor);
      take(t.all_gather, tensor, "allgather.csv", tensor);
    }
    for (int n = 2; n <= 8; ++n) take(t.send, n, "sendrecv.csv", 2);
  }
  for (std::size_t i = 0; i < used.size(); ++i) t.source += (i ? ", " : "") + used[i];
  return t;
}

RingCollectives ring_collectives(const ParallelismSpec& p, const GpuSpec& gpu) {
  return RingCollectives(p.link_bytes_per_ns(gpu), p.hop_latency_us * 1e3);
}

}  // namespace kvsim
