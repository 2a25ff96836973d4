#pragma once
// Streaming writers for --out DIR. Each writes to a temporary file and renames it into
// place only when the run succeeds (commit()), so a failed run never leaves a half-written
// file or destroys the previous one.
#include <memory>
#include <string>

#include "sim/core/atomic_file.h"
#include "sim/serving/metrics_sink.h"

namespace kvsim {

// requests.csv: one row per finished or rejected request.
class RequestCsvWriter final : public MetricsSink {
 public:
  explicit RequestCsvWriter(const std::string& path);
  void on_finish(const RequestRecord& r) override;
  void on_reject(const RequestSpec& r, SimTime now, const std::string& reason) override;
  void commit() { file_.commit(); }

 private:
  AtomicFile file_;
};

// timeseries.csv: replica state at every sample instant.
class TimeseriesWriter final : public MetricsSink {
 public:
  explicit TimeseriesWriter(const std::string& path);
  void on_sample(const SampleRecord& s) override;
  void commit() { file_.commit(); }

 private:
  AtomicFile file_;
};

// trace.json: Chrome/Perfetto trace (chrome://tracing, ui.perfetto.dev). One track per
// replica; steps are spans with batch and KV arguments; preemptions are instant events.
class ChromeTraceWriter final : public MetricsSink {
 public:
  ChromeTraceWriter(const std::string& path, std::int64_t max_events);
  void on_step(const StepRecord& s) override;
  void on_preempt(std::int64_t id, PreemptKind kind, SimTime now, std::int64_t bytes) override;
  void commit();

 private:
  bool room();
  AtomicFile file_;
  std::int64_t max_events_;
  std::int64_t events_ = 0;
  bool truncated_ = false;
};

}  // namespace kvsim
