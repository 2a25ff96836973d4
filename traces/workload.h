#pragma once
// Workloads yield requests in non-decreasing arrival order, one at a time, so memory stays
// flat however many requests a run has.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/config_reader.h"
#include "sim/core/registry.h"
#include "sim/core/rng.h"
#include "traces/request_spec.h"

namespace kvsim {

// A request generator for one run: yields requests in non-decreasing arrival order, one at a
// time, so memory stays flat however many requests a run has. Made by WorkloadSpec::start.
class Workload {
 public:
  virtual ~Workload() = default;
  // Next request, or nullopt when exhausted. Contract: arrivals never decrease.
  virtual std::optional<RequestSpec> next() = 0;
};

// A decoded `workload:` section: immutable and checked once when the scenario loads (a trace
// file is read through once, there). Each run starts its own generator from it, so a scenario
// can be run many times (sweeps, repetitions) without decoding or validating it again.
class WorkloadSpec {
 public:
  virtual ~WorkloadSpec() = default;
  // A fresh generator drawing from `rng`'s workload streams.
  virtual std::unique_ptr<Workload> start(const RngStreams& rng) const = 0;
  virtual std::string describe() const = 0;
  // Largest prompt this workload can produce, and where it comes from (for the
  // "prompt longer than the model's context" check).
  virtual std::int32_t max_prompt_tokens() const = 0;
  virtual std::string max_prompt_origin() const = 0;
  // Requests it will produce, if known up front (for progress and checks); 0 if unknown.
  virtual std::int64_t size_hint() const = 0;
  // Compression methods named per request (trace column `compression`), in the order
  // RequestSpec::method indexes them. Empty for synthetic workloads.
  virtual const std::vector<std::string>& method_names() const {
    static const std::vector<std::string> none;
    return none;
  }
};

// Inter-arrival gaps.
class ArrivalProcess {
 public:
  virtual ~ArrivalProcess() = default;
  virtual double next_gap_s(Rng& rng) const = 0;
  virtual std::string describe() const = 0;
};

std::unique_ptr<ArrivalProcess> make_poisson_arrivals(double rate_per_s);
// Gamma inter-arrival gaps with the given rate and coefficient of variation (cv > 1 is
// burstier than Poisson, cv = 1 is Poisson, cv < 1 smoother).
std::unique_ptr<ArrivalProcess> make_gamma_arrivals(double rate_per_s, double cv);
std::unique_ptr<ArrivalProcess> make_constant_arrivals(double rate_per_s);
std::unique_ptr<ArrivalProcess> make_all_at_once_arrivals();
// The arrival processes by `workload.arrival.kind` (one entry each; factories read the section).
using ArrivalRegistry = Registry<std::unique_ptr<ArrivalProcess>(ConfigReader&)>;
const ArrivalRegistry& arrival_registry();
std::vector<std::string> arrival_kinds();

// Decodes the `workload:` section (errors go to the reader's list; nullptr when there were any).
// Relative paths resolve against base_dir first.
std::shared_ptr<const WorkloadSpec> decode_workload(ConfigReader r, const std::string& base_dir);

}  // namespace kvsim
